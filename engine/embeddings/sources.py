"""The registry of vector sources: which there are, loading their tables, adding and deleting.

Sources are the built-ins (glove-6b-50d, minilm-input, minilm) and the tables added from files
or from a trained model, each in data_dir/vectors/NAME/ (see engine.embeddings.static): listing the
folder is the registry, so no store table is needed. Tables load once, whichever thread asks
first, and are shared read-only; every method is safe to call from the engine's thread pool.
Every addition and deletion is one CatalogChanged, through `changes`.
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
from engine.embeddings import files, static
from engine.embeddings.static import BUILTINS, StaticTable

if TYPE_CHECKING:
    from engine.embeddings.contextual import ContextualEncoder

log = logging.getLogger("engine.embeddings")


class VectorSources:
    """Lists, loads, adds and deletes the vector sources under folder (data_dir/vectors)."""

    def __init__(self, folder: Path, changes: Changes) -> None:
        self.dir = folder
        self.changes = changes
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
            raise self.unknown(name)
        return _info_of(static.read_meta(folder), name)

    def unknown(self, name: str) -> EngineError:
        """not_found for a source there is not, listing those there are."""
        names = ", ".join(s.name for s in self.list())
        return EngineError(
            f"no vector source named '{name}'", hint=f"sources are: {names}", code="not_found"
        )

    # ------------------------------------------------------------- loading

    def table(self, name: str) -> StaticTable:
        """The named static table, loaded once and shared (read-only)."""
        return self._tables.get(name, self.load)

    def load(self, name: str) -> StaticTable:
        """Read the named static table (every call reads it: table() keeps the one copy)."""
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
