"""The training monitor: runs, live loss and metric plots, stats, confusion matrix, controls.

Selecting a run fetches its whole history at once (so reattaching after an SSH
drop shows everything); live points then arrive as events and are appended in
place. Plots redraw on a timer from series thinned to the plot's width.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TabbedContent

from engine import protocol as P
from screens.training.confusion import ConfusionTab
from screens.training.dialogs import LearningRateScreen
from screens.training.model import PlotSettings, RunHistory
from screens.training.plots import PlotsTab
from screens.training.runs import RunList
from screens.training.stats import RunStats
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen

LAST = ("lr", "samples_per_s", "tokens_per_s", "steps_per_s")  # the head's latest values


class TrainingScreen(WorkbenchScreen):
    CSS_PATH = "training.tcss"
    BINDINGS: ClassVar = [
        Binding("space", "toggle_pause", "Pause/resume", id="training.pause"),
        Binding("x", "stop", "Stop", id="training.stop"),
        Binding("c", "checkpoint", "Checkpoint", id="training.checkpoint"),
        Binding("l", "change_lr", "LR", id="training.lr"),
        Binding("u", "resume_run", "Resume run", id="training.resume"),
        Binding("v", "cycle_plot", "Plot", id="training.plot"),
        Binding("s", "cycle_smoothing", "Smooth", id="training.smoothing"),
        Binding("a", "cycle_axis", "Axis", id="training.axis"),
        Binding("g", "toggle_log", "Log", id="training.log"),
        Binding("o", "toggle_overlay", "Overlay", id="training.overlay"),
        Binding("m", "show_tab('confusion')", "Confusion", show=False, id="training.tab.confusion"),
        Binding("p", "show_tab('plots')", "Plots", show=False, id="training.tab.plots"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, P.RunInfo] = {}
        self.selected: str | None = None
        self.overlay: set[str] = set()
        self.history = RunHistory()
        self.plot = PlotSettings()
        self._dirty = True
        self.redraws = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="tr-body"):
            yield RunList(id="tr-side")
            with Vertical(id="tr-main"):
                yield RunStats(id="tr-head")
                with TabbedContent(id="tr-tabs", initial="plots"):
                    yield PlotsTab()
                    yield ConfusionTab()
                yield Static("", id="tr-message")

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, lambda _: self.load_runs())
        self.shell.subscribe(self, P.RunUpdate, self._run_update)
        self.shell.subscribe(self, P.RunEval, self._run_eval)
        # live points: appended in place at once, drawn by the timer
        self.shell.subscribe(self, P.RunMetrics, self._on_metrics, immediate=True)
        self.set_interval(0.5, self._redraw)
        self._show_opts()
        if self.shell.connected:
            self.load_runs()

    @on(PlotsTab.Ready)
    def _plot_ready(self) -> None:
        self._dirty = True

    @on(RunList.Highlighted)
    def _highlighted(self, event: RunList.Highlighted) -> None:
        if event.run_id != self.selected:
            self.select(event.run_id)

    def arrive(self, **params: object) -> None:
        """Sent here to watch a run (the builder after ctrl+t): select it."""
        run_id = params.get("run_id")
        if isinstance(run_id, str):
            self.selected = run_id
            self.load_runs()

    # ------------------------------------------------------------- engine

    @work(exclusive=True, group="tr-runs", exit_on_error=False)
    async def load_runs(self) -> None:
        try:
            res = await self.shell.ask(P.RunList())
        except EngineError as exc:
            self._message(Text(str(exc), style="red"))
            return
        self.runs = {r.run_id: r for r in res.runs}
        self._fill_list()
        if self.selected is None and res.runs:
            active = [r for r in res.runs if r.state in ("running", "paused")]
            self.select((active or res.runs)[-1].run_id)
        elif self.selected:
            self.load_history(self.selected)

    def select(self, run_id: str) -> None:
        self.selected = run_id
        self.load_history(run_id)

    @work(exclusive=True, group="tr-history", exit_on_error=False)
    async def load_history(self, run_id: str) -> None:
        try:
            hist = await self.shell.ask(P.RunShow(run_id=run_id))
        except EngineError as exc:
            self._message(Text(str(exc), style="red"))
            return
        self.runs[run_id] = hist.run
        self.history.load(run_id, hist)
        self._dirty = True
        self._show_confusion()

    @work(group="tr-overlay", exit_on_error=False)
    async def load_overlay(self, run_id: str) -> None:
        try:
            hist = await self.shell.ask(P.RunShow(run_id=run_id))
        except EngineError:
            return
        self.history.load(run_id, hist, evals=False)
        self._dirty = True

    def _on_metrics(self, event: P.RunMetrics) -> None:
        """Every batch of live points: appended in place, no redraw."""
        self.history.append(event.points)
        self._dirty = True

    def _run_update(self, event: P.RunUpdate) -> None:
        old = self.runs.get(event.run.run_id)
        self.runs[event.run.run_id] = event.run
        if old is None or old.state != event.run.state or old.best != event.run.best:
            self._fill_list()
            self._announce(old, event.run)
        self._dirty = True

    def _run_eval(self, event: P.RunEval) -> None:
        self.history.add_eval(event.run_id, event.report)
        if event.run_id == self.selected:
            self._show_confusion()

    def _announce(self, old: P.RunInfo | None, run: P.RunInfo) -> None:
        if old is None or old.state == run.state:
            return
        if run.state == "finished":
            self.app.bell()
            self.notify(f"{run.name} finished ({run.metric} {run.best})", title="run finished")
        elif run.state == "failed":
            self.app.bell()
            self.notify(
                f"{run.name}: {run.message}", title="run failed", severity="error", timeout=15
            )

    # ------------------------------------------------------------- drawing

    def _fill_list(self) -> None:
        self.query_one(RunList).fill(list(self.runs.values()), self.overlay)

    def _redraw(self) -> None:
        self._show_stats()
        tab = self.query_one(PlotsTab)
        if not self._dirty or tab.plot is None or self.selected is None:
            return
        self._dirty = False
        runs = [self.selected, *sorted(self.overlay - {self.selected})]
        names = {r: self.runs[r].name for r in runs if r in self.runs}
        lines = self.history.lines(runs, names, self.plot, tab.buckets)
        tab.draw(lines, f"{self.plot.title} by {self.plot.axis}", self.plot.log_scale)
        self.redraws += 1

    def _show_stats(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        last = {name: self.history.last(self.selected, name) for name in LAST}
        self.query_one(RunStats).show(run, last, self.shell.link_state.device)
        message = run.message
        if run.trainable or run.frozen:
            message = f"trainable {run.trainable:,} · frozen {run.frozen:,}  " + message
        self._message(Text(message, style="dim"))

    def _show_confusion(self) -> None:
        self.query_one(ConfusionTab).show(self.history.last_eval(self.selected))

    def _message(self, text: Text) -> None:
        self.query_one("#tr-message", Static).update(text)

    def _show_opts(self) -> None:
        self.query_one(PlotsTab).show_options(self.plot.describe(len(self.overlay)))
        self._dirty = True

    # ------------------------------------------------------------- controls

    @work(group="tr-control", exit_on_error=False)
    async def control(self, action: str, lr: float | None = None) -> None:
        if self.selected is None:
            return
        try:
            res = await self.shell.ask(
                P.RunControl(run_id=self.selected, action=action, lr=lr)  # type: ignore[arg-type]
            )
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs[res.run.run_id] = res.run
        self._fill_list()

    def action_toggle_pause(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is not None:
            self.control("resume" if run.state == "paused" else "pause")

    def action_stop(self) -> None:
        self.control("stop")

    def action_checkpoint(self) -> None:
        self.control("checkpoint")

    def action_change_lr(self) -> None:
        if self.selected is None:
            return

        def chosen(value: str | None) -> None:
            try:
                lr = float(value or "")
            except ValueError:
                self.notify(f"'{value}' is not a learning rate", severity="warning")
                return
            self.control("set_lr", lr)

        self.app.push_screen(LearningRateScreen(self.history.last(self.selected, "lr")), chosen)

    @work(group="tr-resume", exit_on_error=False)
    async def action_resume_run(self) -> None:
        if self.selected is None:
            return
        try:
            res = await self.shell.ask(P.RunResume(run_id=self.selected))
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs[res.run.run_id] = res.run
        self.notify(f"resuming {res.run.name} from its last checkpoint")
        self.load_history(res.run.run_id)

    def action_cycle_plot(self) -> None:
        self.plot.cycle_plot()
        self._show_opts()

    def action_cycle_smoothing(self) -> None:
        self.plot.cycle_smoothing()
        self._show_opts()

    def action_cycle_axis(self) -> None:
        self.plot.cycle_axis()
        self._show_opts()

    def action_toggle_log(self) -> None:
        self.plot.toggle_log()
        self._show_opts()

    def action_toggle_overlay(self) -> None:
        """Mark or unmark the highlighted run for overlaying on the selected one."""
        run_id = self.query_one(RunList).highlighted
        if run_id:
            self.overlay ^= {run_id}
            if run_id not in self.history.series:
                self.load_overlay(run_id)
            self._fill_list()
            self._show_opts()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tr-tabs", TabbedContent).active = tab
