"""The attack screen against a real engine with a tiny trained classifier (and a features run):
it opens in command mode on the runs, attacks a typed text and shows both texts with the
changes marked and both predictions (and a PGD trace), attacks a split as a job and shows the
summary table with the result's numbers, keeps a result as A beside the next one, exports the
examples in TextAttack's CSV columns, leaves text entry with esc, and shows the engine's words
for bad input."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList

from screens.attack import AttackScreen
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import features_config, three_config, three_splits
from tests.helpers.screens import engine_with_runs, fresh_app, shown, wait_for
from workbench.app import WorkbenchApp
from workbench.attack_report import COLUMNS, summary_rows
from workbench.widgets.base import NAV_KEYS
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.footer import footer_text
from workbench.widgets.path_dialog import PathDialog


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """An engine with a features-logreg run, then (the newest) an embedding-bag run."""
    tmp = tmp_path_factory.mktemp("attack")

    def runs(engine: RunningEngine) -> list[Path]:
        three_splits(engine, tmp)
        return [features_config(tmp), three_config(tmp, epochs=3)]

    with engine_with_runs(tmp, runs) as engine:
        yield engine


async def open_screen(app: WorkbenchApp, pilot) -> AttackScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("7")
    await wait_for(pilot, lambda: isinstance(app.screen, AttackScreen))
    screen = app.screen
    assert isinstance(screen, AttackScreen)
    await wait_for(pilot, lambda: bool(screen.runs and screen.recipes))
    return screen


async def pick_recipe(pilot, screen: AttackScreen, name: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(len(screen.recipes)):
        if screen.options.recipe == name:
            return
        await pilot.press("r")
    assert screen.options.recipe == name


async def set_options(pilot, screen: AttackScreen, line: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("o")
    box = screen.query_one("#at-settings", Input)
    assert screen.focused is box and box.display
    box.value = line
    await pilot.press("enter")
    assert screen.focused is screen.query_one("#at-runs", OptionList)
    assert not box.display


def test_no_screen_key_is_a_list_key() -> None:
    keys = {k for b in AttackScreen.BINDINGS for k in b.key.split(",")}
    assert not keys & NAV_KEYS


async def test_a_typed_text_attacked_shows_both_texts_and_predictions(
    trained: RunningEngine,
) -> None:
    app = fresh_app(trained)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot)
        runs = screen.query_one("#at-runs", OptionList)
        assert screen.focused is runs  # command mode on the run list
        assert screen.run_id == screen.runs[0].run_id and screen.runs[0].arch == "embedding-bag"
        # the keys that need a run show once the runs are in (the footer follows them)
        await wait_for(pilot, lambda: "Attack text" in footer_text(screen))
        footer = footer_text(screen)
        for key in ("Attack text", "Attack split", "Recipe", "Options"):
            assert key in footer, footer
        await pick_recipe(pilot, screen, "charedit")
        # esc leaves the text box at once, nothing attacked
        await pilot.press("slash")
        box = screen.query_one("#at-text", Input)
        assert screen.focused is box and not screen.command_mode()
        await pilot.press("escape")
        assert screen.focused is runs and screen.result is None
        await pilot.press("slash")
        box.value = ""
        await pilot.press(*"a great film number 3", "enter")
        await wait_for(pilot, lambda: screen.result is not None, 120)
        assert screen.focused is runs
        res = screen.result
        assert res is not None and len(res.examples) == 1 and res.recipe == "charedit"
        ex = res.examples[0]
        assert ex.original_text == "a great film number 3" and ex.row == -1
        view = shown(app, "#at-example")
        assert ex.result_type in view and f"· {ex.num_queries:,} queries" in view
        assert f"original  → {ex.original_output}" in view
        assert f"perturbed → {ex.perturbed_output}" in view
        assert f"{max(ex.original_probabilities):.1%}" in view
        assert f"{max(ex.perturbed_probabilities):.1%}" in view
        if ex.changes:  # the changes are marked by more than colour
            first = ex.changes[0]
            assert f"[[{first.old}]]" in view and f"[[{first.new}]]" in view
        # PGD keeps its steps for a typed text: the trace tab shows them
        await pick_recipe(pilot, screen, "pgd")
        await pilot.press("slash", "enter")
        await wait_for(pilot, lambda: screen.result is not res, 120)
        pgd = screen.result
        assert pgd is not None and pgd.recipe == "pgd"
        steps = pgd.examples[0].steps
        assert steps, "a traced PGD attack has steps"
        assert "embedding space:" in shown(app, "#at-example")
        await pilot.press("t")
        trace = screen.query_one("#at-trace", DataTable)
        assert screen.focused is trace and trace.row_count == len(steps)
        assert f"{len(steps)} steps" in shown(app, "#at-trace-head")


async def test_a_split_attacked_as_a_job_shows_the_summary_and_exports_it(
    trained: RunningEngine, tmp_path: Path
) -> None:
    app = fresh_app(trained)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_screen(app, pilot)
        await pick_recipe(pilot, screen, "charedit")
        await set_options(pilot, screen, "n=6 split=test seed=1")
        assert (screen.options.n, screen.options.split) == (6, "test")
        assert "n=6" in shown(app, "#at-opts")
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.result is not None, 180)
        res = screen.result
        assert res is not None and res.summary.examples == len(res.examples) == 6
        assert res.split == "test" and screen.active_tab == "summary"
        table = shown(app, "#at-summary")
        for name, value in summary_rows(res.summary):
            line = next(line for line in table.splitlines() if line.startswith(name))
            assert line.split()[-1] == value, (name, line)
        await pilot.press("v")
        examples = screen.query_one("#at-examples", DataTable)
        assert screen.focused is examples and examples.row_count == 6
        await pilot.press("j", "enter")  # the second example, shown in the example tab
        assert screen.example == 1 and screen.active_tab == "example"
        assert res.examples[1].original_text.split()[0] in shown(app, "#at-example")
        # export: the CSV has TextAttack's columns and one row per example
        out = tmp_path / "log.csv"
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
        app.screen.query_one("#path-input", Input).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AttackScreen))
        with out.open(newline="") as f:
            rows = list(csv.reader(f))
        assert tuple(rows[0]) == COLUMNS and len(rows) == 7
        for row, ex in zip(rows[1:], res.examples, strict=True):
            got = dict(zip(COLUMNS, row, strict=True))
            assert got["perturbed_text"] == ex.perturbed_text
            assert got["result_type"] == ex.result_type
            assert int(got["num_queries"]) == ex.num_queries
        # A beside B: the same attack with the features run voting too
        await pilot.press("a")
        assert screen.kept is res
        await pilot.press("g", "j", "m")  # the features run (second) votes with the bag
        assert len(screen.ensemble) == 1 and "+ 1 voting" in shown(app, "#at-opts")
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.result is not res, 300)
        both = screen.result
        assert both is not None and both.ensemble == screen.ensemble
        table = shown(app, "#at-summary")
        assert "A three-splits (embedding-bag) · charedit" in table
        assert "B three-splits (embedding-bag) + 1 voting · charedit" in table
        a_value = summary_rows(res.summary)[3][1]
        b_value = summary_rows(both.summary)[3][1]
        line = next(line for line in table.splitlines() if line.startswith("Original accuracy"))
        assert line.split()[-2:] == [a_value, b_value]


async def test_bad_input_shows_the_engine_s_words(trained: RunningEngine) -> None:
    app = fresh_app(trained)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot)
        await pick_recipe(pilot, screen, "charedit")
        await set_options(pilot, screen, "n=0")
        await pilot.press("b")
        await wait_for(pilot, lambda: bool(screen.error))
        assert "n must be from 1" in screen.error and screen.result is None
        assert "n must be from 1" in shown(app, "#at-example")
        await set_options(pilot, screen, "n=3 budget=0")
        await pilot.press("slash", "enter")
        await wait_for(pilot, lambda: "budget" in screen.error)
        assert "query budget must be from 1" in shown(app, "#at-example")
        # a typo in the settings box is said at once, and nothing changes
        await pilot.press("o")
        screen.query_one("#at-settings", Input).value = "n=lots"
        await pilot.press("enter")
        assert screen.options.n == 3 and not screen.command_mode()
        await pilot.press("escape")  # esc leaves the box (the typo is not taken)
        assert screen.command_mode() and screen.options.n == 3
        await set_options(pilot, screen, "budget=")
        assert screen.options.budget is None
        # a gradient recipe on an ensemble (the features run votes with the bag): the
        # engine says why not (a features run alone has the embeddings door)
        await pick_recipe(pilot, screen, "pgd")
        await pilot.press("j", "m")
        assert screen.ensemble == [screen.runs[1].run_id]
        await pilot.press("slash", "enter")
        await wait_for(pilot, lambda: "gradients" in screen.error)
        assert "needs the model's gradients" in shown(app, "#at-example")
        assert isinstance(app.screen, AttackScreen) and screen.job_id is None


async def test_a_running_attack_shows_progress_and_cancels_after_asking(
    trained: RunningEngine,
) -> None:
    app = fresh_app(trained)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot)
        await pick_recipe(pilot, screen, "cw")  # seconds a chunk: it cannot end before x
        await set_options(pilot, screen, "n=1000 split=train steps=1000 search_steps=5")
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.job_id is not None)
        await wait_for(pilot, lambda: "attacking" in shown(app, "#at-progress"))
        assert "x cancels" in shown(app, "#at-progress") and "Cancel" in footer_text(screen)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.job_id is None, 120)
        assert screen.result is None and not screen.error
        assert not screen.query_one("#at-progress").display


async def test_with_no_run_the_screen_says_how_to_get_one(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("7")
        await wait_for(pilot, lambda: isinstance(app.screen, AttackScreen))
        screen = app.screen
        assert isinstance(screen, AttackScreen)
        await wait_for(pilot, lambda: bool(screen.recipes))
        await wait_for(pilot, lambda: screen.focused is screen.query_one("#at-runs"))
        assert "No trained classifier yet" in shown(app, "#at-example")
        await pilot.press("b", "slash")  # nothing to attack: nothing happens
        assert screen.job_id is None and screen.command_mode()
