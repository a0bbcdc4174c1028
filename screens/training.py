"""The training monitor: runs, live loss and metric plots, stats, confusion matrix, controls.

Selecting a run fetches its whole history at once (so reattaching after an SSH
drop shows everything); live points then arrive as events and are appended in
place. Plots redraw on a timer from series thinned to the plot's width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, ProgressBar, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen
from workbench.widgets.series import downsample, ema, eta_seconds, finite, fmt_duration

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

STATE_STYLE = {
    "running": "green",
    "paused": "yellow",
    "queued": "cyan",
    "finished": "bold green",
    "failed": "bold red",
    "stopped": "magenta",
    "interrupted": "bold yellow",
}
PLOTS = [
    ("loss", ["train_loss", "val_loss"]),
    ("accuracy", ["val_accuracy", "train_accuracy"]),
    ("macro F1", ["val_macro_f1"]),
    ("perplexity", ["val_perplexity"]),
]
AXES = ["step", "epoch", "time"]
SMOOTHING = [0.0, 0.6, 0.9, 0.98]


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
        self.series: dict[str, dict[str, list[tuple[int, float]]]] = {}  # run -> name -> points
        self.times: dict[str, dict[int, float]] = {}  # run -> step -> wall time
        self.epochs: dict[str, dict[int, float]] = {}
        self.evals: dict[str, list[P.EvalReport]] = {}
        self.plot_index = 0
        self.axis = "step"
        self.smoothing = 0.6
        self.log_scale = False
        self._dirty = True
        self.redraws = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="tr-body"):
            with Vertical(id="tr-side"):
                yield Label("Runs", classes="pane-title")
                yield OptionList(id="tr-runs")
            with Vertical(id="tr-main"):
                yield Static(
                    "no run selected: start one with `workbench train CONFIG.toml`", id="tr-stats"
                )
                with Horizontal(id="tr-epoch-row"):
                    yield Label("epoch", id="tr-epoch")
                    yield ProgressBar(id="tr-progress", show_eta=False)
                with TabbedContent(id="tr-tabs", initial="plots"):
                    with TabPane("Plots p", id="plots"):
                        yield Static("", id="tr-plot-opts")
                    with TabPane("Confusion m", id="confusion"), VerticalScroll(id="tr-conf"):
                        yield Static("no evaluation yet", id="tr-confusion")
                yield Static("", id="tr-message")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)
        self.shell.subscribe_ready(self, lambda _: self.load_runs())
        self.shell.subscribe(self, P.RunUpdate, self._run_update)
        self.shell.subscribe(self, P.RunEval, self._run_eval)
        # live points: appended in place at once, drawn by the timer
        self.shell.subscribe(self, P.RunMetrics, self._on_metrics, immediate=True)
        self.set_interval(0.5, self._redraw)
        self._show_opts()
        if self.shell.connected:
            self.load_runs()

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot

        self.query_one("#plots").mount(PlotextPlot(id="tr-plot"))
        self._dirty = True

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

    def _fill_list(self) -> None:
        options = self.query_one("#tr-runs", OptionList)
        keep = options.highlighted
        options.clear_options()
        for run in self.runs.values():
            mark = "◆ " if run.run_id in self.overlay else ""
            best = f" {run.metric} {run.best:.3f}" if run.best is not None else ""
            prompt = Text.assemble(
                (mark + run.name, "bold"),
                "\n  ",
                (run.state, STATE_STYLE.get(run.state, "")),
                (best, "dim"),
            )
            options.add_option(Option(prompt, id=run.run_id))
        if keep is not None and keep < options.option_count:
            options.highlighted = keep

    @on(OptionList.OptionHighlighted, "#tr-runs")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.selected:
            self.select(event.option.id)

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
        self.series[run_id] = {k: list(v) for k, v in hist.series.items()}
        self.epochs[run_id] = dict(hist.series.get("epoch", []))
        self.times[run_id] = dict(hist.series.get("time", []))
        self.evals[run_id] = list(hist.evals)
        self._dirty = True
        self._show_confusion()

    def _on_metrics(self, event: P.RunMetrics) -> None:
        """Every batch of live points: appended in place, no redraw."""
        for p in event.points:
            series = self.series.get(p.run_id)
            if series is None:
                continue  # history not loaded yet: it will include this point
            series.setdefault(p.series, []).append((p.step, p.value))
            self.epochs.setdefault(p.run_id, {})[p.step] = p.epoch
            self.times.setdefault(p.run_id, {})[p.step] = p.time
        self._dirty = True

    def _run_update(self, event: P.RunUpdate) -> None:
        old = self.runs.get(event.run.run_id)
        self.runs[event.run.run_id] = event.run
        if old is None or old.state != event.run.state or old.best != event.run.best:
            self._fill_list()
            self._announce(old, event.run)
        self._dirty = True

    def _run_eval(self, event: P.RunEval) -> None:
        self.evals.setdefault(event.run_id, []).append(event.report)
        if event.run_id == self.selected:
            self._show_confusion()

    def arrive(self, **params: object) -> None:
        """Sent here to watch a run (the builder after ctrl+t): select it."""
        run_id = params.get("run_id")
        if isinstance(run_id, str):
            self.selected = run_id
            self.load_runs()

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

    def _redraw(self) -> None:
        self._show_stats()
        if not self._dirty:
            return
        self._dirty = False
        found = self.query("#tr-plot")
        if not found or self.selected is None:
            return
        plot = cast("PlotextPlot", found.first())
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        title, names = PLOTS[self.plot_index]
        width = max(plot.size.width - 12, 20)
        runs = [self.selected, *sorted(self.overlay - {self.selected})]
        drawn = 0
        for run_id in runs:
            for name in names:
                pts = self.series.get(run_id, {}).get(name, [])
                if not pts:
                    continue
                xs = [self._x(run_id, s) for s, _ in pts]
                ys = [v for _, v in pts]
                if name.startswith("train"):
                    ys = ema(ys, self.smoothing)
                xs, ys = finite(*downsample(xs, ys, width))
                if self.log_scale:
                    xs, ys = finite(xs, [v if v > 0 else float("nan") for v in ys])
                label = name if len(runs) == 1 else f"{self.runs[run_id].name}:{name}"
                if xs:
                    plt.plot(xs, ys, label=label, marker="braille")
                    drawn += 1
        if self.log_scale:
            plt.yscale("log")
        plt.title(f"{title} by {self.axis}" + ("" if drawn else " (no points yet)"))
        plot.refresh()
        self.redraws += 1

    def _x(self, run_id: str, step: int) -> float:
        if self.axis == "epoch":
            return self.epochs.get(run_id, {}).get(step, float(step))
        if self.axis == "time":
            times = self.times.get(run_id, {})
            start = min(times.values()) if times else 0.0
            return (times.get(step, start) - start) / 60.0
        return float(step)

    def _last(self, name: str) -> float | None:
        pts = self.series.get(self.selected or "", {}).get(name)
        return pts[-1][1] if pts else None

    def _show_stats(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        lr, sps, tps = self._last("lr"), self._last("samples_per_s"), self._last("tokens_per_s")
        steps_s = self._last("steps_per_s")
        eta = eta_seconds(run.step, run.total_steps, steps_s or 0.0)
        dev = self.shell.link_state.device
        mem = f"{dev.memory_used / 2**30:.1f}/{dev.memory_total / 2**30:.1f}G" if dev else "-"
        util = f" {dev.utilisation:.0f}%" if dev and dev.utilisation is not None else ""
        text = Text.assemble(
            (run.name, "bold"),
            " ",
            (run.state, STATE_STYLE.get(run.state, "")),
            f"  step {run.step:,}/{run.total_steps:,}",
            f"  ETA {fmt_duration(eta)}" if run.state in ("running", "paused") else "",
            "\n",
            f"lr {lr:.2e}  " if lr is not None else "",
            f"{sps:,.0f} samples/s  " if sps else "",
            f"{tps:,.0f} tok/s  " if tps else "",
            f"{run.device} {mem}{util}",
        )
        self.query_one("#tr-stats", Static).update(text)
        # the bar is the current epoch's progress; the text above has the whole run's
        epoch = int(run.epoch)
        done = run.epoch - epoch
        if run.state == "finished" or (done == 0 and run.step and run.epoch):
            epoch, done = max(epoch - 1, 0), 1.0  # at a boundary: the epoch just finished
        self.query_one("#tr-epoch", Label).update(f"epoch {epoch + 1}")
        self.query_one("#tr-progress", ProgressBar).update(total=1.0, progress=done)
        message = run.message
        if run.trainable or run.frozen:
            message = f"trainable {run.trainable:,} · frozen {run.frozen:,}  " + message
        self.query_one("#tr-message", Static).update(Text(message, style="dim"))

    def _show_confusion(self) -> None:
        reports = self.evals.get(self.selected or "", [])
        box = self.query_one("#tr-confusion", Static)
        if not reports:
            box.update(Text("no evaluation yet", style="dim"))
            return
        rep = reports[-1]
        head = Text(
            f"evaluation at step {rep.step} (epoch {rep.epoch:.2f}): "
            + ", ".join(f"{k} {v:.4f}" for k, v in rep.metrics.items()),
            style="bold",
        )
        parts: list[object] = [head]
        if rep.confusion:
            short = [lab[:7] for lab in rep.labels]
            cm = Table(
                title="confusion (rows true, columns predicted)",
                title_justify="left",
                box=None,
                header_style="dim",
                padding=(0, 1, 0, 0),
            )
            cm.add_column("")
            for lab in short:
                cm.add_column(lab, justify="right")
            for lab, row in zip(short, rep.confusion, strict=True):
                total = max(sum(row), 1)
                cm.add_row(
                    lab, *[Text(str(v), style="bold green" if v / total > 0.5 else "") for v in row]
                )
            parts.append(cm)
        if rep.per_class:
            pc = Table(box=None, header_style="dim", padding=(0, 1, 0, 0))
            for col in ("label", "precision", "recall", "f1", "support"):
                pc.add_column(col, justify="left" if col == "label" else "right")
            for lab, m in rep.per_class.items():
                pc.add_row(
                    lab[:16],
                    *[f"{m.get(k, 0):.3f}" for k in ("precision", "recall", "f1")],
                    f"{int(m.get('support', 0))}",
                )
            parts.append(pc)
        box.update(Group(*parts))  # type: ignore[arg-type]

    def _message(self, text: Text) -> None:
        self.query_one("#tr-message", Static).update(text)

    def _show_opts(self) -> None:
        title, _ = PLOTS[self.plot_index]
        self.query_one("#tr-plot-opts", Static).update(
            Text(
                f"{title} (v) · by {self.axis} (a) · smoothing {self.smoothing} (s) · "
                f"{'log' if self.log_scale else 'linear'} (g) · overlay {len(self.overlay)} (o)",
                style="dim",
            )
        )
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

        self.app.push_screen(LearningRateScreen(self._last("lr")), chosen)

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
        self.plot_index = (self.plot_index + 1) % len(PLOTS)
        self._show_opts()

    def action_cycle_smoothing(self) -> None:
        self.smoothing = SMOOTHING[(SMOOTHING.index(self.smoothing) + 1) % len(SMOOTHING)]
        self._show_opts()

    def action_cycle_axis(self) -> None:
        self.axis = AXES[(AXES.index(self.axis) + 1) % len(AXES)]
        self._show_opts()

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._show_opts()

    def action_toggle_overlay(self) -> None:
        """Mark or unmark the highlighted run for overlaying on the selected one."""
        options = self.query_one("#tr-runs", OptionList)
        if options.highlighted is None:
            return
        run_id = options.get_option_at_index(options.highlighted).id
        if run_id:
            self.overlay ^= {run_id}
            if run_id not in self.series:
                self.load_overlay(run_id)
            self._fill_list()
            self._show_opts()

    @work(group="tr-overlay", exit_on_error=False)
    async def load_overlay(self, run_id: str) -> None:
        try:
            hist = await self.shell.ask(P.RunShow(run_id=run_id))
        except EngineError:
            return
        self.series[run_id] = {k: list(v) for k, v in hist.series.items()}
        self.epochs[run_id] = dict(hist.series.get("epoch", []))
        self.times[run_id] = dict(hist.series.get("time", []))
        self._dirty = True

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tr-tabs", TabbedContent).active = tab


class LearningRateScreen(ModalScreen[str | None]):
    """A one-line prompt for a new learning rate (enter applies, escape cancels)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="lr.cancel")]
    DEFAULT_CSS = """
    LearningRateScreen { align: center middle; }
    LearningRateScreen > Vertical { width: 50; height: auto; border: thick $accent;
                                    background: $surface; padding: 0 1; }
    """

    def __init__(self, current: float | None) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"new learning rate (now {self._current:.3g})"
                if self._current
                else "new learning rate"
            )
            yield Input(placeholder="e.g. 3e-4", id="lr-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
