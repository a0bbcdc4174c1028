"""Metric series for plots: smoothing and downsampling to what a terminal can show.

A run can have a million points; a plot 70 cells wide shows about 140. Drawing
cost stays flat with history length because only the thinned series is drawn.
"""

from __future__ import annotations

import math


def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing; weight 0 returns values.

    A NaN or inf value is passed through without poisoning the values after it."""
    if weight <= 0 or not values:
        return list(values)
    out: list[float] = []
    last = 0.0
    n = 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


def downsample(xs: list[float], ys: list[float], buckets: int) -> tuple[list[float], list[float]]:
    """At most 2 x buckets points: each bucket keeps its min and max, in x order.

    Min/max per bucket keeps spikes (a NaN guard, a loss jump) visible, which a
    plain stride would drop.
    """
    n = len(xs)
    if n <= 2 * buckets or buckets <= 0:
        return list(xs), list(ys)
    out_x: list[float] = []
    out_y: list[float] = []
    size = n / buckets
    for b in range(buckets):
        lo, hi = int(b * size), max(int((b + 1) * size), int(b * size) + 1)
        seg = range(lo, min(hi, n))
        i_min = min(seg, key=ys.__getitem__)
        i_max = max(seg, key=ys.__getitem__)
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


def finite(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """Drop points whose x or y is NaN or inf (plotext cannot draw them)."""
    keep = [i for i, (x, y) in enumerate(zip(xs, ys, strict=True)) if math.isfinite(x + y)]
    return [xs[i] for i in keep], [ys[i] for i in keep]


def eta_seconds(step: int, total: int, steps_per_s: float) -> float | None:
    if total <= 0 or steps_per_s <= 0 or step >= total:
        return None
    return (total - step) / steps_per_s


def fmt_duration(seconds: float | None) -> str:
    """4s, 1m05s, 2h03m; '-' for no value."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(round(seconds), 0)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{sec:02d}s" if m else f"{sec}s"
