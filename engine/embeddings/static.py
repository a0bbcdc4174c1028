"""Static vector tables: words in row order and a float32 matrix of their unit vectors.

Built-ins come from asset packages, found through their distribution metadata and never
imported. A saved table is a folder holding vectors.npy (unit rows, float32, Fortran order so
that search maps its transpose as is), words.txt (one word a line, in row order) and meta.json.
Added sources live in data_dir/vectors/NAME/ and GloVe's unit copy in data_dir/vectors/.cache/,
so that later loads map the file instead of rebuilding it.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core import assets
from engine.core.assets import Asset
from engine.core.errors import EngineError
from engine.embeddings.expression import split_hint
from engine.protocol import VectorSourceInfo

if TYPE_CHECKING:
    from engine.embeddings.search import CosineIndex

log = logging.getLogger("engine.embeddings")

VECTORS_FILE = "vectors.npy"
WORDS_FILE = "words.txt"
META_FILE = "meta.json"
CACHE_DIR = ".cache"  # names must start with a letter or digit, so this never clashes
_CHUNK = 65536  # rows normalised at a time: bounded temporaries for any table size
_SUGGEST_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789'-"

GLOVE = "glove-6b-50d"
MINILM_INPUT = "minilm-input"
MINILM = "minilm"


@dataclass(frozen=True)
class BuiltinSource:
    """A vector source shipped in a pinned PyPI package."""

    name: str
    kind: str  # "static" or "contextual"
    asset: Asset  # the package and the files inside it, all needed
    dim: int
    vocab_size: int  # 0 for contextual sources
    lowercase: bool
    description: str

    def info(self, available: bool) -> VectorSourceInfo:
        return VectorSourceInfo(
            name=self.name,
            kind=self.kind,
            dim=self.dim,
            vocab_size=self.vocab_size,
            source="builtin",
            available=available,
            hint="" if available else self.asset.hint,
            description=self.description,
        )


BUILTINS: dict[str, BuiltinSource] = {
    spec.name: spec
    for spec in (
        BuiltinSource(
            name=GLOVE,
            kind="static",
            asset=assets.GLOVE_6B_50D,
            dim=50,
            vocab_size=400_000,
            lowercase=True,
            description="GloVe 6B (Wikipedia 2014 + Gigaword 5): 400,000 lowercase words in "
            "50 dimensions, most frequent first",
        ),
        BuiltinSource(
            name=MINILM_INPUT,
            kind="static",
            asset=assets.MINILM,
            dim=384,
            vocab_size=30_522,
            lowercase=True,
            description="all-MiniLM-L6-v2's input embedding table: one vector per WordPiece "
            "token (30,522, bert-base-uncased's vocabulary) before any context is mixed in",
        ),
        BuiltinSource(
            name=MINILM,
            kind="contextual",
            asset=assets.MINILM,
            dim=384,
            vocab_size=0,
            lowercase=True,
            description="all-MiniLM-L6-v2 (6 layers): a vector for every token that depends on "
            "its sentence; sentence vectors by mean pooling, as sentence-transformers does",
        ),
    )
}


def locate(spec: BuiltinSource) -> list[Path] | None:
    """The spec's files, or None when its package or one of the files is missing."""
    return spec.asset.locate()


def require(spec: BuiltinSource) -> list[Path]:
    """The spec's files; EngineError naming the package when it is not installed."""
    return spec.asset.require(f"the vector source '{spec.name}'")


class StaticTable:
    """A word -> unit vector table with exact cosine search; read-only, safe to share."""

    def __init__(self, info: VectorSourceInfo, words: list[str], unit: np.ndarray) -> None:
        if len(words) != len(unit):
            raise ValueError("one word per row")
        self.info = info
        self.name = info.name
        self.words = words
        self.unit = unit
        self.index: dict[str, int] = {}
        for i, w in enumerate(words):
            self.index.setdefault(w, i)  # the first of duplicate words wins
        self._search: CosineIndex | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        # sent to a training worker: the words and vectors, not the search index or the lock
        return {"info": self.info, "words": self.words, "unit": self.unit}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["info"], state["words"], state["unit"])  # type: ignore[misc,arg-type]

    @property
    def size(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return int(self.unit.shape[1])

    def row(self, word: str) -> int | None:
        """The word's row: the word as given, else lowercased; None when it has none."""
        found = self.index.get(word)
        return found if found is not None else self.index.get(word.lower())

    def vector(self, word: str) -> np.ndarray | None:
        """The word's unit vector, or None."""
        r = self.row(word)
        return None if r is None else np.asarray(self.unit[r])

    @property
    def search(self) -> CosineIndex:
        """The cosine index, built on first use (torch is imported then)."""
        with self._lock:
            if self._search is None:
                from engine.embeddings.search import CosineIndex

                self._search = CosineIndex(self.unit)
            return self._search

    def unknown(self, words: list[str]) -> EngineError:
        """The error naming every word of a query that the table lacks, with what to try."""
        quoted = [f"'{w}'" for w in words]
        if len(quoted) == 1:
            message = f"{quoted[0]} is not in {self.name}'s vocabulary"
        else:
            said = f"{', '.join(quoted[:-1])} and {quoted[-1]}"
            message = f"{said} are not in {self.name}'s vocabulary"
        hints = []
        for w in words:
            split = split_hint(w, self.index)
            close = [] if split else self.suggestions(w)
            if split:
                hints.append(split)
            elif close:
                hints.append(f"for '{w}' did you mean {' or '.join(close)}?")
        return EngineError(message, hint="; ".join(hints), code="unknown_word")

    def suggestions(self, word: str, limit: int = 3) -> list[str]:
        """Vocabulary words one edit away, earliest rows first (most frequent in GloVe)."""
        w = word.lower()
        if len(w) < 2:
            return []
        letters = sorted(set(_SUGGEST_ALPHABET) | set(w))
        splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        edits.discard(w)
        found = sorted((r, e) for e in edits if (r := self.index.get(e)) is not None)
        return [e for _, e in found[:limit]]


# ------------------------------------------------------------------ table folders


def unit_rows(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """raw's rows scaled to length 1, as float32 (all-zero rows stay zero), Fortran-ordered
    unless `out` says otherwise: search reads the table's transpose (see engine.embeddings.search)."""
    out = np.empty(raw.shape, dtype=np.float32, order="F") if out is None else out
    for start in range(0, len(raw), _CHUNK):
        block = np.asarray(raw[start : start + _CHUNK], dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        norms[norms == 0] = 1.0
        np.divide(block, norms[:, None], out=out[start : start + _CHUNK])
    return out


def save_table(folder: Path, words: Sequence[str], raw: np.ndarray, meta: dict[str, Any]) -> None:
    """Write a table folder: unit rows, the words and meta, in a temporary folder renamed into
    place. Raises FileExistsError when the folder exists (another writer won)."""
    for i, w in enumerate(words):
        if "\n" in w or "\r" in w:
            raise EngineError(f"word {i + 1} ({w[:40]!r}) holds a line break")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        out = np.lib.format.open_memmap(
            tmp / VECTORS_FILE, mode="w+", dtype=np.float32, shape=raw.shape, fortran_order=True
        )
        unit_rows(raw, out)
        out.flush()
        del out
        (tmp / WORDS_FILE).write_text("\n".join(words), encoding="utf-8")
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if folder.exists():
            raise FileExistsError(folder)
        try:
            tmp.rename(folder)
        except OSError as exc:  # another writer renamed its folder in first
            if folder.exists():
                raise FileExistsError(folder) from exc
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_meta(folder: Path) -> dict[str, Any]:
    """A table folder's meta.json; EngineError when it is missing or damaged."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"the vector source in {folder} cannot be read: {exc}",
            hint=f"remove the folder {folder} and add the source again",
            code="not_found",
        ) from None
    if not isinstance(meta, dict):
        raise EngineError(f"{folder / META_FILE} is not a JSON object", code="not_found")
    return meta


def read_table(folder: Path, info: VectorSourceInfo) -> StaticTable:
    """Map a table folder's vectors (copy-on-write: shared with the page cache, never written)."""
    try:
        unit = np.load(folder / VECTORS_FILE, mmap_mode="c", allow_pickle=False)
        text = (folder / WORDS_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"the vector source '{info.name}' cannot be read from {folder}: {exc}",
            hint=f"remove the folder {folder} and add the source again",
            code="not_found",
        ) from None
    words = text.split("\n") if text else []
    if unit.ndim != 2 or unit.dtype != np.float32 or len(words) != len(unit):
        raise EngineError(
            f"the vector source '{info.name}' in {folder} is damaged: "
            f"{len(words)} words for a {unit.dtype} array of shape {unit.shape}",
            hint=f"remove the folder {folder} and add the source again",
            code="not_found",
        )
    return StaticTable(info, words, unit)


# ------------------------------------------------------------------ built-ins


def load_glove(spec: BuiltinSource, cache: Path | None) -> StaticTable:
    """GloVe from its package; the unit copy is cached under `cache` (None: in memory only)."""
    emb_path, words_path = require(spec)
    info = spec.info(True)
    folder = cache / f"{spec.name}-{spec.asset.version}" if cache is not None else None
    if folder is not None and (folder / META_FILE).is_file():
        try:
            return read_table(folder, info)
        except EngineError as exc:  # a damaged cache: rebuild it
            log.warning("rebuilding the %s cache: %s", spec.name, exc.message)
            shutil.rmtree(folder, ignore_errors=True)
    import pyarrow.parquet as pq

    words = [str(w) for w in pq.read_table(words_path, columns=["index"]).column(0).to_pylist()]
    raw = np.load(emb_path, mmap_mode="r", allow_pickle=False)  # Fortran order on disk
    if folder is not None:
        try:
            save_table(folder, words, raw, {"name": spec.name, "package": spec.asset.package})
            return read_table(folder, info)
        except FileExistsError:  # another thread built it meanwhile
            return read_table(folder, info)
        except OSError as exc:  # a read-only or full disk: work from memory
            log.warning("cannot cache %s in %s: %s", spec.name, folder, exc)
    return StaticTable(info, words, unit_rows(raw))


def load_minilm_input(spec: BuiltinSource) -> StaticTable:
    """MiniLM's word_embeddings tensor (only that one is read) with its WordPiece vocabulary."""
    model_path, tokenizer_path = require(spec)
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        key = next((k for k in f.keys() if k.endswith("word_embeddings.weight")), None)
        if key is None:
            raise EngineError(f"{model_path} holds no word_embeddings tensor", hint=spec.asset.hint)
        raw = f.get_tensor(key)
    vocab: dict[str, int] = json.loads(tokenizer_path.read_text(encoding="utf-8"))["model"]["vocab"]
    words = [""] * len(raw)
    for token, i in vocab.items():
        if 0 <= i < len(words):
            words[i] = token
    return StaticTable(spec.info(True), words, unit_rows(raw))
