"""Helpers for benchmarks: a throwaway engine, percentiles, a results table."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.paths import Home, resolve_home
from tests.conftest import start_engine, stop_engine


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def temp_home() -> Iterator[Home]:
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        yield resolve_home(Path(tmp) / "home")


@contextmanager
def running_engine(home: Home) -> Iterator[None]:
    proc = start_engine(home)
    try:
        yield
    finally:
        stop_engine(proc)


def load_note() -> str:
    """The machine's load: benchmarks on a shared box are only comparable side by side."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def row(name: str, value: str, aim: str = "", peer: str = "", ratio: str = "") -> dict[str, str]:
    return {"figure": name, "value": value, "aim": aim, "peer": peer, "ratio": ratio}
