"""The training monitor: the runs (a compact list, or the whole table with w), the watched
run's head, its live plots with a value readout, its confusion matrix, and its controls.

Moving the cursor in the runs watches a run: its whole history is fetched at once (so a
reattach after an SSH drop shows everything); live points then arrive as events and are
appended in place. space marks runs to overlay on the plot. Plots redraw on a timer from series
thinned to the plot's width. How the user left the monitor (plot settings, marks, sort, filter)
comes back after a restart (view state, keys training.*).
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import TabbedContent

from engine import protocol as P
from screens.training.confusion import WHICH, ConfusionMatrix, ConfusionTab
from screens.training.controls import RunControls
from screens.training.dialogs import (
    ExamplesDialog,
)
from screens.training.model import (
    LIVE,
    ROBUST_PLOT,
    ROBUST_SERIES,
    PlotSettings,
    RunHistory,
    best_eval,
    best_text,
    scored_test_text,
    smoothed_eta,
    split_names,
    wall_seconds,
)
from screens.training.plots import PlotsTab
from screens.training.plotspec import PlotSpec, cursor_stops, move_cursor, plot_spec, readout
from screens.training.runs import RunsPane
from screens.training.runtable import next_sort_key, table_runs
from screens.training.stats import RunStats, run_line, speed_line
from workbench.engine.client import EngineError

LAST = ("lr", "samples_per_s", "tokens_per_s", "steps_per_s")  # the head's latest values
TRAINING = ("running", "paused")
RESUMABLE = ("stopped", "failed", "interrupted")
PLOT_KEYS = {"plots"}
MATRIX_KEYS = {"confusion"}
DRAWING = {"cycle_plot", "cycle_axis", "cycle_smoothing", "toggle_log", "cursor"}


class TrainingScreen(RunControls):
    CSS_PATH = "training.tcss"
    TABS = "tr-tabs"
    FIRST_TAB = "plots"
    MAIN = "#tr-runs"
    TAB_FOCUS: ClassVar[dict[str, str]] = {"plots": "#tr-runs", "confusion": "#tr-matrix"}
    TAB_ACTIONS: ClassVar[dict[str, set[str]]] = {
        "cycle_plot": PLOT_KEYS,
        "cycle_axis": PLOT_KEYS,
        "cycle_smoothing": PLOT_KEYS,
        "toggle_log": PLOT_KEYS,
        "cursor": PLOT_KEYS,
        "toggle_numbers": MATRIX_KEYS,
        "cycle_eval": MATRIX_KEYS,
        # the runs pane is hidden beside the matrix
        "toggle_mark": PLOT_KEYS,
        "filter": PLOT_KEYS,
        "cycle_sort": PLOT_KEYS,
        "reverse_sort": PLOT_KEYS,
    }
    BINDINGS: ClassVar = [
        Binding("space", "toggle_mark", "Mark", id="training.overlay"),
        Binding("p", "pause", "Pause", id="training.pause"),
        Binding("p", "unpause", "Resume", id="training.unpause"),
        Binding("x", "stop", "Stop", id="training.stop"),
        Binding("v", "cycle_plot", "Plot", id="training.plot"),
        Binding("a", "cycle_axis", "Axis", id="training.axis"),
        Binding("L", "toggle_log", "Log", id="training.log"),
        Binding("left_square_bracket", "cursor(-1)", "Cursor", id="training.cursor.left"),
        Binding(
            "right_square_bracket", "cursor(1)", "Cursor", show=False, id="training.cursor.right"
        ),
        Binding(
            "left_curly_bracket", "cursor(-10)", "Cursor", show=False, id="training.cursor.back"
        ),
        Binding("right_curly_bracket", "cursor(10)", "Cursor", show=False, id="training.cursor.on"),
        Binding("m", "show_tab('confusion')", "Confusion", id="training.tab.confusion"),
        Binding("m", "show_tab('plots')", "Plots", id="training.tab.plots"),
        Binding("w", "toggle_wide", "Table", id="training.table"),
        Binding("slash", "filter", "Filter", id="training.filter"),
        Binding("r", "cycle_sort", "Sort", id="training.sort"),
        Binding("R", "reverse_sort", "Reverse sort", id="training.sort.reverse"),
        Binding("s", "cycle_smoothing", "Smooth", id="training.smoothing"),
        Binding("h", "toggle_numbers", "Counts/shade", id="training.matrix.shading"),
        Binding("T", "cycle_eval", "Which eval", id="training.matrix.eval"),
        Binding("i", "config", "Config", id="training.config"),
        Binding("n", "rename", "Rename", id="training.rename"),
        Binding("d", "delete", "Delete", id="training.delete"),
        Binding("c", "checkpoint", "Checkpoint", id="training.checkpoint"),
        Binding("l", "change_lr", "LR", id="training.lr"),
        Binding("u", "resume_run", "Resume run", id="training.resume"),
        Binding("escape", "back", "Back", show=False, id="training.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, P.RunInfo] = {}
        self.selected: str | None = None
        self.marked: set[str] = set()
        self.history = RunHistory()
        self.configs: dict[str, str] = {}  # run -> its TOML (from its history)
        self.plot = PlotSettings()
        self.sort: tuple[str, bool] = ("started", True)
        self.filter_text = ""
        self.cursor_step: int | None = None
        self.eval_which: str | None = None  # None: latest while training, else best
        self.redraws = 0
        self._dirty = True
        self._arrived = False
        self._wide = False
        self._dropped: int | None = None  # events the engine dropped, when last looked
        self._arriving: list[list[P.MetricPoint]] = []  # live points while a history is asked

    @property
    def overlay(self) -> set[str]:
        """The runs drawn with the watched one."""
        return self.marked - {self.selected} if self.selected else set(self.marked)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="tr-body"):
            yield RunsPane(id="tr-side")
            with Vertical(id="tr-main"):
                yield RunStats(id="tr-head")
                with TabbedContent(id="tr-tabs", initial="plots"):
                    yield PlotsTab()
                    yield ConfusionTab()

    def on_mount(self) -> None:
        self._restore_view()
        self.shell.subscribe_ready(self, lambda _: self.load_runs())
        self.shell.subscribe_catalog(self, self._catalog_changed)
        self.shell.subscribe(self, P.RunUpdate, self._run_update)
        self.shell.subscribe(self, P.RunEval, self._run_eval)
        # live points: appended in place at once, drawn by the timer
        self.shell.subscribe(self, P.RunMetrics, self._on_metrics, immediate=True)
        self.set_interval(0.5, self._tick)
        self._show_opts()
        if self.shell.connected:
            self.load_runs()

    def main_selector(self) -> str:
        if self.active_tab == "confusion":
            return "#tr-matrix"
        return "#tr-table" if self._wide else "#tr-runs"

    def show_tab(self, tab: str) -> None:
        if tab == "confusion" and self._wide:
            self._set_wide(False)
        # display, not a class on the screen: a screen class restyles every widget (~50 ms)
        self.query_one("#tr-side").display = tab != "confusion"
        self.query_one("#tr-tabs", TabbedContent).active = tab
        self.call_after_refresh(self.focus_main)
        self._dirty = True
        if tab == "confusion":
            self.call_after_refresh(self._show_confusion)

    @classmethod
    def help_sections(cls) -> list[tuple[str, list[object]]]:
        return [
            ("Training: confusion matrix", list(ConfusionMatrix.BINDINGS)),
            ("Training: examples dialog", list(ExamplesDialog.BINDINGS)),
        ]

    # ------------------------------------------------------------- view state

    def _restore_view(self) -> None:
        vs = self.shell.view_state
        self.plot = PlotSettings.from_state(vs.get("training.plot", {}))
        self.marked = {m for m in vs.get("training.marked", []) if isinstance(m, str)}
        sort = vs.get("training.sort", ["started", True])
        if len(sort) == 2 and isinstance(sort[0], str) and isinstance(sort[1], bool):
            self.sort = (sort[0], sort[1])
        self.filter_text = vs.get("training.filter", "")
        self.query_one(RunsPane).set_filter(self.filter_text)
        self._set_wide(vs.get("training.wide", False), save=False)
        saved = vs.get("training.selected", "")
        if saved and self.selected is None:
            self._saved_selected = saved

    def _save_view(self) -> None:
        vs = self.shell.view_state
        vs.set("training.plot", self.plot.to_state())
        vs.set("training.marked", sorted(self.marked))
        vs.set("training.sort", list(self.sort))
        vs.set("training.filter", self.filter_text)
        vs.set("training.wide", self._wide)
        if self.selected:
            vs.set("training.selected", self.selected)

    # ------------------------------------------------------------- events from the panes

    @on(PlotsTab.Ready)
    def _plot_ready(self) -> None:
        self._dirty = True

    @on(RunsPane.Highlighted)
    def _highlighted(self, event: RunsPane.Highlighted) -> None:
        if event.run_id != self.selected:
            self.select(event.run_id)

    @on(RunsPane.Chosen)
    def _chosen(self, event: RunsPane.Chosen) -> None:
        if event.run_id != self.selected:
            self.select(event.run_id)
        if self._wide:
            self._set_wide(False)
            self.call_after_refresh(self.focus_main)

    @on(RunsPane.FilterChanged)
    def _filter_changed(self, event: RunsPane.FilterChanged) -> None:
        if event.text != self.filter_text:
            self.filter_text = event.text
            self._fill_list()
            self._save_view()

    @on(ConfusionMatrix.CellChosen)
    def _cell_chosen(self, event: ConfusionMatrix.CellChosen) -> None:
        tab = self.query_one(ConfusionTab)
        if self.selected is None or tab.report is None:
            return
        self.app.push_screen(
            ExamplesDialog(self.selected, tab.split, event.label, event.predicted, tab.report.step)
        )

    def on_text_left(self) -> None:
        self._fill_list()  # the filter as typed stays

    def arrive(self, **params: object) -> None:
        """Sent here to watch a run (the builder after ctrl+t): select it."""
        run_id = params.get("run_id")
        if isinstance(run_id, str):
            self.selected = run_id
            self._arrived = True
            self.load_runs()

    def _catalog_changed(self, kind: str) -> None:
        if kind == "runs":
            self.load_runs()  # renamed, deleted or added elsewhere (the CLI, another app)

    # ------------------------------------------------------------- engine

    @work(exclusive=True, group="tr-runs", exit_on_error=False)
    async def load_runs(self) -> None:
        try:
            res = await self.shell.ask(P.RunList())
        except EngineError as exc:
            self._message(Text(str(exc), style="red"))
            return
        self.runs = {r.run_id: r for r in res.runs}
        for gone in set(self.history.series) - set(self.runs):
            self.history.forget(gone)
        self.marked &= set(self.runs)
        pick = self._pick_run(res.runs)
        self._fill_list()
        if pick is not None:
            self.select(pick, reload=True)
        for run_id in self.overlay:
            self.load_overlay(run_id)
        self.refresh_bindings()

    def _pick_run(self, runs: list[P.RunInfo]) -> str | None:
        """The run to watch: the one asked for, else one training now, else the one watched
        before the restart, else the newest."""
        if self.selected in self.runs and (self._arrived or self.selected in self.history.series):
            return self.selected
        if not runs:
            return None
        live = [r for r in runs if r.state in LIVE]
        if live:
            return max(live, key=lambda r: r.created).run_id
        saved = getattr(self, "_saved_selected", "")
        if saved in self.runs:
            return str(saved)
        return max(runs, key=lambda r: r.created).run_id

    def select(self, run_id: str, reload: bool = False) -> None:
        """Watch this run: its whole history is fetched (again, with reload)."""
        if run_id == self.selected and not reload and run_id in self.history.series:
            return
        if run_id != self.selected:
            self.cursor_step = None
        self.selected = run_id
        self.query_one(RunsPane).show_run(run_id)
        self.load_history(run_id)
        self.refresh_bindings()
        self._save_view()

    async def _history_of(self, run_id: str) -> tuple[P.RunHistory, list[P.MetricPoint]]:
        """The run's whole history, and the live points that came while it was asked for (the
        engine reads it, then sends it: points stored in between may come before it)."""
        arrived: list[P.MetricPoint] = []
        self._arriving.append(arrived)
        try:
            return await self.shell.ask(P.RunShow(run_id=run_id)), arrived
        finally:
            self._arriving = [a for a in self._arriving if a is not arrived]

    @work(exclusive=True, group="tr-history", exit_on_error=False)
    async def load_history(self, run_id: str) -> None:
        try:
            hist, arrived = await self._history_of(run_id)
        except EngineError as exc:
            self._message(Text(str(exc), style="red"))
            return
        self.runs[run_id] = hist.run
        self.history.load(run_id, hist, arrived=arrived)
        self.configs[run_id] = hist.config_toml
        self._dirty = True
        self._fill_list()
        self._show_confusion()
        self.refresh_bindings()

    @work(group="tr-overlay", exit_on_error=False)
    async def load_overlay(self, run_id: str) -> None:
        try:
            hist, arrived = await self._history_of(run_id)
        except EngineError:
            return
        self.history.load(run_id, hist, evals=False, arrived=arrived)
        self.configs[run_id] = hist.config_toml
        self._dirty = True

    def _on_metrics(self, event: P.RunMetrics) -> None:
        """Every batch of live points: appended in place, no redraw."""
        for arrived in self._arriving:
            arrived.extend(event.points)
        self.history.append(event.points)
        self._dirty = True

    def _run_update(self, event: P.RunUpdate) -> None:
        run = event.run
        old = self.runs.get(run.run_id)
        self.runs[run.run_id] = run
        if old is not None and old.state not in LIVE and run.state in LIVE:
            # resumed (here or elsewhere): its history was rewound to its checkpoint
            if run.run_id == self.selected:
                self.load_history(run.run_id)
            elif run.run_id in self.history.series:
                self.load_overlay(run.run_id)
        if old is None or (old.state, old.best, old.name) != (run.state, run.best, run.name):
            self._announce(old, run)
            if run.run_id == self.selected:
                self.refresh_bindings()
        self._fill_list()
        self._dirty = True

    def _run_eval(self, event: P.RunEval) -> None:
        if event.run_id in self.history.series:
            self.history.add_eval(event.run_id, event.report)
        if event.run_id == self.selected:
            self._dirty = True
            self._show_confusion()

    def _announce(self, old: P.RunInfo | None, run: P.RunInfo) -> None:
        if old is None or old.state == run.state:
            return
        if run.state == "finished":
            self.app.bell()
            tested = f"; {scored_test_text(run)}" if run.test else ""
            self.notify(f"{run.name}: {best_text(run)}{tested}", title="run finished")
        elif run.state == "failed":
            self.app.bell()
            self.notify(
                f"{run.name}: {run.message}", title="run failed", severity="error", timeout=15
            )

    # ------------------------------------------------------------- drawing

    def _fill_list(self) -> None:
        shown = table_runs(list(self.runs.values()), self.filter_text, *self.sort, time.time())
        pane = self.query_one(RunsPane)
        pane.fill(shown, self.marked, time.time(), len(self.runs), self.sort, self.filter_text)
        if shown and self.selected not in pane.order:
            self.select(shown[0].run_id)  # the filter hid the watched run: watch the first

    def _tick(self) -> None:
        dropped = self.shell.link_state.dropped
        if self._dropped is not None and dropped != self._dropped:
            self.load_runs()  # the engine dropped events for this slow client: fetch them
        self._dropped = dropped
        if any(r.state in LIVE for r in self.runs.values()):
            self._fill_list()  # wall times move
        self._show_stats()
        if self._dirty and self.active_tab == "plots" and not self._wide:
            self._redraw()

    def _plotted(self) -> list[str]:
        if self.selected is None:
            return []
        return [self.selected, *sorted(self.overlay)]

    def _redraw(self) -> None:
        tab = self.query_one(PlotsTab)
        if tab.plot is None or self.selected is None:
            return
        self._dirty = False
        runs = self._plotted()
        names = {r: self.runs[r].name for r in runs if r in self.runs}
        best = self._best_step()
        spec = plot_spec(self.history, runs, names, self.plot, tab.buckets, best, self.cursor_step)
        tab.draw(spec, self.plot.describe(len(self.overlay)))
        tab.draw_robust(self._robust_spec(runs, names, tab.buckets))
        parts: list[str] = []
        if self.cursor_step is not None:
            parts = readout(self.history, runs, names, self.plot, self.cursor_step)
        tab.show_readout(parts)
        self.redraws += 1

    def _robust_spec(self, runs: list[str], names: dict[str, str], width: int) -> PlotSpec | None:
        """The robust accuracy panel's plot, when a run drawn measures it (robust_every) and
        the chosen plot is another one."""
        if self.plot.plot_index == ROBUST_PLOT:
            return None
        if not any(self.history.points(r, ROBUST_SERIES) for r in runs):
            return None
        return plot_spec(self.history, runs, names, self.plot.robust(), width)

    def _best_step(self) -> int | None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return None
        found = best_eval(run, self.history.evals.get(run.run_id, []))
        return found.step if found else None

    def _show_stats(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        sel = run.run_id
        last = {name: self.history.last(sel, name) for name in LAST}
        eta = smoothed_eta(self.history.times.get(sel, {}), run.step, run.total_steps)
        wall = wall_seconds(run, time.time(), self.history.last_time(sel))
        text = run_line(run, eta, self._best_step(), wall)
        speed = speed_line(run, last, self.shell.link_state.device)
        self.query_one(RunStats).show(text, speed, run)

    def _eval_shown(self) -> tuple[P.EvalReport | None, str, str]:
        """The evaluation the confusion tab shows, which one it is, and its split's name."""
        run = self.runs.get(self.selected or "")
        if run is None:
            return None, "latest", "validation"
        which = self.eval_which or ("latest" if run.state in LIVE else "best")
        validation, test = split_names(self.configs.get(run.run_id, ""))
        evals = self.history.evals.get(run.run_id, [])
        if which == "test":
            return self.history.last_eval(run.run_id, "test"), which, test or "test"
        if which == "best":
            return best_eval(run, evals), which, validation or "validation"
        return self.history.last_eval(run.run_id), which, validation or "validation"

    def _show_confusion(self) -> None:
        report, which, split = self._eval_shown()
        tab = self.query_one(ConfusionTab)
        width = max(tab.size.width - 2, 30) if tab.size.width else 76
        tab.show(report, which, split, width)

    def _message(self, text: Text) -> None:
        self.notify(text.plain, severity="error", timeout=8)

    def _show_opts(self) -> None:
        self.query_one(PlotsTab).show_options(
            f"{self.plot.title} by {self.plot.axis} · {self.plot.describe(len(self.overlay))}"
        )
        self._dirty = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        if self._wide and action in DRAWING:
            return False  # the table hides the plot
        run = self.runs.get(self.selected or "")
        state = run.state if run else ""
        needs = {
            "pause": state == "running",
            "unpause": state == "paused",
            "stop": state in LIVE,
            "checkpoint": state in TRAINING,
            "change_lr": state in TRAINING,
            "resume_run": state in RESUMABLE,
            "delete": run is not None and state not in LIVE,
            "rename": run is not None,
            "config": run is not None,
        }
        return needs.get(action, True)

    def action_cycle_plot(self) -> None:
        self.plot.cycle_plot()
        self._plot_changed()

    def action_cycle_smoothing(self) -> None:
        self.plot.cycle_smoothing()
        self._plot_changed()

    def action_cycle_axis(self) -> None:
        self.plot.cycle_axis()
        self._plot_changed()

    def action_toggle_log(self) -> None:
        self.plot.toggle_log()
        self._plot_changed()

    def _plot_changed(self) -> None:
        self._show_opts()
        self._save_view()
        self._redraw_soon()

    def _redraw_soon(self) -> None:
        self._dirty = True
        self.call_after_refresh(self._redraw)

    def action_cursor(self, by: int) -> None:
        """Move the readout cursor along the x axis (it starts at the last point)."""
        if self.selected is None:
            return
        stops = cursor_stops(self.history, self.selected, self.query_one(PlotsTab).buckets)
        self.cursor_step = move_cursor(stops, self.cursor_step, by)
        self._redraw_soon()

    def action_back(self) -> None:
        """esc: the table back beside the plots, else the cursor off."""
        if self._wide:
            self._set_wide(False)
            self.call_after_refresh(self.focus_main)
        elif self.cursor_step is not None:
            self.cursor_step = None
            self._redraw_soon()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the run under the cursor for overlaying on the watched one."""
        run_id = self.query_one(RunsPane).highlighted
        if not run_id:
            return
        self.marked ^= {run_id}
        if run_id in self.marked and run_id not in self.history.series:
            self.load_overlay(run_id)
        self._fill_list()
        self._show_opts()
        self._save_view()

    def action_toggle_wide(self) -> None:
        if self.active_tab != "plots":
            self.query_one("#tr-tabs", TabbedContent).active = "plots"
            self.query_one("#tr-side").display = True
        self._set_wide(not self._wide)
        self.call_after_refresh(self.focus_main)

    def _set_wide(self, wide: bool, save: bool = True) -> None:
        self._wide = wide
        self.query_one("#tr-main").display = not wide
        self.query_one(RunsPane).set_wide(wide)
        self._dirty = True
        self.refresh_bindings()
        if save:
            self._save_view()

    def action_filter(self) -> None:
        if self.active_tab != "plots":
            self.show_tab("plots")
        self.query_one("#tr-filter").focus()

    def action_cycle_sort(self) -> None:
        self.sort = (next_sort_key(self.sort[0]), self.sort[1])
        self._sorted()

    def action_reverse_sort(self) -> None:
        self.sort = (self.sort[0], not self.sort[1])
        self._sorted()

    def _sorted(self) -> None:
        self._fill_list()
        key, reverse = self.sort
        self.notify(f"runs sorted by {key}, {'descending' if reverse else 'ascending'}", timeout=2)
        self._save_view()

    def action_toggle_numbers(self) -> None:
        tab = self.query_one(ConfusionTab)
        tab.toggle_numbers()
        self._show_confusion()

    def action_cycle_eval(self) -> None:
        _, which, _ = self._eval_shown()
        self.eval_which = WHICH[(WHICH.index(which) + 1) % len(WHICH)]
        self._show_confusion()
