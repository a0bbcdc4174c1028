"""What a plot draws, without Textual: each run's series smoothed, thinned to the plot's width,
on its x axis with its ticks and units, the best checkpoint marked; and the value readout under
the cursor."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from screens.training.model import (
    COLORS,
    MARKER_GLYPH,
    MARKERS,
    PlotSettings,
    RunHistory,
    fmt_epoch,
    fmt_value,
)
from workbench.widgets.series import downsample, ema, finite, fmt_duration

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
