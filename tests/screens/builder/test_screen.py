"""The model builder against a real engine: live checks, architecture switch, TOML save/load,
starting a run that the monitor then shows, and the saved file running from the CLI."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Input, Select, Tree

from engine import protocol as P
from engine.training.service import RunConfig
from screens.builder import BuilderScreen
from screens.training import TrainingScreen
from tests.helpers.cli import wb
from tests.helpers.engine import ROOT, RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.widgets.path_dialog import PathDialog


async def open_builder(pilot, app: WorkbenchApp) -> BuilderScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, BuilderScreen))
    screen = app.screen
    assert isinstance(screen, BuilderScreen)
    await wait_for(pilot, lambda: screen.form.plan is not None, timeout=90)
    return screen


async def settle(pilot, screen: BuilderScreen) -> None:  # type: ignore[no-untyped-def]
    """Wait until the engine has judged the form as it is now."""
    await pilot.pause(0.05)
    await wait_for(pilot, lambda: screen._caught_up.is_set(), timeout=90)
    await pilot.pause(0.05)


async def retype(pilot, screen: BuilderScreen, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    box = screen.query_one("#f-" + key.replace(".", "--"), Input)
    box.focus()
    box.value = ""
    await pilot.press(*[{"-": "minus", ".": "full_stop", " ": "space"}.get(c, c) for c in text])
    await settle(pilot, screen)


def problem(app: WorkbenchApp, key: str) -> str:
    return shown(app, "#p-f-" + key.replace(".", "--")).strip()


async def test_live_checks_switch_save_and_load(engine: RunningEngine, tmp_path: Path) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await settle(pilot, screen)
        assert screen.form.plan is not None and screen.form.plan.problems == []
        summary = shown(app, "#bd-summary")
        assert "1,953,538" in summary and "trainable" in summary and "memory a step" in summary
        assert screen.query_one("#bd-layers", Tree).root.children  # the layer tree

        await pilot.press("e")  # into the form, from the keyboard
        assert screen.focused is not None and screen.focused.id == "f-model--arch"

        await retype(pilot, screen, "model.embed_dim", "6x")  # cannot be read: said here
        assert "not a whole number" in problem(app, "model.embed_dim")
        await retype(pilot, screen, "model.embed_dim", "-3")  # read, but cannot work: engine
        assert "positive integer" in problem(app, "model.embed_dim")
        assert "1 field(s) to fix" in shown(app, "#bd-summary")
        await pilot.press("ctrl+t")  # refused: nothing starts
        await pilot.pause(0.3)
        assert (await app.link.ask(P.RunList())).runs == []
        await retype(pilot, screen, "model.embed_dim", "32")
        assert problem(app, "model.embed_dim") == ""
        assert screen.form.plan is not None and screen.form.plan.problems == []

        # another architecture: its own fields; a rule between two fields, blamed on one
        screen.query_one("#f-model--arch", Select).value = "transformer"
        await wait_for(pilot, lambda: bool(screen.query("#f-model--d_model")))
        await settle(pilot, screen)
        assert screen.form.values["model.arch"] == "transformer"
        await retype(pilot, screen, "model.num_heads", "5")
        assert "divisible by num_heads" in problem(app, "model.num_heads")
        await retype(pilot, screen, "model.num_heads", "8")
        assert screen.form.plan is not None and screen.form.plan.problems == []
        await retype(pilot, screen, "train.lr", "3e-4")
        precision = screen.query_one("#f-train--precision", Select)
        assert {str(v) for _, v in precision._options} == {"fp32", "bf16"}  # CPU: no fp16

        # a pretrained model takes its own tokenizer when chosen; others keep the one picked
        screen.form.values["data.tokenizer"] = "other"
        screen.query_one("#f-model--arch", Select).value = "bert-finetune"
        await wait_for(pilot, lambda: bool(screen.query("#f-model--trainable_layers")))
        await settle(pilot, screen)
        assert screen.form.values["data.tokenizer"] == "minilm-wordpiece"
        assert (
            screen.form.plan is not None
            and screen.form.plan.problems == []
            and screen.form.plan.frozen == 0
        )
        screen.query_one("#f-model--arch", Select).value = "transformer"
        await wait_for(pilot, lambda: bool(screen.query("#f-model--d_model")))
        await settle(pilot, screen)

        # save: the dialog keeps the form; the file is what `workbench train` reads
        saved = tmp_path / "cfg" / "mine.toml"
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
        app.screen.query_one(Input).value = str(saved)
        await pilot.press("enter")
        await wait_for(pilot, lambda: saved.exists())
        cfg = RunConfig.from_toml(saved.read_text())
        assert cfg.arch == "transformer" and cfg.model["num_heads"] == 8
        assert cfg.train["lr"] == 3e-4 and cfg.dataset == "rotten-tomatoes"

        # load: a missing file is said in the dialog; an example fills the form
        await wait_for(pilot, lambda: isinstance(app.screen, BuilderScreen))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
        dialog = app.screen
        dialog.query_one(Input).value = str(tmp_path / "nothing.toml")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "cannot read" in shown(app, "#path-message"))
        dialog.query_one(Input).value = str(ROOT / "examples" / "cnn-rotten-tomatoes.toml")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BuilderScreen))
        await wait_for(pilot, lambda: bool(screen.query("#f-model--kernel_sizes")))
        await settle(pilot, screen)
        assert screen.query_one("#f-model--kernel_sizes", Input).value == "3, 4, 5"
        assert screen.form.values["train.lr"] == 2e-3 and screen.form.values["model.arch"] == "cnn"
        assert screen.form.plan is not None and screen.form.plan.problems == []


async def test_start_a_run_from_the_builder(engine: RunningEngine, tmp_path: Path) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        values = {
            "name": "built-here",
            "data.dataset": "reuters-r8",
            "data.validation_split": "test",
            "data.max_length": 48,
            "model.arch": "embedding-bag",
            "model.embed_dim": 16,
            "train.lr": 1e-2,
            "train.epochs": 1,
            "train.max_steps": 12,
            "train.eval_every": 6,
            "train.metric": "macro_f1",
        }
        await screen.apply(values)
        await settle(pilot, screen)
        assert screen.form.plan is not None and screen.form.plan.problems == [], screen.form.plan
        assert screen.form.values["data.train_split"] == "train"
        saved = tmp_path / "built.toml"
        saved.write_text(screen.form.toml())
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen), timeout=30)
        monitor = app.screen
        assert isinstance(monitor, TrainingScreen)
        await wait_for(pilot, lambda: monitor.selected is not None)
        run_id = monitor.selected
        assert run_id is not None
        await wait_for(pilot, lambda: monitor.runs.get(run_id) is not None)
        assert monitor.runs[run_id].name == "built-here"
        await wait_for(pilot, lambda: monitor.runs[run_id].state == "finished", timeout=120)

    # the same TOML runs from the command line against the same engine
    out = wb(engine, "train", str(saved), "--follow", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert tomllib.loads(saved.read_text())["train"]["max_steps"] == 12
