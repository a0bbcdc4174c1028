"""The training monitor's state without Textual: every run's series as they arrive, the plot
settings, what a plot draws (smoothed, thinned to its width, on its x axis, with its ticks, the
best checkpoint and the readout cursor), the values under the cursor, the runs table (cells,
sort, filter), durations, a smoothed ETA and a confusion matrix's class codes and shading."""

from __future__ import annotations

import bisect
import itertools
import math
import re
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine import protocol as P
from workbench.widgets.series import downsample, ema, finite, fmt_duration


class PlotKind(NamedTuple):
    title: str
    series: list[str]
    ylabel: str  # the y axis title, with its unit


PLOTS = [
    PlotKind("loss", ["train_loss", "val_loss"], "cross-entropy (nats)"),
    PlotKind("accuracy", ["val_accuracy", "train_accuracy"], "accuracy (share right)"),
    PlotKind("macro F1", ["val_macro_f1"], "macro F1 (0-1)"),
    PlotKind("perplexity", ["val_perplexity"], "perplexity (e^loss)"),
    PlotKind("learning rate", ["lr"], "learning rate"),
    PlotKind("gradient norm", ["grad_norm"], "gradient L2 norm"),
]
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

    def load(self, run_id: str, hist: P.RunHistory, evals: bool = True) -> None:
        """A run's whole history replaces what was kept of it."""
        self.series[run_id] = {k: list(v) for k, v in hist.series.items()}
        self.epochs[run_id] = dict(hist.series.get("epoch", []))
        self.times[run_id] = dict(hist.times)
        if evals or run_id not in self.evals:
            self.evals[run_id] = list(hist.evals)

    def forget(self, run_id: str) -> None:
        for kept in (self.series, self.epochs, self.times, self.evals):
            kept.pop(run_id, None)

    def append(self, points: list[P.MetricPoint]) -> None:
        for p in points:
            series = self.series.get(p.run_id)
            if series is None:
                continue  # history not loaded yet: it will include this point
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


# --------------------------------------------------------------------- what a plot draws


@dataclass(frozen=True)
class Line:
    """One series of one run as a plot draws it."""

    label: str
    xs: list[float]
    ys: list[float]
    marker: str = "braille"
    color: tuple[int, int, int] = COLORS[0]
    run_id: str = ""
    series: str = ""

    @property
    def glyph(self) -> str:
        return MARKER_GLYPH.get(self.marker, self.marker)


@dataclass
class PlotSpec:
    """Everything a plot shows, decided here so that drawing cannot fail on odd data."""

    title: str
    lines: list[Line]
    xlabel: str
    ylabel: str
    xlim: tuple[float, float] = (0.0, 1.0)
    ylim: tuple[float, float] = (0.0, 1.0)
    xticks: tuple[list[float], list[str]] = ([], [])
    yticks: tuple[list[float], list[str]] = ([], [])
    best: tuple[float, float] | None = None  # where the best checkpoint sits on the plot
    best_step: int | None = None
    cursor_x: float | None = None
    note: str = ""  # what could not be drawn, and why
    time_unit: str = ""


TIME_UNITS = [("s", 1.0), ("min", 60.0), ("h", 3600.0)]


def time_unit(span_seconds: float) -> tuple[str, float]:
    """Seconds for a couple of minutes, minutes for a couple of hours, then hours."""
    if span_seconds < 120:
        return TIME_UNITS[0]
    if span_seconds < 7200:
        return TIME_UNITS[1]
    return TIME_UNITS[2]


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """About count round ticks (1, 2 or 5 times a power of ten) from lo to hi; whole numbers
    only when integer."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [round(lo) if integer else lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), 10 * mag)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(float(round(v)) if integer else round(v, 12))
        v += step
    return ticks


def tick_label(v: float, step: float) -> str:
    """As many decimals as the ticks' spacing needs, no more."""
    if step >= 1 and float(v).is_integer():
        return f"{int(v):,}" if abs(v) < 1e6 else f"{v:.3g}"
    if abs(v) >= 1e5 or (v != 0 and abs(v) < 1e-3):
        return f"{v:.2g}"
    decimals = max(0, min(6, -math.floor(math.log10(step)) if step > 0 else 2))
    return f"{v:.{decimals}f}"


def _ticks(lo: float, hi: float, integer: bool, count: int = 5) -> tuple[list[float], list[str]]:
    ticks = nice_ticks(lo, hi, count, integer)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return ticks, [tick_label(t, step) for t in ticks]


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks of a log10 axis (lo, hi are exponents), labelled with the values."""
    if hi - lo >= 1:
        exps = nice_ticks(math.floor(lo), math.ceil(hi), 5, integer=True)
        exps = [e for e in exps if lo - 1e-9 <= e <= hi + 1e-9] or [lo]
        return exps, [f"{10**e:.0e}" if abs(e) > 2 else f"{10**e:g}" for e in exps]
    values = [v for v in nice_ticks(10**lo, 10**hi, 6) if v > 0] or [10 ** ((lo + hi) / 2)]
    step = values[1] - values[0] if len(values) > 1 else abs(values[0] or 1)
    return [math.log10(v) for v in values], [tick_label(v, step) for v in values]


def _limits(values: list[float], pad_share: float, min_pad: float) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = max(abs(lo) * 0.1, min_pad)
        return lo - pad, hi + pad
    pad = (hi - lo) * pad_share
    return lo - pad, hi + pad


def plot_spec(
    history: RunHistory,
    runs: list[str],
    names: dict[str, str],
    settings: PlotSettings,
    width: int,
    best_step: int | None = None,
    cursor_step: int | None = None,
) -> PlotSpec:
    """The lines of the plot for these runs (the first is the one watched; names gives each
    its name), thinned to width buckets, on the chosen axis and scale, with ticks that read
    (whole steps), the watched run's best checkpoint and the readout cursor."""
    kind = settings.kind
    axis = settings.axis
    raw: list[tuple[str, str, list[float], list[float]]] = []
    dropped = 0
    for run_id in runs:
        for name in kind.series:
            pts = history.points(run_id, name)
            if not pts:
                continue
            xs, ys = history.xs_of(run_id, pts, axis)
            if name.startswith("train"):
                ys = ema(ys, settings.smoothing)
            n = len(xs)
            xs, ys = finite(xs, ys)
            dropped += n - len(xs)
            if settings.log_scale:
                keep = [i for i, y in enumerate(ys) if y > 0]
                dropped += len(ys) - len(keep)
                xs, ys = [xs[i] for i in keep], [math.log10(ys[i]) for i in keep]
            xs, ys = downsample(xs, ys, max(width, 1))
            if xs:
                raw.append((run_id, name, xs, ys))
    unit, scale = ("", 1.0)
    if axis == "time":
        span = max((max(xs) for _, _, xs, _ in raw), default=0.0)
        unit, scale = time_unit(span)
    xlabel = {"step": "step", "epoch": "epoch"}.get(axis, f"wall time ({unit or 's'})")
    ylabel = kind.ylabel + (" · log" if settings.log_scale else "")
    title = f"{kind.title} by {axis}"
    lines: list[Line] = []
    for i, (run_id, name, xs, ys) in enumerate(raw):
        label = name if len(runs) == 1 else f"{names.get(run_id, run_id)}:{name}"
        lines.append(
            Line(
                label=label,
                xs=[x / scale for x in xs],
                ys=ys,
                marker=MARKERS[i % len(MARKERS)],
                color=COLORS[i % len(COLORS)],
                run_id=run_id,
                series=name,
            )
        )
    spec = PlotSpec(title=title, lines=lines, xlabel=xlabel, ylabel=ylabel, time_unit=unit)
    if dropped:
        why = "≤ 0, NaN or inf" if settings.log_scale else "NaN or inf"
        spec.note = f"{dropped:,} points {why} not drawn"
    if not lines:
        spec.title = title + " (no points yet)"
        spec.xticks = ([0.0, 1.0], ["0", "1"])
        spec.yticks = ([0.0, 1.0], ["0", "1"])
        return spec
    all_x = [x for line in lines for x in line.xs]
    all_y = [y for line in lines for y in line.ys]
    integer = axis == "step"
    spec.xlim = _limits(all_x, 0.0, 0.1 if axis == "epoch" else 1.0)
    spec.ylim = _limits(all_y, 0.05, 1e-3)
    spec.xticks = _ticks(*spec.xlim, integer=integer)
    spec.yticks = _log_ticks(*spec.ylim) if settings.log_scale else _ticks(*spec.ylim, False, 4)
    primary = runs[0] if runs else ""
    start = history.start_time(primary) if axis == "time" else None
    if best_step is not None:
        spec.best_step = best_step
        bx = history.x(primary, best_step, axis, start)
        for name in kind.series:
            if not name.startswith("val_") or bx is None:
                continue
            value = dict(history.points(primary, name)).get(best_step)
            if value is None or not math.isfinite(value):
                continue
            if settings.log_scale:
                if value <= 0:
                    continue
                value = math.log10(value)
            spec.best = (bx / scale, value)
            break
    if cursor_step is not None:
        cx = history.x(primary, cursor_step, axis, start)
        spec.cursor_x = None if cx is None else cx / scale
    return spec


# --------------------------------------------------------------------- the value readout


def cursor_stops(history: RunHistory, run_id: str, count: int) -> list[int]:
    """The steps the readout cursor stops at: about count of them, evenly through the run."""
    steps = list(history.epochs.get(run_id, {}))
    if not steps:
        for pts in history.series.get(run_id, {}).values():
            if len(pts) > len(steps):
                steps = [s for s, _ in pts]
    steps = sorted(set(steps))
    if len(steps) <= count or count < 2:
        return steps
    stride = (len(steps) - 1) / (count - 1)
    return sorted({steps[round(i * stride)] for i in range(count)})


def move_cursor(stops: list[int], current: int | None, by: int) -> int | None:
    """The stop `by` places from the one nearest current (from the end when there is none)."""
    if not stops:
        return None
    if current is None:
        return stops[-1]
    i = bisect.bisect_left(stops, current)
    if i >= len(stops) or (i > 0 and current - stops[i - 1] < stops[i] - current):
        i = max(i - 1, 0)
    return stops[min(max(i + by, 0), len(stops) - 1)]


def value_at(xs: list[float], ys: list[float], x: float) -> tuple[int, float] | None:
    """The index and value of the last point at or before x."""
    i = bisect.bisect_right(xs, x + 1e-9) - 1
    return (i, ys[i]) if i >= 0 else None


def readout(
    history: RunHistory,
    runs: list[str],
    names: dict[str, str],
    settings: PlotSettings,
    step: int,
) -> list[str]:
    """What the cursor reads: where it is (step, epoch, wall time of the watched run) and the
    value of every series of the plot there, for every run drawn (the last point at or before
    it; a train series' smoothed value too)."""
    primary = runs[0]
    axis = settings.axis
    epoch = history.epochs.get(primary, {}).get(step)
    start = history.start_time(primary)
    t = history.times.get(primary, {}).get(step)
    head = [f"step {step:,}"]
    if epoch is not None:
        head.append(f"epoch {fmt_epoch(epoch)}")
    if t is not None and start is not None:
        head.append(f"{fmt_duration(t - start)} wall")
    if settings.smoothing > 0 and any(n.startswith("train") for n in settings.kind.series):
        head.append("(~ smoothed)")
    parts = [" · ".join(head)]
    x = history.x(primary, step, axis, start)
    if x is None:
        return parts
    for run_id in runs:
        values = []
        for name in settings.kind.series:
            pts = history.points(run_id, name)
            if not pts:
                continue
            xs, ys = history.xs_of(run_id, pts, axis)
            found = value_at(xs, ys, x)
            if found is None:
                values.append(f"{name} -")
                continue
            i, value = found
            at_step = pts[i][0] if len(xs) == len(pts) else None
            text = f"{name} {fmt_value(value)}"
            if name.startswith("train") and settings.smoothing > 0:
                text += f" (~{fmt_value(ema(ys[: i + 1], settings.smoothing)[-1])})"
            elif at_step is not None and at_step != step:
                text += f" @{at_step:,}"
            values.append(text)
        if not values:
            continue
        who = "" if len(runs) == 1 else f"{names.get(run_id, run_id)}: "
        parts.append(who + " · ".join(values))
    return parts


# --------------------------------------------------------------------- the runs table


class Column(NamedTuple):
    key: str
    title: str
    width: int  # at most this many cells (longer text ends in …)


COLUMNS = [
    Column("mark", " ", 1),
    Column("name", "name", 18),
    Column("state", "state", 11),
    Column("best", "best val", 16),
    Column("test", "test", 16),
    Column("trained", "trained", 7),
    Column("wall", "wall", 7),
    Column("started", "started", 11),
    Column("arch", "arch", 16),
    Column("dataset", "dataset", 16),
    Column("settings", "settings", 48),
]
SORT_KEYS = [c.key for c in COLUMNS if c.key != "mark"]


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def run_cells(run: P.RunInfo, marked: bool, now: float) -> tuple[str, ...]:
    """The row of the runs table: one text per column of COLUMNS, each cut to its width."""
    best = f"{run.metric} {fmt_value(run.best)}" if run.best is not None else "-"
    test = scored_test(run)
    values = {
        "mark": "◆" if marked else " ",
        "name": run.name,
        "state": run.state,
        "best": best,
        "test": f"{run.metric} {fmt_value(test)}" if test is not None else "-",
        "trained": fmt_duration(trained_seconds(run)),
        "wall": fmt_duration(wall_seconds(run, now)),
        "started": fmt_started(run.started, now),
        "arch": run.arch,
        "dataset": run.dataset,
        "settings": run.summary or "-",
    }
    return tuple(clip(values[c.key], c.width) for c in COLUMNS)


def _sort_value(run: P.RunInfo, key: str, now: float) -> tuple[Any, ...]:
    """Runs without a value sort last whatever the order (the caller puts them there)."""
    if key == "best":
        return (run.metric, run.best) if run.best is not None else ()
    if key == "test":
        test = scored_test(run)
        return (run.metric, test) if test is not None else ()
    if key == "trained":
        return (run.active,) if run.active else ()
    if key == "wall":
        wall = wall_seconds(run, now)
        return (wall,) if wall is not None else ()
    if key == "started":
        return (run.started or run.created, run.created)
    if key == "settings":
        return (run.summary.casefold(),) if run.summary else ()
    return (str(getattr(run, key, "")).casefold(),)


def sort_runs(runs: list[P.RunInfo], key: str, reverse: bool, now: float) -> list[P.RunInfo]:
    """By a column (ties by creation), reversed on request; runs with no value last."""
    key = key if key in SORT_KEYS else "started"
    by_created = sorted(runs, key=lambda r: (r.created, r.run_id))
    have = [r for r in by_created if _sort_value(r, key, now)]
    lack = [r for r in by_created if not _sort_value(r, key, now)]
    have.sort(key=lambda r: _sort_value(r, key, now), reverse=reverse)
    return have + lack


def matches(run: P.RunInfo, text: str) -> bool:
    """Every word of text is in the run's id, name, state, architecture, dataset, metric or
    settings (case does not matter)."""
    hay = " ".join(
        (run.run_id, run.name, run.state, run.arch, run.dataset, run.metric, run.summary)
    ).casefold()
    return all(word in hay for word in text.casefold().split())


def table_runs(
    runs: list[P.RunInfo], text: str, key: str, reverse: bool, now: float
) -> list[P.RunInfo]:
    """The runs the table shows, in its order."""
    return sort_runs([r for r in runs if matches(r, text)], key, reverse, now)


def next_sort_key(key: str) -> str:
    return SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)] if key in SORT_KEYS else "name"


def column_title(column: Column, sort_key: str, reverse: bool) -> str:
    if column.key != sort_key:
        return column.title
    return column.title + (" ▼" if reverse else " ▲")


# --------------------------------------------------------------------- confusion matrix

SHADES = " ·░▒▓█"  # share of the true class's row: 0, <10%, <25%, <50%, <75%, more
SHADE_LEGEND = "· <10%  ░ <25%  ▒ <50%  ▓ <75%  █ more of the row"


def class_codes(labels: list[str], width: int = 3) -> list[str]:
    """Short unique codes (at most width characters) for a matrix's columns: the label when
    every label is that short, else the initials of its parts (comp.sys.mac.hardware: csm),
    or a word's first letters (interest: int); a taken code tries later letters, then digits."""
    if all(len(lab) <= width for lab in labels) and len(set(labels)) == len(labels):
        return list(labels)
    taken: set[str] = set()
    out: list[str] = []
    for label in labels:
        parts = [p.lower() for p in re.split(r"[^0-9A-Za-z]+", label) if p] or ["x"]
        if len(parts) == 1:
            word = parts[0]
            first = word[:width]
            later = [word[: width - 1] + c for c in word[width - 1 :]]
        else:
            initials = "".join(p[0] for p in parts)
            first = initials[:width]
            later = [first[: width - 1] + c for c in parts[-1][1:] + "".join(parts[:-1])]
        digits = [first[: width - len(str(n))] + str(n) for n in range(1, 100)]
        code = next(c for c in [first, *later, *digits] if c and c not in taken)
        taken.add(code)
        out.append(code)
    return out


def matrix_layout(classes: int, width: int) -> tuple[int, int]:
    """(code width, label width) of a confusion matrix that fits width cells: each column is
    a code wide plus a space; each row starts with its code and as much of its label as fits."""
    for code_w, label_w in ((4, 16), (3, 14), (3, 10), (2, 10), (2, 6), (2, 0)):
        head = code_w + 1 + (label_w + 1 if label_w else 0)
        if head + classes * (code_w + 1) <= width:
            return code_w, label_w
    return 2, 0


def shade(count: int, row_total: int) -> str:
    """The heat of a cell as a character (reads without colour)."""
    if count <= 0 or row_total <= 0:
        return SHADES[0]
    share = count / row_total
    for i, bound in enumerate((0.10, 0.25, 0.50, 0.75)):
        if share < bound:
            return SHADES[i + 1]
    return SHADES[-1]


def cell_text(rep: P.EvalReport, t: int, p: int, codes: list[str]) -> str:
    """What the status line says about one cell: both labels, the count and its share."""
    row = rep.confusion[t]
    total = sum(row)
    share = f" ({100 * row[p] / total:.1f}% of {total:,})" if total else ""
    kind = "right" if t == p else "wrong"

    def named(i: int) -> str:  # the code, and the name where the code is short for it
        return rep.labels[i] if codes[i] == rep.labels[i] else f"{codes[i]} {rep.labels[i]}"

    return f"true {named(t)} → predicted {named(p)}: {row[p]:,}{share}, {kind}"


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
