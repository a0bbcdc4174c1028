"""Shared, read-only embedding fixtures: one service per test session, so GloVe and MiniLM load
once. Tests that add or delete sources make their own service on a fresh home."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from engine.data.errors import Cancelled
from engine.embed.service import EmbeddingService
from engine.paths import resolve_home


@functools.cache
def shared_service() -> EmbeddingService:
    """A service on a private temporary home, built once per process."""
    root = Path(tempfile.mkdtemp(prefix="wb-embed-"))
    atexit.register(shutil.rmtree, root, True)
    home = resolve_home(root)
    home.ensure()
    return EmbeddingService(home)


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
