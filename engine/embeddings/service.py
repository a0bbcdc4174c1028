"""The embedding service: vector sources and the calls that use them.

Sources are the built-ins (glove-6b-50d, minilm-input, minilm) and the tables added from files
or from a trained model, each in data_dir/vectors/NAME/ (see engine.embeddings.static): listing the
folder is the registry, so no store table is needed. Tables load once, whichever thread asks
first, and are shared read-only; every method is safe to call from the engine's thread pool.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine import protocol as P
from engine.core.catalog import NAME, Changes, LoadOnce, check_new_name
from engine.core.errors import EngineError, JobContext, NullContext
from engine.embeddings import expression, files, static
from engine.embeddings.static import BUILTINS, StaticTable
from engine.paths import Home

if TYPE_CHECKING:
    from engine.embeddings.contextual import ContextualEncoder

log = logging.getLogger("engine.embeddings")
MAX_BATCH_WORDS = 10_000


class EmbeddingService:
    """Lists, loads, adds and deletes vector sources, and answers the calls that use them."""

    def __init__(self, home: Home, changes: Changes) -> None:
        self.home = home
        self.changes = changes
        self.dir = home.data_dir / "vectors"
        self._lock = threading.RLock()
        self._tables: LoadOnce[str, StaticTable] = LoadOnce()
        self._encoder: ContextualEncoder | None = None
        for leftover in self.dir.glob(".tmp-*"):
            log.info("removing unfinished vector folder %s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)

    # ------------------------------------------------------------- listing

    def list(self) -> list[P.VectorSourceInfo]:
        """Built-ins first (available or not, with the pip line when not), then added sources,
        oldest first."""
        out = [spec.info(static.locate(spec) is not None) for spec in BUILTINS.values()]
        added: list[tuple[float, P.VectorSourceInfo]] = []
        for folder in self.dir.iterdir() if self.dir.is_dir() else []:
            if folder.is_dir() and NAME.match(folder.name) and folder.name not in BUILTINS:
                try:
                    meta = static.read_meta(folder)
                except EngineError as exc:
                    log.warning("skipping vector source %s: %s", folder.name, exc.message)
                    continue
                added.append((_number(meta, "created"), _info_of(meta, folder.name)))
        return out + [info for _, info in sorted(added, key=lambda a: (a[0], a[1].name))]

    def info(self, name: str) -> P.VectorSourceInfo:
        """One source's catalogue entry; EngineError not_found listing the sources."""
        spec = BUILTINS.get(name)
        if spec is not None:
            return spec.info(static.locate(spec) is not None)
        folder = self.dir / name
        if not NAME.match(name) or not (folder / static.META_FILE).is_file():
            raise self._unknown(name)
        return _info_of(static.read_meta(folder), name)

    def _unknown(self, name: str) -> EngineError:
        names = ", ".join(s.name for s in self.list())
        return EngineError(
            f"no vector source named '{name}'", hint=f"sources are: {names}", code="not_found"
        )

    # ------------------------------------------------------------- loading

    def table(self, name: str) -> StaticTable:
        """The named static table, loaded once and shared (read-only)."""
        return self._tables.get(name, self._load)

    def _load(self, name: str) -> StaticTable:
        spec = BUILTINS.get(name)
        if spec is not None and spec.kind == "contextual":
            raise EngineError(
                f"'{name}' is contextual: a word's vector depends on its sentence, so there is "
                "no word table to search",
                hint=f"use {static.MINILM_INPUT} for MiniLM's input embedding table, or "
                f"{static.GLOVE}; compare a word across sentences with the context view",
            )
        if name == static.GLOVE:
            return static.load_glove(BUILTINS[name], self._cache_dir())
        if name == static.MINILM_INPUT:
            return static.load_minilm_input(BUILTINS[name])
        info = self.info(name)
        return static.read_table(self.dir / name, info)

    def _cache_dir(self) -> Path | None:
        try:
            (self.dir / static.CACHE_DIR).mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return self.dir / static.CACHE_DIR

    def encoder(self, name: str = static.MINILM) -> ContextualEncoder:
        """The contextual model named (only minilm for now), loaded on first use."""
        spec = BUILTINS.get(name)
        if spec is None or spec.kind != "contextual":
            self.info(name)  # unknown names: not_found listing the sources
            raise EngineError(
                f"'{name}' is a static table: it gives a word one vector whatever the sentence",
                hint=f"contextual sources are: {static.MINILM}",
            )
        folder = static.require(spec)[0].parent
        with self._lock:
            if self._encoder is None:
                from engine.embeddings.contextual import ContextualEncoder

                self._encoder = ContextualEncoder(folder)
            encoder = self._encoder
        encoder.load()
        return encoder

    # ------------------------------------------------------------- changes

    def check_new_name(self, name: str) -> None:
        """Raise EngineError unless name is usable and free (built-ins included)."""
        check_new_name("vector source", name, taken=name in BUILTINS or (self.dir / name).exists())

    def add(self, req: P.VectorAdd, ctx: JobContext | None = None) -> P.VectorSourceResult:
        """Read a GloVe/word2vec text file or an .npy array with its words, and save it as the
        source req.name (a job: progress in bytes read, cancellable)."""
        ctx = ctx or NullContext()
        self.check_new_name(req.name)
        path = Path(req.path).expanduser()
        words_path = Path(req.words_path).expanduser() if req.words_path else None
        ctx.progress(0, 1, f"reading {path.name}")
        read = files.read_vectors(path, req.format, words_path, ctx)
        ctx.check_cancelled()
        ctx.progress(1, 1, f"saving {len(read.words):,} vectors")
        info = self._save(req.name, read.words, read.matrix, str(path.resolve()), read.describe())
        return P.VectorSourceResult(source=info)

    def add_table(
        self, name: str, words: Sequence[str], matrix: np.ndarray, source: str
    ) -> P.VectorSourceInfo:
        """Save a word table (a trained model's embedding layer, say) as a static source;
        repeated words keep their first row."""
        self.check_new_name(name)
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) != len(words) or len(words) == 0:
            raise EngineError(
                f"{len(words):,} words for a table of shape {matrix.shape}",
                hint="give one word per row of a 2-D table",
            )
        first: dict[str, int] = {}
        for i, w in enumerate(words):
            first.setdefault(str(w), i)
        if len(first) < len(words):
            matrix = matrix[list(first.values())]
        repeated = len(words) - len(first)
        description = f"table from {source}: {len(first):,} words in {matrix.shape[1]} dimensions"
        if repeated:
            description += f"; {repeated:,} repeated words kept their first row"
        return self._save(name, list(first), matrix, source, description)

    def _save(
        self, name: str, words: list[str], matrix: np.ndarray, source: str, description: str
    ) -> P.VectorSourceInfo:
        meta = {
            "name": name,
            "dim": int(matrix.shape[1]),
            "rows": len(words),
            "source": source,
            "created": time.time(),
            "description": description,
        }
        try:
            static.save_table(self.dir / name, words, matrix, meta)
        except FileExistsError:
            raise EngineError(
                f"a vector source named '{name}' already exists",
                "choose another name, or delete the old one first",
                "exists",
            ) from None
        except OSError as exc:
            raise EngineError(
                f"cannot save the vectors in {self.dir}: {exc}",
                hint="free some disk space, or check the folder's permissions",
            ) from None
        log.info("added vector source %s: %s", name, description)
        self.changes.added(name)
        return self.info(name)

    def delete(self, name: str) -> None:
        """Remove an added source and its folder; built-ins cannot be deleted."""
        if name in BUILTINS:
            raise EngineError(
                f"'{name}' is built in and cannot be deleted",
                hint="uninstall its package to hide it",
            )
        self.info(name)  # not_found when there is none
        folder = self.dir / name
        doomed = self.dir / f".tmp-deleted-{uuid.uuid4().hex}"
        with self._lock:
            self._tables.forget(name)
            folder.rename(doomed)  # gone from the listing at once; searches in flight keep
        shutil.rmtree(doomed, ignore_errors=True)  # their mapping until they finish
        self.changes.deleted(name)

    # ------------------------------------------------------------- neighbours

    def neighbours(self, req: P.Neighbours) -> P.NeighboursResult:
        """The k nearest words to a word or an expression (3CosAdd: the signed sum of unit
        vectors), inputs left out when req.exclude_inputs. Unknown words: EngineError naming
        all of them (code unknown_word)."""
        t0 = time.perf_counter()
        terms = expression.parse(req.query)
        table = self.table(req.source)
        _check_k(req.k, table)
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

    def neighbours_batch(self, req: P.NeighboursBatch) -> P.NeighboursBatchResult:
        """The k nearest words to each word (itself left out), in one batched search; unknown
        words get [] and are listed in `unknown`."""
        t0 = time.perf_counter()
        if len(req.words) > MAX_BATCH_WORDS:
            raise EngineError(
                f"{len(req.words):,} words given; at most {MAX_BATCH_WORDS:,} at a time",
                hint="split them into several requests",
            )
        table = self.table(req.source)
        _check_k(req.k, table)
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

    def context(self, req: P.ContextSimilarity) -> P.ContextResult:
        """How one word's contextual vector moves across sentences, next to the static source,
        which gives it one vector whatever the sentence."""
        from engine.embeddings.contextual import CUT_MARK, check_sentences, cosine_matrix

        word = req.word.strip()
        if not word:
            raise EngineError("no word given", hint="type the word to follow across sentences")
        check_sentences(req.sentences)
        static_known = False
        if req.static_source:
            static_known = self.table(req.static_source).row(word) is not None
        vectors, pieces, texts = self.encoder(req.source).word_vectors(word, req.sentences)
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

    def sentences(self, req: P.SentenceSimilarity) -> P.SentenceSimilarityResult:
        """Cosines between mean-pooled, normalised sentence vectors."""
        from engine.embeddings.contextual import CUT_MARK, check_sentences

        check_sentences(req.sentences)
        vectors, texts = self.encoder(req.source).sentence_vectors(req.sentences)
        matrix = np.clip(vectors.astype(np.float64) @ vectors.T.astype(np.float64), -1.0, 1.0)
        return P.SentenceSimilarityResult(
            source=req.source,
            sentences=[t.removesuffix(CUT_MARK) for t in texts],
            matrix=matrix.tolist(),
            truncated=[t.endswith(CUT_MARK) for t in texts],
        )

    # ------------------------------------------------------------- projection

    def project(self, req: P.Project, ctx: JobContext | None = None) -> P.ProjectionResult:
        """req's words in 2D by PCA or t-SNE (a job: t-SNE reports progress, cancellable)."""
        from engine.embeddings.projection import project

        table = self.table(req.source)
        if req.neighbours_of:
            _check_k(req.k, table)

        def neighbours_of(word: str, k: int) -> list[str]:
            row = table.row(word)
            if row is None:
                return []
            hits = table.search.nearest(table.unit[row][None], k, [{row}])[0]
            return [table.words[r] for r, _ in hits]

        return project(req, table.vector, neighbours_of, ctx or NullContext())


# ------------------------------------------------------------------ helpers


def _number(meta: dict[str, object], key: str) -> float:
    value = meta.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _info_of(meta: dict[str, object], name: str) -> P.VectorSourceInfo:
    return P.VectorSourceInfo(
        name=name,
        kind="static",
        dim=int(_number(meta, "dim")),
        vocab_size=int(_number(meta, "rows")),
        source=str(meta.get("source", "")),
        description=str(meta.get("description", "")),
    )


def _check_k(k: int, table: StaticTable) -> None:
    if not 1 <= k <= table.size:
        raise EngineError(
            f"k must be between 1 and {table.size:,} (the words in {table.name}); got {k}",
            hint="ask for fewer neighbours" if k > table.size else "ask for at least one",
        )
