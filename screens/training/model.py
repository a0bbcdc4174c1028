"""The training monitor's state without Textual: every run's series as they arrive, the plot
settings, durations, a smoothed ETA, the best evaluation and the test score. What a plot draws is
in plotspec, the runs table in runtable, the confusion matrix in matrix."""

from __future__ import annotations

import itertools
import math
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine import protocol as P
from workbench.widgets.series import fmt_duration


class PlotKind(NamedTuple):
    title: str
    series: list[str]
    ylabel: str  # the y axis title, with its unit


PLOTS = [
    PlotKind("loss", ["train_loss", "val_loss"], "cross-entropy (nats)"),
    PlotKind("accuracy", ["val_accuracy", "train_accuracy"], "accuracy (share right)"),
    PlotKind("macro F1", ["val_macro_f1"], "macro F1 (0-1)"),
    PlotKind("perplexity", ["val_perplexity"], "perplexity (e^loss)"),
    PlotKind(
        "exact match", ["val_exact_match", "val_token_accuracy"], "share right (outputs, tokens)"
    ),
    PlotKind("BLEU", ["val_bleu"], "BLEU (0-100)"),
    PlotKind("learning rate", ["lr"], "learning rate"),
    PlotKind("gradient norm", ["grad_norm"], "gradient L2 norm"),
    PlotKind(
        "robust accuracy",
        ["robust_accuracy", "val_accuracy", "attack_success_rate"],
        "share right under attack",
    ),
]
ROBUST_PLOT = len(PLOTS) - 1  # drawn beside the chosen plot when a run measures it
ROBUST_SERIES = "robust_accuracy"  # what [train] robust_every records
AXES = ["step", "epoch", "time"]
SMOOTHING = [0.0, 0.6, 0.9, 0.98]
LIVE = ("queued", "running", "paused")
LOWER_IS_BETTER = ("loss", "perplexity")

# each line of a plot: its own marker (reads without colour) and colour
MARKERS = ["braille", "•", "x", "+", "o", "*", "#", "%"]
MARKER_GLYPH = {"braille": "⣿"}
COLORS = [
    (255, 165, 0),
    (0, 200, 255),
    (230, 90, 230),
    (90, 220, 90),
    (240, 220, 60),
    (130, 150, 255),
    (255, 100, 100),
    (200, 200, 200),
]

Points = list[tuple[int, float]]


# --------------------------------------------------------------------- numbers as text


def fmt_value(v: float | None) -> str:
    """A metric as people read it: 0.8123, 2.2031, 1.23e-05, 1,234; '-' for none."""
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4f}"


def fmt_epoch(epoch: float) -> str:
    """Epochs reached, as the header and every evaluation print them."""
    return f"{epoch:.2f}"


def fmt_eta(seconds: float | None) -> str:
    """Rounded so that it does not flicker: 10 s steps under 10 minutes, minutes above."""
    if seconds is None:
        return "-"
    if seconds < 600:
        return "~" + fmt_duration(max(10.0, round(seconds / 10) * 10))
    if seconds < 36_000:
        return f"~{round(seconds / 60)}m"
    return "~" + fmt_duration(seconds)


def fmt_started(started: float, now: float) -> str:
    """12:23 today, else 11-30 12:23; '-' when it never started."""
    if not started:
        return "-"
    t, today = time.localtime(started), time.localtime(now)
    if t[:3] == today[:3]:
        return time.strftime("%H:%M", t)
    return time.strftime("%m-%d %H:%M", t)


# --------------------------------------------------------------------- durations, ETA


def trained_seconds(run: P.RunInfo) -> float | None:
    """Seconds actually spent training, every session together (not the time in between)."""
    return run.active if run.active > 0 else None


def wall_seconds(run: P.RunInfo, now: float, last_time: float | None = None) -> float | None:
    """From the first start to the end (or now, while it trains); a run cut short by a dead
    engine ends at its last recorded point (last_time), unknown without one."""
    if not run.started:
        return None
    if run.state in LIVE:
        return max(now - run.started, 0.0)
    if run.ended and run.ended >= run.resumed:
        return max(run.ended - run.started, 0.0)
    if last_time:
        return max(last_time - run.started, 0.0)
    return None


def smoothed_eta(
    times: dict[int, float], step: int, total: int, window: int = 1000
) -> float | None:
    """Seconds left at the mean time a step took over the last `window` steps, evaluations and
    checkpoints included, pauses left out (a gap far above the usual step): it moves slowly
    and does not jump after a pause or an evaluation."""
    if total <= 0 or step >= total or len(times) < 2:
        return None
    recent = list(itertools.islice(reversed(times.items()), window + 1))[::-1]
    gaps = [
        ((t1 - t0), (s1 - s0))
        for (s0, t0), (s1, t1) in itertools.pairwise(recent)
        if s1 > s0 and t1 >= t0
    ]
    if not gaps:
        return None
    usual = statistics.median(dt / ds for dt, ds in gaps)
    kept = [(dt, ds) for dt, ds in gaps if dt <= max(5.0, 50 * usual * ds)]
    steps = sum(ds for _, ds in kept)
    if not steps:
        return None
    return (total - step) * sum(dt for dt, _ in kept) / steps


def epoch_progress(run: P.RunInfo) -> tuple[int, float]:
    """The epoch the bar shows (counting from 1) and how much of it is done."""
    epoch = int(run.epoch)
    done = run.epoch - epoch
    if run.state == "finished" or (done == 0 and run.step and run.epoch):
        epoch, done = max(epoch - 1, 0), 1.0  # at a boundary: the epoch just finished
    return epoch + 1, done


# --------------------------------------------------------------------- best and test


def best_eval(run: P.RunInfo, evals: list[P.EvalReport]) -> P.EvalReport | None:
    """The validation evaluation that set the run's best value (the best checkpoint's)."""
    if run.best is None:
        return None
    hits = [
        e
        for e in evals
        if e.split == "validation"
        and run.metric in e.metrics
        and math.isclose(e.metrics[run.metric], run.best, rel_tol=1e-9, abs_tol=1e-12)
    ]
    return min(hits, key=lambda e: e.step) if hits else None


def best_text(run: P.RunInfo, best_step: int | None = None) -> str:
    """'best val macro_f1 0.8123 @ step 40' (the step when the history is known)."""
    if run.best is None:
        return f"best val {run.metric} -"
    at = f" @ step {best_step:,}" if best_step is not None else ""
    return f"best val {run.metric} {fmt_value(run.best)}{at}"


def scored_test(run: P.RunInfo) -> float | None:
    """The best checkpoint's score on the test split, in the run's metric."""
    return run.test.get(run.metric)


def scored_test_text(run: P.RunInfo) -> str:
    if not run.test:
        return "test -"
    value = scored_test(run)
    if value is None:
        name, value = next(iter(run.test.items()))
        return f"test {name} {fmt_value(value)}"
    return f"test {run.metric} {fmt_value(value)}"


# --------------------------------------------------------------------- plot settings


@dataclass
class PlotSettings:
    """Which plot, on which x axis, how smoothed (train series only), linear or log."""

    plot_index: int = 0
    axis: str = "step"
    smoothing: float = 0.6
    log_scale: bool = False

    @property
    def kind(self) -> PlotKind:
        return PLOTS[self.plot_index % len(PLOTS)]

    @property
    def title(self) -> str:
        return self.kind.title

    @property
    def series_names(self) -> list[str]:
        return self.kind.series

    def robust(self) -> PlotSettings:
        """The robust accuracy panel's settings: this plot's axis and smoothing, linear."""
        return PlotSettings(ROBUST_PLOT, self.axis, self.smoothing, False)

    def cycle_plot(self) -> None:
        self.plot_index = (self.plot_index + 1) % len(PLOTS)

    def cycle_smoothing(self) -> None:
        i = SMOOTHING.index(self.smoothing) if self.smoothing in SMOOTHING else -1
        self.smoothing = SMOOTHING[(i + 1) % len(SMOOTHING)]

    def cycle_axis(self) -> None:
        self.axis = AXES[(AXES.index(self.axis) + 1) % len(AXES)] if self.axis in AXES else "step"

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def describe(self, overlaid: int) -> str:
        """How the plot is drawn, after its title ('loss by step'): smoothing, scale, overlay."""
        more = f" · +{overlaid} run{'s' if overlaid != 1 else ''}" if overlaid else ""
        return f"smoothing {self.smoothing} · {'log' if self.log_scale else 'linear'}{more}"

    def to_state(self) -> dict[str, Any]:
        return {
            "plot": self.title,
            "axis": self.axis,
            "smoothing": self.smoothing,
            "log": self.log_scale,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> PlotSettings:
        """Settings saved by to_state(); anything unknown or of the wrong type: the default."""
        s = cls()
        titles = [p.title for p in PLOTS]
        if data.get("plot") in titles:
            s.plot_index = titles.index(data["plot"])
        if data.get("axis") in AXES:
            s.axis = data["axis"]
        if data.get("smoothing") in SMOOTHING:
            s.smoothing = float(data["smoothing"])
        if isinstance(data.get("log"), bool):
            s.log_scale = data["log"]
        return s


# --------------------------------------------------------------------- history


@dataclass
class RunHistory:
    """Every point of the runs loaded so far: series, the epoch and wall time of each step,
    evaluation reports. A run's live points are kept only once its history is loaded."""

    series: dict[str, dict[str, Points]] = field(default_factory=dict)  # run -> name -> points
    epochs: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> step -> epoch
    times: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> step -> unix time
    evals: dict[str, list[P.EvalReport]] = field(default_factory=dict)

    def load(
        self,
        run_id: str,
        hist: P.RunHistory,
        evals: bool = True,
        arrived: list[P.MetricPoint] | None = None,
    ) -> None:
        """A run's whole history replaces what was kept of it; then the live points that
        arrived while it was asked for and are newer than it (they came before it)."""
        self.series[run_id] = {k: list(v) for k, v in hist.series.items()}
        self.epochs[run_id] = dict(hist.series.get("epoch", []))
        self.times[run_id] = dict(hist.times)
        if evals or run_id not in self.evals:
            self.evals[run_id] = list(hist.evals)
        last = {name: pts[-1][0] for name, pts in hist.series.items() if pts}
        self.append(
            [p for p in arrived or () if p.run_id == run_id and p.step > last.get(p.series, 0)]
        )

    def forget(self, run_id: str) -> None:
        for kept in (self.series, self.epochs, self.times, self.evals):
            kept.pop(run_id, None)

    def append(self, points: list[P.MetricPoint]) -> None:
        for p in points:
            series = self.series.get(p.run_id)
            if series is None:
                continue  # history not loaded yet: its load brings this point
            pts = series.setdefault(p.series, [])
            # a resumed run replays from its checkpoint: what came after it is gone
            while pts and pts[-1][0] >= p.step:
                pts.pop()
            pts.append((p.step, p.value))
            for kept, value in ((self.epochs, p.epoch), (self.times, p.time)):
                by_step = kept.setdefault(p.run_id, {})
                if by_step and next(reversed(by_step)) >= p.step:
                    if p.series != "epoch" and p.step in by_step:
                        continue  # this step's place is known (its epoch point set it)
                    _drop_from(by_step, p.step)
                by_step[p.step] = value

    def add_eval(self, run_id: str, report: P.EvalReport) -> None:
        reports = self.evals.setdefault(run_id, [])
        reports[:] = [r for r in reports if not (r.split == report.split and r.step >= report.step)]
        reports.append(report)

    def last_eval(self, run_id: str | None, split: str = "validation") -> P.EvalReport | None:
        reports = [r for r in self.evals.get(run_id or "", []) if r.split == split]
        return reports[-1] if reports else None

    def points(self, run_id: str, name: str) -> Points:
        return self.series.get(run_id, {}).get(name, [])

    def last(self, run_id: str | None, name: str) -> float | None:
        pts = self.series.get(run_id or "", {}).get(name)
        return pts[-1][1] if pts else None

    def last_time(self, run_id: str) -> float | None:
        times = self.times.get(run_id)
        return next(reversed(times.values())) if times else None

    def start_time(self, run_id: str) -> float | None:
        times = self.times.get(run_id)
        return min(times.values()) if times else None

    def x(self, run_id: str, step: int, axis: str, start: float | None = None) -> float | None:
        """Where a step sits on the axis: the step, its epoch, or seconds since the run's
        first point (wall time, gaps between sessions included); None when unknown."""
        if axis == "epoch":
            return self.epochs.get(run_id, {}).get(step)
        if axis == "time":
            t = self.times.get(run_id, {}).get(step)
            if t is None:
                return None
            start = self.start_time(run_id) if start is None else start
            return t - (start or t)
        return float(step)

    def xs_of(self, run_id: str, pts: Points, axis: str) -> tuple[list[float], list[float]]:
        """The points of a series on the axis (points with no place on it are left out)."""
        start = self.start_time(run_id) if axis == "time" else None
        xs: list[float] = []
        ys: list[float] = []
        for s, v in pts:
            x = self.x(run_id, s, axis, start)
            if x is not None:
                xs.append(x)
                ys.append(v)
        return xs, ys


def _drop_from(by_step: dict[int, float], step: int) -> None:
    """Forget the steps from step on (kept in step order, so they are at the end)."""
    while by_step and next(reversed(by_step)) >= step:
        by_step.popitem()


def split_names(config_toml: str) -> tuple[str | None, str | None]:
    """The run's validation and test splits, as its configuration names them."""
    try:
        data = tomllib.loads(config_toml).get("data", {})
    except (tomllib.TOMLDecodeError, AttributeError):
        return "validation", "test"
    validation = data.get("validation_split", "validation") or None
    test = data.get("test_split", "test") or None
    return (
        str(validation) if validation else None,
        str(test) if test and test != validation else None,
    )
