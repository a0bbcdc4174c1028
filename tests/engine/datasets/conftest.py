"""A dataset service on a fresh home, with the catalog changes it announces recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import protocol as P
from engine.core.catalog import Changes
from engine.core.store import Store
from engine.datasets.service import DatasetService
from engine.paths import resolve_home


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: P.Event) -> None:
        assert isinstance(event, P.CatalogChanged)
        self.events.append((event.name, event.change))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[DatasetService, Recorder]]:
    home = resolve_home(tmp_path / "home")
    home.ensure()
    store = Store(home.db)
    seen = Recorder()
    yield DatasetService(home, store, Changes("datasets", seen)), seen
    store.close()
