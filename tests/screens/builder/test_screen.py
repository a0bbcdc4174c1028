"""The model builder against a real engine: live checks, architecture switch, TOML save/load,
starting a run that the monitor then shows, and the saved file running from the CLI; the
keyboard model (command mode on the field list, explicit editing, / to jump to a field), hidden
settings, warnings that do not stop a run, and the form as it was left after a restart."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Input, Select, Tree

from engine import protocol as P
from engine.training.service import RunConfig
from screens.builder import BuilderScreen
from screens.builder.form import FieldList
from screens.training import TrainingScreen
from tests.helpers.cli import wb
from tests.helpers.engine import ROOT, RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.footer import footer_text
from workbench.widgets.help import HelpScreen
from workbench.widgets.path_dialog import PathDialog

KEYS = {"-": "minus", ".": "full_stop", " ": "space", "/": "slash", ",": "comma", "_": "underscore"}


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


def keys(text: str) -> list[str]:
    return [KEYS.get(c, c) for c in text]


async def retype(pilot, screen: BuilderScreen, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Edit the field as a person does: enter on it (text mode), type, esc (command mode)."""
    assert screen.pane.edit(key) == "text", key
    box = screen.query_one("#f-" + key.replace(".", "--"), Input)
    box.value = ""
    await pilot.press(*keys(text))
    await pilot.press("escape")
    assert screen.focused is screen.fields
    await settle(pilot, screen)


async def jump(pilot, screen: BuilderScreen, query: str) -> None:  # type: ignore[no-untyped-def]
    """/ part of a field's name, enter: the cursor is on it, in command mode."""
    await pilot.press("slash", *keys(query), "enter")
    await pilot.pause()
    assert screen.focused is screen.fields


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

        # command mode on the field list; e edits the field under the cursor
        assert screen.focused is screen.fields and screen.fields.cursor == "name"
        await pilot.press("e")
        assert screen.focused is not None and screen.focused.id == "f-name"
        assert "TEXT name" in screen.mode_label()
        await pilot.press("escape")
        assert screen.focused is screen.fields and screen.mode_label() == "COMMAND"

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
            "train.epochs": 10_000,  # far from usual: a warning, and max_steps caps it
            "train.max_steps": 12,
            "train.eval_every": 6,
            "train.metric": "macro_f1",
        }
        await screen.apply(values)
        await settle(pilot, screen)
        assert screen.form.plan is not None and screen.form.plan.problems == [], screen.form.plan
        assert screen.form.values["data.train_split"] == "train"
        assert screen.form.values["data.test_split"] is None  # its test split validates
        assert "10,000 is above the usual range" in screen.form.warnings()["train.epochs"]
        assert "1 warning" in shown(app, "#bd-summary")
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


async def test_the_keyboard_model_and_every_footer_key(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await settle(pilot, screen)
        fields = screen.fields
        # command mode on the field list: j/k/g/G move its cursor at once
        assert screen.focused is fields and fields.cursor == "name"
        await pilot.press("j", "j")
        assert fields.cursor == "data.tokenizer"
        await pilot.press("k")
        assert fields.cursor == "data.dataset"
        await pilot.press("G")
        assert fields.cursor == fields.keys()[-1] and fields.cursor.startswith("train.")
        await pilot.press("g")
        assert fields.cursor == "name"
        for b in [*BuilderScreen.BINDINGS, *FieldList.BINDINGS]:
            assert not set(b.key.split(",")) & set("jkgG"), b  # reserved for moving
        footer = footer_text(screen)
        assert footer.startswith("? help")
        for key in ("e Edit", "/ Find field", "^t Train", "^s Save", "^o Load"):
            assert key in footer, footer
        assert footer.rstrip().endswith("…")  # what does not fit is marked (and in ?)

        # enter on a list opens it; j moves in it; esc closes it, nothing chosen
        await pilot.press("j", "enter")
        await pilot.pause()
        assert type(screen.focused).__name__ == "SelectOverlay"
        assert "e Edit" not in footer_text(screen)  # letters are the list's while it is open
        await pilot.press("j", "escape")
        await pilot.pause()
        assert screen.focused is fields and screen.form.values["data.dataset"] == "rotten-tomatoes"

        # / finds a field by part of its name; esc goes back, enter jumps
        await pilot.press("slash", *keys("momen"))
        assert "TEXT" in screen.mode_label()
        assert "hidden: applies only when optimizer is sgd" in shown(app, "#bd-help")
        await pilot.press("escape")
        assert screen.focused is fields and fields.cursor == "data.dataset"
        assert not screen.query_one("#bd-find").display
        await jump(pilot, screen, "optim")
        assert fields.cursor == "train.optimizer"
        assert not screen.query("#f-train--momentum").first().parent.display  # AdamW: hidden
        # choose SGD from the keyboard: momentum shows and is written
        await pilot.press("enter", "j", "enter")
        await settle(pilot, screen)
        assert screen.form.values["train.optimizer"] == "sgd" and screen.focused is fields
        assert screen.query("#f-train--momentum").first().parent.display
        assert screen.form.config()["train"]["momentum"] == 0.9
        await jump(pilot, screen, "mom")
        assert fields.cursor == "train.momentum"
        await jump(pilot, screen, "optim")
        await pilot.press("enter", "k", "enter")  # back to AdamW: hidden, not written
        await settle(pilot, screen)
        assert screen.form.values["train.optimizer"] == "adamw"
        assert (
            fields.cursor == "train.optimizer" and "momentum" not in screen.form.config()["train"]
        )

        # a value far from usual: warned beside the field and in the summary, not refused
        await jump(pilot, screen, "lr")
        await pilot.press("e")
        assert screen.focused is not None and screen.focused.id == "f-train--lr"
        screen.focused.value = ""  # type: ignore[attr-defined]
        await pilot.press("5", "escape")
        await settle(pilot, screen)
        assert screen.form.plan is not None and screen.form.plan.problems == []
        beside = problem(app, "train.lr")
        assert beside.startswith("⚠ 5 is above the usual range for AdamW") and "1e-06" in beside
        assert "1 warning" in shown(app, "#bd-summary") and "lr: 5 is above" in shown(
            app, "#bd-summary"
        )
        await pilot.press("g", "n")  # n: the next field with a problem or a warning
        assert fields.cursor == "train.lr"

        # l: the layer tree (j moves there too), esc back to the fields
        await pilot.press("l")
        tree = screen.query_one("#bd-layers", Tree)
        assert screen.focused is tree
        line = tree.cursor_line
        await pilot.press("j")
        assert tree.cursor_line == line + 1
        await pilot.press("escape")
        assert screen.focused is fields

        # ctrl+n asks first, saying what is lost; n keeps the form, y resets it
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "train.lr = 5" in shown(app, "#confirm-lost")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.form.values["train.lr"] == 5
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.form.values["train.lr"] == 5e-4)
        assert screen.focused is fields

        # ctrl+s / ctrl+o open their dialogs, esc closes them; ? lists every key
        for key in ("ctrl+s", "ctrl+o"):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = " ".join(row[3] for row in app.screen.rows)  # type: ignore[attr-defined]
        for binding in [*BuilderScreen.BINDINGS, *FieldList.BINDINGS]:
            assert binding.id in text, binding.id
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.focused is fields


async def test_the_form_comes_back_as_it_was_left(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_builder(pilot, app)
        screen.query_one("#f-model--arch", Select).value = "transformer"
        await wait_for(pilot, lambda: bool(screen.query("#f-model--d_model")))
        await settle(pilot, screen)  # the form rebuilt for the new architecture
        screen.query_one("#f-data--dataset", Select).value = "reuters-r8"
        await wait_for(pilot, lambda: screen.form.values["data.dataset"] == "reuters-r8")
        await settle(pilot, screen)
        assert screen.form.values["data.validation_split"] == "test"  # reuters has no other
        await retype(pilot, screen, "model.d_model", "96")
        await retype(pilot, screen, "train.epochs", "7x")  # cannot be read: kept as typed
        await jump(pilot, screen, "heads")
        assert screen.fields.cursor == "model.num_heads"
        left = dict(screen.form.values)
        footer = footer_text(screen)
        assert "…" not in footer and "^n Defaults" in footer  # the width is used at 120

    again = WorkbenchApp(engine.home)  # the app started afresh on the same engine
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: again.connected)
        await pilot.press("4")
        screen = again.screen
        assert isinstance(screen, BuilderScreen)
        await wait_for(pilot, lambda: bool(screen.query("#f-model--d_model")))
        await settle(pilot, screen)  # no plan: a field cannot be read
        form = screen.form
        assert form.values["model.arch"] == "transformer" and form.values["model.d_model"] == 96
        assert form.values["data.dataset"] == "reuters-r8"
        assert form.values["data.validation_split"] == "test"
        assert {k: form.values[k] for k in left if k in form.values} == {
            k: v for k, v in left.items() if k in form.values
        }
        assert screen.query_one("#f-train--epochs", Input).value == "7x"
        assert "not a whole number" in problem(again, "train.epochs")
        assert screen.fields.cursor == "model.num_heads"
        assert screen.focused is screen.fields  # command mode, on the cursor's field
