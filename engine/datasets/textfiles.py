"""Reading text files safely: spotting binary and non-UTF-8 files, counting bytes as they are
read, and turning Arrow's CSV and JSON parse errors into messages that name the line."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import mmap
import re
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError

SNIFF_BYTES = 8192
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2"}
SCAN_LIMIT = 64 * 1024 * 1024  # looking for a bad JSON line reads at most this much


def compression_of(path: Path) -> str | None:
    return COMPRESSIONS.get(path.suffix.lower())


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(decompressed stream, the file on disk); the disk file's position is the progress."""
    disk = open(path, "rb")  # closed by the caller, with the stream
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=disk), disk  # type: ignore[return-value]
    if kind == "bz2":
        return bz2.BZ2File(disk), disk  # type: ignore[return-value]
    return disk, disk


def encoding_error(display: str, name: str, data: bytes, pos: int, line: int) -> EngineError:
    bad = data[pos] if pos < len(data) else 0
    return EngineError(
        f"{display} is not UTF-8 text: byte 0x{bad:02x} on line {line} cannot be decoded "
        "(the file may be Latin-1 or Windows-1252)",
        hint=f"re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {name} > utf8-{name}",
    )


def sniff(path: Path, display: str, fmt: str) -> bytes:
    """Check the first 8 KiB: text, UTF-8, not empty. Returns those bytes (decompressed)."""
    try:
        stream, disk = open_binary(path)
        with disk, stream:
            head = stream.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise EngineError(f"{display} cannot be read: {exc}") from None
    if not head:
        raise EngineError(f"{display} is empty", hint="pick a file that holds data", code="empty")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise EngineError(
            f"{display} is UTF-16 text, not UTF-8",
            hint=f"re-save it as UTF-8, e.g. iconv -f utf-16 -t utf-8 {path.name} > utf8-{path.name}",
        )
    if head.startswith(b"PAR1"):
        raise EngineError(
            f"{display} is a Parquet file, not {fmt}",
            hint="import it with format parquet (or name it .parquet)",
        )
    if head.startswith(b"\x1f\x8b") or head.startswith(b"BZh"):
        raise EngineError(
            f"{display} is compressed", hint="name it with .gz or .bz2 at the end, or unpack it"
        )
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > len(head) // 10:
        raise EngineError(
            f"{display} looks like a binary file, not {fmt} text "
            "(its first bytes hold control characters)",
            hint="check that this is the file you meant; Parquet and saved datasets have "
            "their own formats",
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise encoding_error(display, path.name, head, exc.start, line) from None
    return head


class TextStream(io.RawIOBase):
    """A file Arrow reads from: checks UTF-8 on the way and knows how far it has got."""

    def __init__(self, path: Path, display: str) -> None:
        super().__init__()
        self._path = path
        self._display = display
        self._stream, self._disk = open_binary(path)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._lines = 0
        self.error: EngineError | None = None

    def readable(self) -> bool:
        return True

    def position(self) -> int:
        """Bytes of the file on disk read so far."""
        try:
            return self._disk.tell()
        except (OSError, ValueError):
            return 0

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            raise OSError(self.error.message)
        try:
            data = self._stream.read(size)
        except (OSError, EOFError) as exc:
            self.error = EngineError(f"{self._display} cannot be read: {exc}")
            raise OSError(self.error.message) from None
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            start = max(exc.start - (len(exc.object) - len(data)), 0)
            line = self._lines + data[:start].count(b"\n") + 1
            self.error = encoding_error(self._display, self._path.name, data, start, line)
            raise OSError(self.error.message) from None
        self._lines += data.count(b"\n")
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
                self._disk.close()
            finally:
                super().close()


# --------------------------------------------------------------------- parse errors

_COLUMNS = re.compile(r"Expected (\d+) columns, got (\d+): (.*)", re.S)
_JSON_TYPES = re.compile(r"Column\(/?([^)]*)\) changed from (\w+) to (\w+)")


def _line_of(path: Path, snippet: str) -> int | None:
    """The line on which snippet's first line starts (uncompressed files only)."""
    first = snippet.split("\n", 1)[0][:200].encode()
    if not first or compression_of(path) or path.stat().st_size == 0:
        return None
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        at = 0 if mm[: len(first)] == first else mm.find(b"\n" + first)
        if at < 0:
            return None
        newlines, step = 0, 1 << 24
        for start in range(0, at + 1, step):
            newlines += mm[start : min(start + step, at + 1)].count(b"\n")
        return newlines + 1


def check_swallowed_rows(path: Path, display: str, batch: pa.RecordBatch) -> None:
    """EngineError when a quoted field holds lines that are whole rows of their own: a quote
    opened and not closed on its line swallows the rows after it until a later quote. The
    message names the line that opens the quote."""
    fields = batch.num_columns
    if fields < 2:
        return
    for column in batch.columns:
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            continue
        has_break = pc.fill_null(pc.match_substring(column, "\n"), False)
        for value in column.filter(has_break).to_pylist():
            inner = value.split("\n")[1:-1]  # whole lines inside the field
            rows = [line for line in inner if line.count(",") == fields - 1]
            if rows and len(rows) == len(inner):
                line = _line_of(path, '"' + value) or _line_of(path, value)
                where = f"line {line}" if line else f"the row starting {value[:40]!r}"
                raise EngineError(
                    f"{display} {where} opens a quote that is not closed on that line: the "
                    f"{len(rows)} line(s) after it were read into one field, though they look "
                    f"like rows of {fields} fields",
                    hint=f"close the quote on {where}, or double a quote that is part of the "
                    'text ("")',
                )


def csv_error(path: Path, display: str, exc: Exception, fmt: str) -> EngineError:
    """A CSV/TSV parse error as a message naming the line and what is wrong there."""
    text = str(exc)
    if "Empty CSV file" in text:
        return EngineError(f"{display} is empty", hint="pick a file that holds data", code="empty")
    if "invalid UTF8" in text:
        return EngineError(
            f"{display} is not UTF-8 text",
            hint=f"re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > "
            f"utf8-{path.name}",
        )
    found = _COLUMNS.search(text)
    if not found:
        return EngineError(f"{display} cannot be read as {fmt}: {text}")
    expected, got, row = int(found[1]), int(found[2]), found[3]
    line = _line_of(path, row)
    where = f"line {line}" if line else f"the row starting {row[:40]!r}"
    if fmt == "csv" and row.count('"') % 2 == 1:
        return EngineError(
            f"{display} {where}: a quoted field is never closed "
            f"(expected {expected} fields like the header, found {got})",
            hint="wrap fields that hold commas, quotes or line breaks in double quotes, "
            'and double any quote inside them ("")',
        )
    return EngineError(
        f"{display} {where}: expected {expected} fields like the header, found {got}",
        hint="fields holding commas must be quoted"
        if fmt == "csv"
        else "a TSV field must not hold a tab or a line break",
    )


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    if compression_of(path):
        return None
    read = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            read += len(raw)
            if read > SCAN_LIMIT:
                return None
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                return number, f"not valid JSON ({exc.msg})"
            except UnicodeDecodeError:
                return number, "not UTF-8 text"
            if not isinstance(value, dict):
                return number, f"a JSON {type(value).__name__}, not an object"
    return None


def json_error(path: Path, display: str, exc: Exception) -> EngineError:
    """A JSON Lines parse error as a message a person can act on."""
    text = str(exc)
    if "Empty JSON" in text:
        return EngineError(f"{display} is empty", hint="pick a file that holds data", code="empty")
    changed = _JSON_TYPES.search(text)
    if changed and changed[1]:
        return EngineError(
            f"{display}: field {changed[1]!r} holds {changed[2]}s in some rows "
            f"and {changed[3]}s in others",
            hint="give a field the same JSON type in every row, e.g. quote all labels",
        )
    bad = _first_bad_json_line(path)
    if bad:
        return EngineError(
            f"{display} line {bad[0]} is {bad[1]}",
            hint="JSON Lines holds one JSON object per line",
        )
    return EngineError(
        f"{display} cannot be read as JSON Lines: {text}",
        hint="JSON Lines holds one JSON object per line",
    )
