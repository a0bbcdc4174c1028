"""One-hot, bag-of-words and TF-IDF of one text against a dataset's vocabulary (scikit-learn).

Fitting on a dataset takes a second or more; a small LRU of fitted vectorizers, keyed by what
changes the fit, makes the next query on the same dataset instant.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from engine.core.errors import EngineError
from engine.core.limits import within
from engine.protocol import Encode, EncodeResult, TermValue

KINDS = ("onehot", "bow", "tfidf")
CACHE_SIZE = 4


@dataclass(frozen=True)
class Fitted:
    vectorizer: CountVectorizer  # TfidfVectorizer is one too
    terms: np.ndarray  # feature index -> term


class VectorizerCache:
    """A thread-safe LRU of fitted vectorizers; two callers fitting one key fit it once."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Fitted] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, fit: Callable[[], Fitted]) -> Fitted:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._fitting.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                fitted = fit()
            finally:
                with self._lock:
                    self._fitting.pop(key, None)
            with self._lock:
                self._items[key] = fitted
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return fitted

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key matches (a dataset deleted or changed)."""
        with self._lock:
            for key in [k for k in self._items if match(k)]:
                del self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items


def cache_key(req: Encode) -> tuple[object, ...]:
    """What changes a fit: the dataset and split, the kind and the vectorizer's options."""
    return (req.dataset, req.split, req.kind, req.lowercase, req.max_features)


def _vectorizer(req: Encode) -> CountVectorizer:
    if req.kind == "tfidf":
        return TfidfVectorizer(lowercase=req.lowercase, max_features=req.max_features)
    return CountVectorizer(
        binary=req.kind == "onehot", lowercase=req.lowercase, max_features=req.max_features
    )


def fit(texts: list[str], req: Encode) -> Fitted:
    """A vectorizer of req.kind fitted on texts; EngineError when they give no vocabulary."""
    where = f"dataset '{req.dataset}'" + (f" split '{req.split}'" if req.split else "")
    if not texts:
        raise EngineError(f"{where} has no texts", hint="choose another split", code="empty")
    vectorizer = _vectorizer(req)
    try:
        vectorizer.fit(texts)
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise EngineError(
            f"{where} gives no vocabulary: {exc}", hint="check the texts have words", code="empty"
        ) from None
    return Fitted(vectorizer=vectorizer, terms=vectorizer.get_feature_names_out())


def check_request(req: Encode) -> None:
    if req.kind not in KINDS:
        raise EngineError(
            f"there is no encoding '{req.kind}'", hint="encodings are: " + ", ".join(KINDS)
        )
    if req.max_features is not None and req.max_features < 1:
        raise EngineError(
            f"max features must be at least 1 (it is {req.max_features})",
            hint="leave it empty to keep every word",
        )
    if req.top < 0:
        raise EngineError(f"top must be 0 (all) or more (it is {req.top})", hint="use 50")
    within("top", req.top, 0, 100_000)


def encode_text(
    texts: list[str] | Callable[[], list[str]],
    req: Encode,
    cache: VectorizerCache | None = None,
    key: Hashable | None = None,
) -> EncodeResult:
    """req.text as a vector over the vocabulary fitted on texts: its non-zero terms, largest
    first (top N; 0: all), and its words outside the vocabulary in order of appearance.

    texts may be a callable, called only when the fit is not cached under key (by default
    cache_key(req)).
    """
    check_request(req)

    def fit_now() -> Fitted:
        return fit(texts() if callable(texts) else texts, req)

    fitted = (
        cache.get(cache_key(req) if key is None else key, fit_now)
        if cache is not None
        else fit_now()
    )
    vectorizer = fitted.vectorizer
    row = vectorizer.transform([req.text]).tocsr()
    indices, values = row.indices, row.data
    order = np.lexsort((indices, -values))  # value desc, then vocabulary order
    if req.top:
        order = order[: req.top]
    vocabulary = vectorizer.vocabulary_
    words = vectorizer.build_analyzer()(req.text)
    return EncodeResult(
        dataset=req.dataset,
        kind=req.kind,
        vocabulary_size=len(vocabulary),
        terms=[
            TermValue(term=str(fitted.terms[i]), index=int(i), value=float(v))
            for i, v in zip(indices[order], values[order], strict=True)
        ],
        nonzero=int(row.nnz),
        unknown=[w for w in dict.fromkeys(words) if w not in vocabulary],
    )
