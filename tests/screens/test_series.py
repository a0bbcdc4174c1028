"""Plot series helpers: smoothing, downsampling that keeps spikes, ETA text."""

from __future__ import annotations

import math
import random

from workbench.widgets.series import downsample, ema, eta_seconds, finite, fmt_duration


def test_ema_zero_weight_is_identity_and_smooths_otherwise() -> None:
    values = [1.0, 3.0, 1.0, 3.0]
    assert ema(values, 0.0) == values
    smooth = ema(values, 0.9)
    assert smooth[0] == 1.0  # debiased: the first point is itself
    assert max(smooth) - min(smooth) < max(values) - min(values)


def test_downsample_bounds_points_and_keeps_the_spike() -> None:
    rng = random.Random(0)
    xs = [float(i) for i in range(100_000)]
    ys = [1.0 + rng.random() * 0.1 for _ in xs]
    ys[54_321] = 50.0  # a spike must survive
    dx, dy = downsample(xs, ys, 70)
    assert len(dx) <= 140
    assert 50.0 in dy
    assert dx == sorted(dx)
    assert downsample(xs[:10], ys[:10], 70) == (xs[:10], ys[:10])


def test_ema_passes_nan_and_inf_through_without_poisoning_what_follows() -> None:
    smooth = ema([1.0, math.nan, 3.0, math.inf, 1.0], 0.5)
    assert math.isnan(smooth[1]) and math.isinf(smooth[3])
    assert all(math.isfinite(v) for v in (smooth[0], smooth[2], smooth[4]))


def test_finite_drops_nan_and_inf() -> None:
    assert finite([1, 2, 3], [1.0, math.nan, math.inf]) == ([1], [1.0])
    assert finite([math.nan, 2], [1.0, 2.0]) == ([2], [2.0])  # an x with no place too


def test_eta_and_duration() -> None:
    assert eta_seconds(50, 150, 10.0) == 10.0
    assert eta_seconds(150, 150, 10.0) is None
    assert fmt_duration(3725) == "1h02m" and fmt_duration(65) == "1m05s"
    assert fmt_duration(4.4) == "4s" and fmt_duration(59.6) == "1m00s"
    assert fmt_duration(None) == "-" and fmt_duration(math.nan) == "-"
