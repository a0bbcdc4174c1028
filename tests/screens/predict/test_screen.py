"""The prediction console against a real engine with two trained runs: it opens in command mode
on the runs, predicts what is typed (live, and with an explanation on enter), equals the CLI's
numbers, compares two models, keeps and re-runs the history, predicts a split as a job and
browses its mistakes, and comes back as it was after a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList

from screens.predict import PredictScreen
from screens.predict.model import ConsoleOptions, History, predictable
from tests.helpers.cli import wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import TINY
from tests.helpers.screens import engine_with_runs, fresh_app, shown, wait_for
from workbench.app import WorkbenchApp
from workbench.viewstate import view_state_path
from workbench.widgets.base import NAV_KEYS
from workbench.widgets.footer import footer_text

TEXT = "oil prices rose as crude output fell"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """An engine with two finished classifier runs of Reuters R8."""
    tmp = tmp_path_factory.mktemp("console")

    def runs(_engine: RunningEngine) -> list[Path]:
        out = []
        for name, steps in (("first-bag", 30), ("second-bag", 10)):
            config = tmp / f"{name}.toml"
            config.write_text(TINY.format(steps=steps, every=10).replace("tiny-bag", name))
            out.append(config)
        return out

    with engine_with_runs(tmp, runs) as engine:
        yield engine


async def open_console(app: WorkbenchApp, pilot) -> PredictScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("6")
    await wait_for(pilot, lambda: isinstance(app.screen, PredictScreen))
    screen = app.screen
    assert isinstance(screen, PredictScreen)
    await wait_for(pilot, lambda: screen.predictions > 0)
    return screen


def test_no_screen_key_is_a_list_key() -> None:
    keys = {k for b in PredictScreen.BINDINGS for k in b.key.split(",")}
    assert not keys & NAV_KEYS


async def test_the_console_predicts_typed_text_as_the_cli_does(trained: RunningEngine) -> None:
    runs = wb_json(trained, "runs", "list")
    newest = max(runs, key=lambda r: r["created"])
    app = fresh_app(trained)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_console(app, pilot)
        assert screen.focused is screen.query_one("#pr-runs", OptionList)  # command mode
        assert screen.model_a == newest["run_id"]
        await pilot.press("slash")
        box = screen.query_one("#pr-text", Input)
        assert screen.focused is box
        box.value = ""
        before = screen.predictions
        await pilot.press(*TEXT)
        await wait_for(pilot, lambda: screen.predictions > before and screen.shown_text == TEXT)
        cli = wb_json(trained, "predict", "--run", newest["run_id"], TEXT)["predictions"][0]
        answer = screen.answers[newest["run_id"]]
        assert not isinstance(answer, str)
        assert answer.predictions[0].probabilities == pytest.approx(cli["probabilities"])
        assert answer.predictions[0].explanation is None  # live typing does not explain
        view = shown(app, "#pr-a")
        assert f"→ {cli['label']}" in view and f"{max(cli['probabilities']):.1%}" in view
        assert "tokens read" in view
        # enter: an explanation (occlusion), the text kept in the history
        await pilot.press("escape")
        assert screen.focused is screen.query_one("#pr-runs", OptionList)
        for _ in range(3):  # off -> ig -> ixg -> occlusion
            await pilot.press("x")
        assert screen.options.method == "occlusion"
        await pilot.press("slash", "enter")
        await wait_for(
            pilot,
            lambda: (
                not isinstance(a := screen.answers.get(newest["run_id"]), str)
                and a is not None
                and a.predictions[0].explanation is not None
            ),
        )
        assert "occlusion for" in shown(app, "#pr-a")
        assert screen.history.texts[0] == TEXT
        await pilot.press("escape", "w")
        assert screen.options.by_word
        footer = footer_text(screen)
        for key in ("Type text", "Model B", "Explain", "Predict"):
            assert key in footer, footer


async def test_two_models_side_by_side(trained: RunningEngine) -> None:
    app = fresh_app(trained)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_console(app, pilot)
        a = screen.model_a
        await pilot.press("j", "b")
        b = screen.model_b
        assert b and b != a
        await wait_for(pilot, lambda: set(screen.answers) == {a, b})
        line = shown(app, "#pr-compare")
        assert "both say" in line or "they disagree" in line
        labels = [screen.answers[m].predictions[0].label for m in (a, b)]  # type: ignore[union-attr]
        assert ("both say" in line) == (labels[0] == labels[1])
        # where they disagree over the test split, as the CLI says
        await pilot.press("a", "d")
        await wait_for(pilot, lambda: screen.disagreement is not None, timeout=120)
        res = screen.disagreement
        assert res is not None and (res.run_a, res.run_b) == (a, b)
        cli = wb_json(trained, "predict", "--run", a, "--against", b, "--split", "test")
        assert (res.rows, res.agreed) == (cli["rows"], cli["agreed"])
        assert "agree on" in shown(app, "#pr-batch-head")
        table = screen.query_one("#pr-mistakes", DataTable)
        assert table.row_count == len(res.disagreements)
        if res.disagreements:
            screen.set_focus(table)
            await pilot.press("enter")
            first = res.disagreements[0]
            await wait_for(pilot, lambda: screen.shown_text == first.text)
            assert "they disagree" in shown(app, "#pr-compare")
        await pilot.press("c")
        await pilot.press("b")  # again on B: B is cleared
        assert screen.model_b == ""


async def test_history_batch_and_restart(trained: RunningEngine, tmp_path: Path) -> None:
    app = fresh_app(trained)
    out = tmp_path / "preds.csv"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_console(app, pilot)
        for text in ("first text", "second text"):
            screen.query_one("#pr-text", Input).value = text
            await pilot.press("slash", "enter", "escape")
        assert screen.history.texts[:2] == ["second text", "first text"]
        await pilot.press("y")
        assert screen.active_tab == "history"
        await pilot.press("j", "enter")  # re-runs "first text"
        await wait_for(pilot, lambda: screen.shown_text == "first text")
        assert screen.active_tab == "result"
        # batch: the run's dataset's test split into a file, scored
        await pilot.press("a")
        assert screen.active_tab == "batch"
        await pilot.press("p")
        dialog_input = app.screen.query_one("#path-input", Input)
        dialog_input.value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.batch is not None, timeout=120)
        assert screen.batch is not None and out.exists()
        cli_rows = out.read_text().splitlines()
        assert len(cli_rows) == screen.batch.rows + 1
        assert "accuracy" in shown(app, "#pr-batch-head")
        table = screen.query_one("#pr-mistakes", DataTable)
        assert table.row_count == len(screen.batch.mistakes) > 0
        mistake = screen.batch.mistakes[0]
        screen.set_focus(table)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.shown_text == mistake.text)
        await pilot.press("x")  # explain: ig, kept for the restart
    app = WorkbenchApp(trained.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_console(app, pilot)
        assert screen.options.method == "ig"
        assert screen.history.texts[0] == mistake.text
    state = json.loads(view_state_path(app.endpoint.describe()).read_text())
    assert state["predict.options"]["method"] == "ig"


def test_options_history_and_filter() -> None:
    options = ConsoleOptions()
    assert [options.cycle_method() for _ in range(5)] == ["ig", "ixg", "occlusion", "attention", ""]
    assert ConsoleOptions.from_state({"method": "nope", "live": False}).method == ""
    assert not ConsoleOptions.from_state({"live": False}).live
    history = History()
    assert history.add("a") and history.add("b") and history.add("a")
    assert history.texts == ["a", "b"] and not history.add("a") and not history.add("  ")
    assert predictable([]) == []
