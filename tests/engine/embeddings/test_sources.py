"""The service's two pieces: VectorSources (the registry: list, load once, add, delete, each
change one CatalogChanged) and the queries that read from it; the service hands both out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import protocol as P
from engine.core.catalog import Changes
from engine.core.errors import EngineError
from engine.embeddings import queries
from engine.embeddings.service import EmbeddingService
from engine.embeddings.sources import VectorSources
from engine.paths import Home

WORDS = ["cat", "dog", "car", "truck", "cat"]  # the repeated word keeps its first row
MATRIX = np.array(
    [[1.0, 0.0, 0.1], [0.9, 0.1, 0.1], [0.0, 1.0, 0.0], [0.1, 0.9, 0.0], [5.0, 5.0, 5.0]],
    dtype=np.float32,
)


def registry(tmp_path: Path) -> tuple[VectorSources, list[P.Event]]:
    events: list[P.Event] = []
    return VectorSources(tmp_path / "vectors", Changes("vectors", events.append)), events


def test_a_table_added_is_listed_loaded_once_and_deleted(tmp_path: Path) -> None:
    sources, events = registry(tmp_path)
    info = sources.add_table("pets", WORDS, MATRIX, "a test")
    assert (info.name, info.dim, info.vocab_size, info.kind) == ("pets", 3, 4, "static")
    assert "1 repeated words kept their first row" in info.description
    assert [s.name for s in sources.list()][-1] == "pets"
    table = sources.table("pets")
    assert sources.table("pets") is table and table.words == WORDS[:4]
    fresh = sources.load("pets")  # read again, not the shared copy
    assert fresh is not table and fresh.words == table.words
    with pytest.raises(EngineError, match="already exists"):
        sources.add_table("pets", WORDS, MATRIX, "again")
    sources.delete("pets")
    with pytest.raises(EngineError, match="no vector source named 'pets'") as caught:
        sources.info("pets")
    assert caught.value.code == "not_found"
    changes = [(e.name, e.change) for e in events if isinstance(e, P.CatalogChanged)]
    assert len(events) == 2 and changes == [("pets", "added"), ("pets", "deleted")]


def test_unfinished_folders_are_removed_when_the_registry_opens(tmp_path: Path) -> None:
    leftover = tmp_path / "vectors" / ".tmp-123"
    leftover.mkdir(parents=True)
    registry(tmp_path)
    assert not leftover.exists()


def test_the_queries_read_from_the_registry(tmp_path: Path) -> None:
    sources, _ = registry(tmp_path)
    sources.add_table("pets", WORDS, MATRIX, "a test")
    near = queries.neighbours(sources, P.Neighbours(source="pets", query="cat", k=2))
    assert [n.word for n in near.neighbours] == ["dog", "truck"]
    batch = queries.neighbours_batch(
        sources, P.NeighboursBatch(source="pets", words=["car", "zebra"], k=1)
    )
    assert [[n.word for n in r] for r in batch.results] == [["truck"], []]
    assert batch.unknown == ["zebra"]
    with pytest.raises(EngineError, match="k must be between 1 and 4"):
        queries.check_k(5, sources.table("pets"))


def test_the_service_hands_out_the_registry_and_the_queries(home: Home) -> None:
    home.ensure()
    events: list[P.Event] = []
    service = EmbeddingService(home, Changes("vectors", events.append))
    assert service.sources.dir == service.dir == home.data_dir / "vectors"
    service.add_table("pets", WORDS, MATRIX, "a test")
    assert service.table("pets") is service.sources.table("pets")
    assert service.info("pets") == service.sources.info("pets")
    got = service.neighbours(P.Neighbours(source="pets", query="car", k=1))
    assert [n.word for n in got.neighbours] == ["truck"]
    service.delete("pets")
    assert len(events) == 2 and "pets" not in [s.name for s in service.list()]
