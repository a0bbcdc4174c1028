"""JobContexts for tests: they record progress and cancel on cue."""

from __future__ import annotations

from engine.core.errors import Cancelled


class Recorder:
    """A JobContext that records progress and cancels after `cancel_after` reports."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.reports: list[tuple[float, float, str]] = []
        self.cancel_after = cancel_after

    def progress(self, done: float, total: float, message: str = "") -> None:
        self.reports.append((done, total, message))

    def check_cancelled(self) -> None:
        if self.cancel_after is not None and len(self.reports) >= self.cancel_after:
            raise Cancelled()


class CheckCounter:
    """A JobContext that records progress and cancels after `cancel_after` checks."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.points: list[tuple[float, float]] = []
        self.checks = 0
        self.cancel_after = cancel_after

    def progress(self, done: float, total: float, message: str = "") -> None:
        self.points.append((done, total))

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancel_after is not None and self.checks > self.cancel_after:
            raise Cancelled()
