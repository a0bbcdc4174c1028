"""Real texts for tokenizer tests."""

from __future__ import annotations

from pathlib import Path

from engine.core.catalog import quiet
from engine.core.store import Store
from engine.datasets.service import DatasetService
from engine.paths import resolve_home


def split_texts(home_dir: Path, split: str) -> list[str]:
    """Rotten Tomatoes texts of one split, through the dataset service."""
    home = resolve_home(home_dir)
    home.ensure()
    service = DatasetService(home, Store(home.db), quiet("datasets"))
    return service.texts("rotten-tomatoes", split)
