"""Shared, read-only embedding fixtures: one service per test session, so GloVe and MiniLM load
once. Tests that add or delete sources make their own service on a fresh home."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from engine.core.catalog import quiet
from engine.embeddings.service import EmbeddingService
from engine.paths import resolve_home


@functools.cache
def shared_service() -> EmbeddingService:
    """A service on a private temporary home, built once per process."""
    root = Path(tempfile.mkdtemp(prefix="wb-embed-"))
    atexit.register(shutil.rmtree, root, True)
    home = resolve_home(root)
    home.ensure()
    return EmbeddingService(home, quiet("vectors"))
