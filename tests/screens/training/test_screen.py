"""The training monitor against a real engine: a live run and its controls, every plot state,
the runs table (sort, filter, marks, overlay, rename, delete, configuration), a confusion
cell's examples, a 20-class matrix at 80x24, and the view state after a restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import DataTable, Input, OptionList

from engine import protocol as P
from engine.paths import resolve_home
from screens.training import TrainingScreen
from screens.training.confusion import ConfusionMatrix, ConfusionTab
from screens.training.dialogs import ConfigDialog, ExamplesDialog, PromptDialog
from screens.training.model import PLOTS, best_eval
from screens.training.plots import PlotsTab
from screens.training.runs import RunsPane
from tests.helpers.cli import wb
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.viewstate import view_state_path
from workbench.widgets.base import NAV_KEYS
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.footer import footer_text


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """An engine with two finished classifier runs (evaluations, a confusion matrix)."""
    tmp = tmp_path_factory.mktemp("monitor")
    home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        for name, steps in (("first-bag", 30), ("second-bag", 20)):
            config = tmp / f"{name}.toml"
            config.write_text(TINY.format(steps=steps, every=10).replace("tiny-bag", name))
            out = wb(engine, "train", str(config), "--follow")
            assert out.returncode == 0, out.stderr[-2000:]
        yield engine
    finally:
        stop_engine(proc)


def fresh_view(engine: RunningEngine) -> WorkbenchApp:
    """An app on the engine whose view state starts empty (tests share the module's engine)."""
    app = WorkbenchApp(engine.home)
    view_state_path(app.endpoint.describe()).unlink(missing_ok=True)
    return WorkbenchApp(engine.home)


async def open_monitor(app: WorkbenchApp, pilot, loaded: int = 1) -> TrainingScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
    screen = app.screen
    assert isinstance(screen, TrainingScreen)
    await wait_for(pilot, lambda: len(screen.history.series) >= loaded and screen.redraws > 0)
    return screen


def test_no_screen_key_is_a_list_key() -> None:
    keys = {k for b in TrainingScreen.BINDINGS for k in b.key.split(",")}
    assert not keys & NAV_KEYS
    log = next(b for b in TrainingScreen.BINDINGS if b.id == "training.log")
    assert log.key == "L"  # was g, which moves to the top of a list now


async def test_monitor_shows_a_live_run_and_controls_it(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        # no run at all: every plot and scale, log on, before any point exists
        for key in "vvvvvvLaaav":
            await pilot.press(key)
        assert screen.plot.log_scale and app.is_running
        # then a run starts with log on (this crashed inside plotext)
        started = await app.link.ask(
            P.RunStart(
                config_toml=TINY.format(steps=100_000, every=50).replace(
                    "epochs = 1", "epochs = 50"
                )
            )
        )
        run_id = started.run.run_id
        await wait_for(pilot, lambda: screen.selected == run_id, timeout=60)
        await wait_for(
            pilot,
            lambda: len(screen.history.points(run_id, "train_loss")) > 5,
            timeout=120,
        )
        await wait_for(pilot, lambda: screen.redraws > 2)
        assert "tiny-bag" in shown(app, "#tr-stats")
        assert footer_text(screen).startswith("? help")
        await pilot.press("p")  # pause
        await wait_for(pilot, lambda: screen.runs[run_id].state == "paused")
        await wait_for(pilot, lambda: "paused" in shown(app, "#tr-stats"))
        assert "ETA" not in shown(app, "#tr-stats")  # no ETA while paused
        paused_at = len(screen.history.points(run_id, "train_loss"))
        await pilot.pause(1.0)
        assert len(screen.history.points(run_id, "train_loss")) <= paused_at + 1
        await pilot.press("p")  # and on again
        await wait_for(pilot, lambda: screen.runs[run_id].state == "running")
        await wait_for(pilot, lambda: bool(screen.history.evals.get(run_id)), timeout=120)
        # stopping asks first; n keeps it training
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "not saved" in shown(app, "#confirm-lost")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.5)
        assert screen.runs[run_id].state == "running"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.runs[run_id].state == "stopped", timeout=60)
        await wait_for(
            pilot, lambda: "u" in {k for k, b in screen.active_bindings.items() if b.enabled}
        )
        assert "p" not in {k for k, b in screen.active_bindings.items() if b.enabled}


async def test_every_plot_axis_and_scale_draws(finished: RunningEngine) -> None:
    app = fresh_view(finished)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_monitor(app, pilot)
        tab = screen.query_one(PlotsTab)
        seen = set()
        for _plot in PLOTS:
            for _axis in range(3):
                for _log in range(2):
                    before = screen.redraws
                    await pilot.press("L")
                    await wait_for(pilot, lambda b=before: screen.redraws > b)  # type: ignore[misc]
                    plot = tab.plot
                    assert plot is not None
                    text = str(plot.render())
                    assert "cannot be drawn" not in text, text
                    seen.add((screen.plot.title, screen.plot.axis, screen.plot.log_scale))
                await pilot.press("a")
            await pilot.press("v")
        assert len(seen) == len(PLOTS) * 3 * 2 and app.is_running
        # a value readout: the cursor starts at the last point and moves left
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.cursor_step is not None)
        last = screen.cursor_step
        await pilot.press("left_square_bracket")
        assert screen.cursor_step is not None and last is not None and screen.cursor_step < last
        await wait_for(pilot, lambda: f"step {screen.cursor_step:,}" in shown(app, "#tr-readout"))
        readout = shown(app, "#tr-readout")
        assert "train_loss" in readout and "epoch" in readout and "wall" in readout
        run = screen.runs[screen.selected or ""]
        best = best_eval(run, screen.history.evals[run.run_id])
        assert best is not None
        await wait_for(pilot, lambda: f"best (step {best.step:,})" in shown(app, "#tr-legend"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.cursor_step is None)


async def test_runs_table_sorts_filters_marks_renames_and_deletes(
    finished: RunningEngine,
) -> None:
    app = fresh_view(finished)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_monitor(app, pilot)
        pane = screen.query_one(RunsPane)
        await wait_for(pilot, lambda: len(pane.order) >= 2)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(screen.focused, DataTable))
        table = screen.query_one("#tr-table", DataTable)
        titles = [str(c.label) for c in table.columns.values()]
        for want in ("name", "state", "best val", "test", "trained", "wall", "started", "arch"):
            assert any(t.startswith(want) for t in titles), titles
        assert "dataset" in titles and "settings" in titles
        # sort: a key cycles the column, another flips the order
        keys = []
        while screen.sort[0] != "name":
            await pilot.press("r")
            keys.append(screen.sort[0])
        assert len(keys) == len(set(keys))  # every press a new column
        names = [screen.runs[i].name for i in pane.order]
        assert names == sorted(names, reverse=screen.sort[1])
        await pilot.press("R")
        flipped = [screen.runs[i].name for i in pane.order]
        assert flipped == names[::-1]
        assert any("▲" in str(c.label) or "▼" in str(c.label) for c in table.columns.values())
        # moving the cursor never marks; space does
        await pilot.press("j", "k", "j")
        assert screen.marked == set()
        await pilot.press("space")
        marked = pane.highlighted
        assert marked is not None and screen.marked == {marked}
        assert table.get_cell(marked, "mark") == "◆"
        # enter watches a run beside the plots; the mark overlays it
        await pilot.press("k", "enter")
        await wait_for(pilot, lambda: screen.query_one("#tr-main").display)
        other = screen.selected
        assert other is not None and other != marked
        await wait_for(pilot, lambda: marked in screen.history.series)
        screen._dirty = True
        before = screen.redraws
        await wait_for(pilot, lambda: screen.redraws > before)
        legend = shown(app, "#tr-legend")
        assert f"{screen.runs[marked].name}:train_loss" in legend
        assert f"{screen.runs[other].name}:train_loss" in legend
        # filter: / enters text, esc leaves it and keeps it
        await pilot.press("slash")
        assert isinstance(screen.focused, Input)
        await pilot.press(*"second")
        await wait_for(pilot, lambda: [screen.runs[i].name for i in pane.order] == ["second-bag"])
        await pilot.press("escape")
        assert isinstance(screen.focused, OptionList) and screen.filter_text == "second"
        await pilot.press("slash", "ctrl+u", "enter")
        await wait_for(pilot, lambda: len(pane.order) == 2 and screen.filter_text == "")
        # rename in a dialog
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press("ctrl+u", *"renamed run", "enter")
        watched = screen.selected or ""
        await wait_for(pilot, lambda: screen.runs[watched].name == "renamed run")
        listed = {r.run_id: r for r in (await app.link.ask(P.RunList())).runs}
        assert listed[watched].name == "renamed run"
        # the whole configuration in a pager
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigDialog))
        assert "[train]" in shown(app, "#config-toml") and "adamw" in shown(app, "#config-about")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # delete asks, saying what is lost
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        lost = shown(app, "#confirm-lost")
        assert "checkpoints" in lost and "cannot be undone" in lost
        await pilot.press("y")
        await wait_for(pilot, lambda: watched not in screen.runs, timeout=30)
        listed = {r.run_id for r in (await app.link.ask(P.RunList())).runs}
        assert watched not in listed and screen.selected in listed


async def test_a_confusion_cell_lists_its_examples(finished: RunningEngine) -> None:
    app = fresh_view(finished)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_monitor(app, pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(screen.focused, ConfusionMatrix))
        tab = screen.query_one(ConfusionTab)
        await wait_for(pilot, lambda: tab.report is not None)
        report = tab.report
        assert report is not None and tab.which == "best"  # a finished run: its best checkpoint
        assert footer_text(screen).startswith("? help")
        await pilot.press("down", "right")  # true: the 2nd label, predicted: the 2nd label
        assert "true" in shown(app, "#tr-cell") and "predicted" in shown(app, "#tr-cell")
        row, col = tab.matrix.cursor_coordinate
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExamplesDialog))
        dialog = app.screen
        assert isinstance(dialog, ExamplesDialog)
        await wait_for(pilot, lambda: dialog.result is not None, timeout=120)
        res = dialog.result
        assert res is not None
        assert dialog.label == report.labels[row] and dialog.predicted == report.labels[col - 1]
        assert res.total == report.confusion[row][col - 1]  # the cell's own count
        assert all(
            e.label == dialog.label and e.predicted == dialog.predicted for e in res.examples
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("h")  # shading instead of counts
        assert tab.numbers is False
        await pilot.press("m")
        await wait_for(pilot, lambda: screen.active_tab == "plots")


async def test_twenty_classes_are_readable_at_80x24(finished: RunningEngine) -> None:
    labels = [f"topic.group{i}.subject{i}" for i in range(20)]
    report = P.EvalReport(
        step=9,
        epoch=1.0,
        metrics={"accuracy": 0.5},
        labels=labels,
        confusion=[[(37 if t == p else (t + p) % 4) for p in range(20)] for t in range(20)],
        per_class={
            lab: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 50} for lab in labels
        },
    )
    app = fresh_view(finished)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_monitor(app, pilot)
        await pilot.press("m")
        tab = screen.query_one(ConfusionTab)
        await wait_for(pilot, lambda: tab.size.width > 0)
        tab.show(report, "latest", "validation", tab.size.width - 2)
        await pilot.pause()
        table = tab.matrix
        widths = [c.get_render_width(table) for c in list(table.columns.values())[:21]]
        assert sum(widths) <= 80, widths  # the codes and every predicted class fit
        assert len(set(tab.codes)) == 20 and max(map(len, tab.codes)) <= 3
        assert (
            table.show_horizontal_scrollbar
            or sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
        )  # the per-class columns beyond scroll into view


async def test_plot_settings_marks_and_sort_come_back_after_a_restart(
    finished: RunningEngine,
) -> None:
    app = fresh_view(finished)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_monitor(app, pilot)
        await pilot.press("v", "a", "L", "s", "space", "r")
        saved = (screen.plot.to_state(), set(screen.marked), screen.sort)
        assert screen.marked and screen.plot.log_scale
    again = WorkbenchApp(finished.home)
    async with again.run_test(size=(80, 24)) as pilot:
        screen = await open_monitor(again, pilot)
        assert (screen.plot.to_state(), set(screen.marked), screen.sort) == saved
        await wait_for(pilot, lambda: all(m in screen.history.series for m in screen.marked))


def test_the_help_lists_the_monitor_and_its_dialogs() -> None:
    sections = dict(TrainingScreen.help_sections())
    assert any("examples" in title for title in sections)
    ids = {b.id for b in TrainingScreen.BINDINGS}
    for wanted in ("training.stop", "training.log", "training.overlay", "training.table",
                   "training.filter", "training.sort", "training.rename", "training.delete",
                   "training.config", "training.cursor.left", "training.tab.confusion"):  # fmt: skip
        assert wanted in ids
