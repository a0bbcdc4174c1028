"""Histograms of lengths (words, characters, tokens) as the protocol carries them."""

from __future__ import annotations

import numpy as np

from engine.protocol import HistogramInfo


def histogram(values: np.ndarray, bins: int, unit: str) -> HistogramInfo:
    """numpy's histogram with mean, median and max, as the protocol carries it."""
    if len(values) == 0:
        return HistogramInfo(edges=[], counts=[], unit=unit)
    counts, edges = np.histogram(values, bins=bins)
    return HistogramInfo(
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        unit=unit,
        mean=float(values.mean()),
        median=float(np.median(values)),
        max=float(values.max()),
    )
