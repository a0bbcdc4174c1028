"""Vector files people bring: GloVe or word2vec text (gzipped or not), or .npy with a words file.

Text is read line by line; each chunk of lines is parsed by numpy at once, and only a chunk that
fails is read again number by number to say which line is wrong. Every problem is a EngineError
that names the line (or row) and what was expected there.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.errors import EngineError, JobContext
from engine.core.files import GB, regular_file

_GAP = re.compile(r"[ \t]+")
_CHUNK_LINES = 16384
_CHUNK_BYTES = 8 << 20
_EXAMPLE = "expected one word a line followed by its numbers, e.g. 'the 0.418 0.24968 -0.41242'"
_BINARY_HINT = (
    "a binary word2vec file (.bin) must be saved as text first, e.g. with gensim: "
    "KeyedVectors.load_word2vec_format(p, binary=True).save_word2vec_format(out, binary=False)"
)

MAX_VECTORS = 64 * GB  # GloVe 840B as text is 5.6 GB
MAX_WORDS = 4 * GB


@dataclass
class VectorFile:
    """What a vector file holds, duplicates dropped (the first vector of a word is kept)."""

    words: list[str]
    matrix: np.ndarray  # float32 (rows, dim), as in the file (not normalised)
    duplicates: int
    format: str  # "GloVe text", "word2vec text" or "npy"

    def describe(self) -> str:
        text = f"{self.format}: {len(self.words):,} words in {self.matrix.shape[1]} dimensions"
        if self.duplicates:
            text += f"; {self.duplicates:,} repeated words kept their first vector"
        return text


def read_vectors(path: Path, fmt: str, words_path: Path | None, ctx: JobContext) -> VectorFile:
    """Read path as fmt ("auto": .npy by its suffix, else text); EngineError on any problem."""
    path = regular_file(str(path), "vector file", MAX_VECTORS)
    if words_path is not None:
        words_path = regular_file(str(words_path), "words file", MAX_WORDS)
    if fmt == "auto":
        fmt = "npy" if path.suffix.lower() == ".npy" else "text"
    if fmt == "npy":
        if words_path is None:
            raise EngineError(
                f"'{path.name}' is an array without words",
                hint="give a words file too: one word a line, in row order",
            )
        return read_npy(path, words_path)
    if words_path is not None:
        raise EngineError(
            "a words file goes with an .npy array only",
            hint="text vector files carry their words at the start of each line",
        )
    return read_text(path, ctx)


# ------------------------------------------------------------------ text


class _Collector:
    """Accumulates parsed rows, dropping repeated words."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.words: list[str] = []
        self.blocks: list[np.ndarray] = []
        self.seen: set[str] = set()
        self.duplicates = 0
        self.dim: int | None = None
        self.dim_line = 0  # the line that fixed the dimension
        self.header: tuple[int, int] | None = None
        # the chunk waiting to be parsed
        self.lines: list[int] = []
        self.chunk_words: list[str] = []
        self.rests: list[str] = []
        self.pending_bytes = 0

    def add(self, lineno: int, line: str) -> None:
        if self.dim is None and self.header is None and not self.words and not self.lines:
            first = line.split()
            if len(first) == 2 and first[0].isdigit() and first[1].isdigit():
                self.header = (int(first[0]), int(first[1]))
                self.dim, self.dim_line = self.header[1], lineno
                if self.dim == 0:
                    raise EngineError(f"the header (line {lineno}) says the vectors have 0 numbers")
                return
        parts = _GAP.split(line, maxsplit=1)
        word, rest = parts[0], parts[1] if len(parts) == 2 else ""
        if not word:
            raise EngineError(f"line {lineno} starts with a space", hint=_EXAMPLE)
        if self.dim is None:
            self.dim, self.dim_line = len(rest.split()), lineno
            if self.dim == 0:
                raise EngineError(f"line {lineno} has a word but no numbers", hint=_EXAMPLE)
        self.lines.append(lineno)
        self.chunk_words.append(word)
        self.rests.append(rest)
        self.pending_bytes += len(line)

    @property
    def full(self) -> bool:
        return len(self.lines) >= _CHUNK_LINES or self.pending_bytes >= _CHUNK_BYTES

    def flush(self) -> None:
        if not self.lines:
            return
        dim = self.dim or 0
        try:
            block = np.loadtxt(
                io.StringIO("\n".join(self.rests)), dtype=np.float32, ndmin=2, comments=None
            )
        except ValueError:
            block = None
        if block is None or block.shape != (len(self.rests), dim):  # say which line is wrong
            self._diagnose(dim)
            raise EngineError(f"'{self.name}' cannot be read as vectors", hint=_EXAMPLE)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            i = int(np.argmin(finite))
            raise EngineError(
                f"line {self.lines[i]} holds a value that is not a finite number "
                f"({_first_non_finite(self.rests[i])})",
                hint=_EXAMPLE,
            )
        keep = np.ones(len(block), dtype=bool)
        for i, w in enumerate(self.chunk_words):
            if w in self.seen:
                keep[i] = False
                self.duplicates += 1
            else:
                self.seen.add(w)
                self.words.append(w)
        self.blocks.append(block if keep.all() else block[keep])
        self.lines, self.chunk_words, self.rests, self.pending_bytes = [], [], [], 0

    def _diagnose(self, dim: int) -> None:
        for lineno, rest in zip(self.lines, self.rests, strict=True):
            numbers = rest.split()
            if len(numbers) != dim:
                said = (
                    f"the header (line {self.dim_line}) says {dim}"
                    if self.header
                    else f"the lines before it have {dim}"
                )
                raise EngineError(
                    f"line {lineno} has {len(numbers)} numbers; {said}", hint=_EXAMPLE
                )
            for token in numbers:
                try:
                    float(token)
                except ValueError:
                    raise EngineError(
                        f"line {lineno}: '{token[:40]}' is not a number", hint=_EXAMPLE
                    ) from None


def _first_non_finite(rest: str) -> str:
    for token in rest.split():
        try:
            if not np.isfinite(float(token)):
                return f"'{token[:40]}'"
        except ValueError:
            return f"'{token[:40]}'"
    return "?"


def read_text(path: Path, ctx: JobContext) -> VectorFile:
    """A GloVe (word numbers...) or word2vec text file ("rows dim" header first); .gz is fine.
    Reports progress in bytes of the file and stops when the job is cancelled."""
    size = path.stat().st_size
    out = _Collector(path.name)
    with path.open("rb") as raw:
        zipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if zipped else raw
        try:
            for lineno, data in enumerate(stream, 1):
                if b"\x00" in data:
                    raise EngineError(f"line {lineno} holds binary data", hint=_BINARY_HINT)
                try:
                    line = data.decode("utf-8").rstrip()
                except UnicodeDecodeError:
                    raise EngineError(
                        f"line {lineno} is not UTF-8 text", hint=_BINARY_HINT
                    ) from None
                if lineno == 1:
                    line = line.lstrip("\ufeff")
                if line:
                    out.add(lineno, line)
                if out.full:
                    out.flush()
                    ctx.check_cancelled()
                    ctx.progress(raw.tell(), size, f"read {len(out.words):,} words")
            out.flush()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise EngineError(
                f"'{path.name}' is not a complete gzip file: {exc}",
                hint="download it again, or unpack it and add the text file",
            ) from None
    ctx.progress(size, size, f"read {len(out.words):,} words")
    if not out.blocks:
        raise EngineError(f"'{path.name}' holds no vectors", hint=_EXAMPLE, code="empty")
    rows = len(out.words) + out.duplicates
    if out.header is not None and out.header[0] != rows:
        raise EngineError(
            f"the header (line {out.dim_line}) says {out.header[0]:,} words "
            f"but the file has {rows:,}",
            hint="the file may be cut short: download it again, or fix the header",
        )
    matrix = out.blocks[0] if len(out.blocks) == 1 else np.concatenate(out.blocks)
    fmt = "word2vec text" if out.header else "GloVe text"
    return VectorFile(out.words, matrix, out.duplicates, fmt)


# ------------------------------------------------------------------ npy


def read_words(path: Path) -> list[str]:
    """One word a line (a final empty line is fine; empty lines inside are not)."""
    if not path.is_file():
        raise EngineError(f"there is no words file '{path}'", code="not_found")
    lines = path.read_bytes().split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    words = []
    for n, data in enumerate(lines, 1):
        try:
            word = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise EngineError(f"line {n} of '{path.name}' is not UTF-8 text") from None
        if n == 1:
            word = word.lstrip("\ufeff")
        if not word:
            raise EngineError(
                f"line {n} of '{path.name}' is empty", hint="every row of the array needs a word"
            )
        words.append(word)
    return words


def read_npy(path: Path, words_path: Path) -> VectorFile:
    """A 2-D numeric .npy array (never unpickled) with one word a line in words_path."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        said = (
            "holds Python objects"
            if re.search("pickle|object", str(exc))
            else f"is not a .npy array ({exc})"
        )
        raise EngineError(
            f"'{path.name}' {said}", hint="save a numeric array with numpy.save"
        ) from None
    except OSError as exc:
        raise EngineError(f"'{path.name}' cannot be read: {exc}") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive
        raise EngineError(
            f"'{path.name}' is an archive of arrays", hint="save one array: numpy.save"
        )
    if arr.ndim != 2:
        raise EngineError(
            f"'{path.name}' has shape {arr.shape}; expected a 2-D array, one row per word"
        )
    if arr.dtype.kind not in "fiu":
        raise EngineError(f"'{path.name}' holds {arr.dtype} values; expected numbers")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EngineError(f"'{path.name}' holds no vectors (shape {arr.shape})", code="empty")
    words = read_words(words_path)
    if len(words) != len(arr):
        raise EngineError(
            f"'{words_path.name}' has {len(words):,} words but '{path.name}' has {len(arr):,} rows",
            hint="the words file needs one word a line, in the array's row order",
        )
    matrix = np.asarray(arr, dtype=np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        raise EngineError(
            f"row {int(np.argmin(finite)) + 1} of '{path.name}' "
            f"(word '{words[int(np.argmin(finite))]}') holds a value that is not a finite number"
        )
    first: dict[str, int] = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    duplicates = len(words) - len(first)
    if duplicates:
        rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        matrix, words = matrix[rows], list(first)
    return VectorFile(words, np.ascontiguousarray(matrix), duplicates, "npy")
