"""The training monitor's state without Textual: every run's series as they arrive, the plot
settings, and which lines a plot draws (smoothed, thinned to its width, on its x axis)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import protocol as P
from workbench.widgets.series import downsample, ema, finite

PLOTS = [
    ("loss", ["train_loss", "val_loss"]),
    ("accuracy", ["val_accuracy", "train_accuracy"]),
    ("macro F1", ["val_macro_f1"]),
    ("perplexity", ["val_perplexity"]),
]
AXES = ["step", "epoch", "time"]
SMOOTHING = [0.0, 0.6, 0.9, 0.98]

Points = list[tuple[int, float]]


@dataclass(frozen=True)
class Line:
    """One series of one run as a plot draws it."""

    label: str
    xs: list[float]
    ys: list[float]


@dataclass
class PlotSettings:
    """Which plot, on which x axis, how smoothed (train series only), linear or log."""

    plot_index: int = 0
    axis: str = "step"
    smoothing: float = 0.6
    log_scale: bool = False

    @property
    def title(self) -> str:
        return PLOTS[self.plot_index][0]

    @property
    def series_names(self) -> list[str]:
        return PLOTS[self.plot_index][1]

    def cycle_plot(self) -> None:
        self.plot_index = (self.plot_index + 1) % len(PLOTS)

    def cycle_smoothing(self) -> None:
        i = SMOOTHING.index(self.smoothing) if self.smoothing in SMOOTHING else -1
        self.smoothing = SMOOTHING[(i + 1) % len(SMOOTHING)]

    def cycle_axis(self) -> None:
        self.axis = AXES[(AXES.index(self.axis) + 1) % len(AXES)]

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def describe(self, overlaid: int) -> str:
        return (
            f"{self.title} (v) · by {self.axis} (a) · smoothing {self.smoothing} (s) · "
            f"{'log' if self.log_scale else 'linear'} (g) · overlay {overlaid} (o)"
        )


@dataclass
class RunHistory:
    """Every point of the runs loaded so far: series, the epoch and wall time of each step,
    evaluation reports. A run's live points are kept only once its history is loaded."""

    series: dict[str, dict[str, Points]] = field(default_factory=dict)  # run -> name -> points
    epochs: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> step -> epoch
    times: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> step -> time
    evals: dict[str, list[P.EvalReport]] = field(default_factory=dict)

    def load(self, run_id: str, hist: P.RunHistory, evals: bool = True) -> None:
        """A run's whole history replaces what was kept of it."""
        self.series[run_id] = {k: list(v) for k, v in hist.series.items()}
        self.epochs[run_id] = dict(hist.series.get("epoch", []))
        self.times[run_id] = dict(hist.series.get("time", []))
        if evals:
            self.evals[run_id] = list(hist.evals)

    def append(self, points: list[P.MetricPoint]) -> None:
        for p in points:
            series = self.series.get(p.run_id)
            if series is None:
                continue  # history not loaded yet: it will include this point
            series.setdefault(p.series, []).append((p.step, p.value))
            self.epochs.setdefault(p.run_id, {})[p.step] = p.epoch
            self.times.setdefault(p.run_id, {})[p.step] = p.time

    def add_eval(self, run_id: str, report: P.EvalReport) -> None:
        self.evals.setdefault(run_id, []).append(report)

    def last_eval(self, run_id: str | None) -> P.EvalReport | None:
        reports = self.evals.get(run_id or "", [])
        return reports[-1] if reports else None

    def points(self, run_id: str, name: str) -> Points:
        return self.series.get(run_id, {}).get(name, [])

    def last(self, run_id: str | None, name: str) -> float | None:
        pts = self.series.get(run_id or "", {}).get(name)
        return pts[-1][1] if pts else None

    def x(self, run_id: str, step: int, axis: str) -> float:
        """Where a step sits on the axis: the step, its epoch, or minutes since the first."""
        if axis == "epoch":
            return self.epochs.get(run_id, {}).get(step, float(step))
        if axis == "time":
            times = self.times.get(run_id, {})
            start = min(times.values()) if times else 0.0
            return (times.get(step, start) - start) / 60.0
        return float(step)

    def lines(
        self, runs: list[str], names: dict[str, str], settings: PlotSettings, width: int
    ) -> list[Line]:
        """The lines of the plot for these runs (the first is the selected one; names gives
        each its name), thinned to width buckets; runs or series with no points are left out."""
        out: list[Line] = []
        for run_id in runs:
            for name in settings.series_names:
                pts = self.points(run_id, name)
                if not pts:
                    continue
                xs = [self.x(run_id, s, settings.axis) for s, _ in pts]
                ys = [v for _, v in pts]
                if name.startswith("train"):
                    ys = ema(ys, settings.smoothing)
                xs, ys = finite(*downsample(xs, ys, width))
                if settings.log_scale:
                    xs, ys = finite(xs, [v if v > 0 else float("nan") for v in ys])
                label = name if len(runs) == 1 else f"{names.get(run_id, run_id)}:{name}"
                if xs:
                    out.append(Line(label, xs, ys))
        return out


def epoch_progress(run: P.RunInfo) -> tuple[int, float]:
    """The epoch the bar shows (counting from 1) and how much of it is done."""
    epoch = int(run.epoch)
    done = run.epoch - epoch
    if run.state == "finished" or (done == 0 and run.step and run.epoch):
        epoch, done = max(epoch - 1, 0), 1.0  # at a boundary: the epoch just finished
    return epoch + 1, done
