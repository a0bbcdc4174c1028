"""The calls that use vector sources: nearest neighbours of a word or an expression (one or a
batch), a word's contextual vectors across sentences, sentence similarity, and 2D projections.
Each takes the VectorSources it reads from."""

from __future__ import annotations

import time

import numpy as np

from engine import protocol as P
from engine.core.errors import EngineError, JobContext, NullContext
from engine.core.limits import product, within
from engine.embeddings import expression
from engine.embeddings.sources import VectorSources
from engine.embeddings.static import StaticTable

MAX_BATCH_WORDS = 10_000
MAX_BATCH_NEIGHBOURS = 1_000_000  # words x k in one answer
MAX_PROJECTED = 20_000  # words drawn in one projection


def neighbours(sources: VectorSources, req: P.Neighbours) -> P.NeighboursResult:
    """The k nearest words to a word or an expression (3CosAdd: the signed sum of unit
    vectors), inputs left out when req.exclude_inputs. Unknown words: EngineError naming
    all of them (code unknown_word)."""
    t0 = time.perf_counter()
    terms = expression.parse(req.query)
    table = sources.table(req.source)
    check_k(req.k, table)
    rows = [table.row(t.word) for t in terms]
    missing = [t.word for t, r in zip(terms, rows, strict=True) if r is None]
    if missing:
        raise table.unknown(list(dict.fromkeys(missing)))
    query = np.zeros(table.dim, dtype=np.float64)
    for term, r in zip(terms, rows, strict=True):
        query += term.sign * np.asarray(table.unit[r], dtype=np.float64)
    if np.linalg.norm(query) < 1e-6:
        raise EngineError(
            f"'{req.query}' adds up to the zero vector: its words cancel out",
            hint="change a sign or a word",
        )
    exclude = {r for r in rows if r is not None} if req.exclude_inputs else set()
    hits = table.search.nearest(query[None].astype(np.float32), req.k, [exclude])[0]
    return P.NeighboursResult(
        source=table.name,
        query=req.query,
        terms=[
            P.ExpressionTerm(word=table.words[r], sign=t.sign, known=True)
            for t, r in zip(terms, rows, strict=True)
            if r is not None
        ],
        neighbours=[P.Neighbour(word=table.words[r], score=s) for r, s in hits],
        unknown=[],
        seconds=time.perf_counter() - t0,
    )


def neighbours_batch(sources: VectorSources, req: P.NeighboursBatch) -> P.NeighboursBatchResult:
    """The k nearest words to each word (itself left out), in one batched search; unknown
    words get [] and are listed in `unknown`."""
    t0 = time.perf_counter()
    product("neighbours", {"words": len(req.words), "k": req.k}, MAX_BATCH_NEIGHBOURS,
            hint="ask for a smaller k, or fewer words at a time")  # fmt: skip
    if len(req.words) > MAX_BATCH_WORDS:
        raise EngineError(
            f"{len(req.words):,} words given; at most {MAX_BATCH_WORDS:,} at a time",
            hint="split them into several requests",
        )
    table = sources.table(req.source)
    check_k(req.k, table)
    rows = [table.row(w.strip()) for w in req.words]
    known = [r for r in rows if r is not None]
    hits: list[list[tuple[int, float]]] = []
    if known:
        queries = np.asarray(table.unit[np.array(known)], dtype=np.float32)
        hits = table.search.nearest(queries, req.k, [{r} for r in known])
    found = iter(hits)
    results = [
        [] if r is None else [P.Neighbour(word=table.words[h], score=s) for h, s in next(found)]
        for r in rows
    ]
    unknown = [w for w, r in zip(req.words, rows, strict=True) if r is None]
    return P.NeighboursBatchResult(
        source=table.name,
        results=results,
        unknown=list(dict.fromkeys(unknown)),
        seconds=time.perf_counter() - t0,
    )


# ------------------------------------------------------------- contextual


def context(sources: VectorSources, req: P.ContextSimilarity) -> P.ContextResult:
    """How one word's contextual vector moves across sentences, next to the static source,
    which gives it one vector whatever the sentence."""
    from engine.embeddings.contextual import CUT_MARK, check_sentences, cosine_matrix

    word = req.word.strip()
    if not word:
        raise EngineError("no word given", hint="type the word to follow across sentences")
    check_sentences(req.sentences)
    static_known = False
    if req.static_source:
        static_known = sources.table(req.static_source).row(word) is not None
    vectors, pieces, texts = sources.encoder(req.source).word_vectors(word, req.sentences)
    return P.ContextResult(
        word=word,
        source=req.source,
        sentences=[t.removesuffix(CUT_MARK) for t in texts],
        truncated=[t.endswith(CUT_MARK) for t in texts],
        found=[v is not None for v in vectors],
        pieces=pieces,
        similarity=cosine_matrix(vectors),
        static_source=req.static_source,
        static_known=static_known,
    )


def sentences(sources: VectorSources, req: P.SentenceSimilarity) -> P.SentenceSimilarityResult:
    """Cosines between mean-pooled, normalised sentence vectors."""
    from engine.embeddings.contextual import CUT_MARK, check_sentences

    check_sentences(req.sentences)
    vectors, texts = sources.encoder(req.source).sentence_vectors(req.sentences)
    matrix = np.clip(vectors.astype(np.float64) @ vectors.T.astype(np.float64), -1.0, 1.0)
    return P.SentenceSimilarityResult(
        source=req.source,
        sentences=[t.removesuffix(CUT_MARK) for t in texts],
        matrix=matrix.tolist(),
        truncated=[t.endswith(CUT_MARK) for t in texts],
    )


# ------------------------------------------------------------- projection


def check_project(req: P.Project) -> None:
    """EngineError for a projection too large to draw (before its job starts)."""
    words = len(req.words) + sum(len(w) for w in req.groups.values())
    within("words to project", words + (req.k if req.neighbours_of else 0), 0, MAX_PROJECTED,
           hint="project fewer words at a time")  # fmt: skip


def project(
    sources: VectorSources, req: P.Project, ctx: JobContext | None = None
) -> P.ProjectionResult:
    """req's words in 2D by PCA or t-SNE (a job: t-SNE reports progress, cancellable)."""
    from engine.embeddings.projection import project as project_words

    check_project(req)
    table = sources.table(req.source)
    if req.neighbours_of:
        check_k(req.k, table)

    def neighbours_of(word: str, k: int) -> list[str]:
        row = table.row(word)
        if row is None:
            return []
        hits = table.search.nearest(table.unit[row][None], k, [{row}])[0]
        return [table.words[r] for r, _ in hits]

    return project_words(req, table.vector, neighbours_of, ctx or NullContext())


def check_k(k: int, table: StaticTable) -> None:
    """EngineError unless 1 <= k <= the words in table."""
    if not 1 <= k <= table.size:
        raise EngineError(
            f"k must be between 1 and {table.size:,} (the words in {table.name}); got {k}",
            hint="ask for fewer neighbours" if k > table.size else "ask for at least one",
        )
