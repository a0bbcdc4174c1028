"""One-hot, bag-of-words and TF-IDF of a text, checked against scikit-learn used directly."""

from __future__ import annotations

import threading

import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from engine.core.errors import EngineError
from engine.protocol import Encode
from engine.tokenizers.encodings import VectorizerCache, encode_text

CORPUS = [
    "The film is a quiet delight.",
    "A loud, dull film; the plot is thin.",
    "Quiet performances carry the film.",
    "The plot, the plot! Nothing but plot.",
]
TEXT = "The plot of the film is QUIET, the plot is thin... zorbly gleep"


def ask(kind: str = "bow", **kw: object) -> Encode:
    fields: dict[str, object] = {"dataset": "d", "text": TEXT, "kind": kind}
    fields.update(kw)
    return Encode(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["onehot", "bow", "tfidf"])
def test_values_match_scikit_learn(kind: str):
    result = encode_text(CORPUS, ask(kind, top=0))
    if kind == "tfidf":
        reference = TfidfVectorizer().fit(CORPUS)
    else:
        reference = CountVectorizer(binary=kind == "onehot").fit(CORPUS)
    row = reference.transform([TEXT]).toarray()[0]
    names = reference.get_feature_names_out()
    expected = {names[i]: row[i] for i in row.nonzero()[0]}
    assert {t.term: t.value for t in result.terms} == pytest.approx(expected)
    assert all(names[t.index] == t.term for t in result.terms)
    assert result.vocabulary_size == len(names) and result.nonzero == len(expected)
    values = [t.value for t in result.terms]
    assert values == sorted(values, reverse=True)
    assert result.kind == kind and result.dataset == "d"


def test_counts_and_unknown_words():
    result = encode_text(CORPUS, ask("bow"))
    counts = {t.term: t.value for t in result.terms}
    assert counts["the"] == 3 and counts["plot"] == 2 and counts["quiet"] == 1
    assert result.terms[0].term == "the"
    assert result.unknown == ["of", "zorbly", "gleep"]
    onehot = encode_text(CORPUS, ask("onehot"))
    assert {t.value for t in onehot.terms} == {1.0}


def test_top_cuts_the_terms_not_the_count():
    result = encode_text(CORPUS, ask("bow", top=2))
    assert [t.term for t in result.terms] == ["the", "is"]  # "is" and "plot" tie: index order
    assert result.nonzero == 6  # the, plot, is, film, quiet, thin


def test_options_change_the_vocabulary():
    cased = encode_text(CORPUS, ask("bow", lowercase=False, top=0))
    assert "QUIET" in cased.unknown and "The" in {t.term for t in cased.terms}
    capped = encode_text(CORPUS, ask("bow", max_features=3, top=0))
    assert capped.vocabulary_size == 3
    assert {t.term for t in capped.terms} <= {"the", "plot", "film"}
    assert "quiet" in capped.unknown


def test_fits_are_cached_by_key():
    calls = []

    def texts() -> list[str]:
        calls.append(1)
        return CORPUS

    cache = VectorizerCache(size=2)
    first = encode_text(texts, ask("tfidf"), cache)
    again = encode_text(texts, ask("tfidf", text="quiet film"), cache)
    assert len(calls) == 1 and again.terms[0].term in ("quiet", "film")
    assert first.vocabulary_size == again.vocabulary_size
    encode_text(texts, ask("bow"), cache)
    encode_text(texts, ask("onehot"), cache)  # the tfidf fit is now the oldest of three
    assert len(calls) == 3 and len(cache) == 2
    encode_text(texts, ask("tfidf"), cache)
    assert len(calls) == 4
    cache.forget(lambda key: True)
    assert len(cache) == 0


def test_concurrent_callers_fit_once():
    calls = []
    gate = threading.Event()

    def texts() -> list[str]:
        calls.append(1)
        gate.wait(1)
        return CORPUS

    cache = VectorizerCache()
    threads = [threading.Thread(target=encode_text, args=(texts, ask(), cache)) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_empty_inputs_are_refused():
    with pytest.raises(EngineError, match="dataset 'd' split 'train' has no texts") as err:
        encode_text([], ask())
    assert err.value.code == "empty"
    with pytest.raises(EngineError, match="gives no vocabulary"):
        encode_text(["...", "!!"], ask())
    with pytest.raises(EngineError, match="max features"):
        encode_text(CORPUS, ask(max_features=0))
    with pytest.raises(EngineError, match="no encoding 'word2vec'"):
        encode_text(CORPUS, ask("word2vec"))
    empty = encode_text(CORPUS, ask(text=""))
    assert empty.terms == [] and empty.nonzero == 0 and empty.unknown == []
