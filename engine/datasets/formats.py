"""Sources the importer reads: telling the format, and reading CSV, TSV, JSON Lines and
Parquet in record batches without holding the whole file in memory."""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from engine.core.errors import EngineError
from engine.core.files import GB, file_or_folder, regular_file
from engine.datasets.textfiles import (
    TextStream,
    check_swallowed_rows,
    compression_of,
    csv_error,
    json_error,
    sniff,
)

FORMATS = ("csv", "tsv", "jsonl", "parquet", "hf-disk", "hub")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
HF_DISK_FILES = ("dataset_dict.json", "dataset_info.json", "state.json")
MAX_SOURCE = 64 * GB  # a file to import (streamed: the limit is only against mistakes)
HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
BLOCK_BYTES = 1 << 20
PARQUET_BATCH = 50_000

# A batch of source columns, how far the reader has got (in units of `total`), and the split
# every row of the batch belongs to (None: the rows say, or there is none).
Chunk = tuple[pa.RecordBatch | pa.Table, float, str | None]


def check_format(fmt: str | None) -> str | None:
    if fmt is not None and fmt not in FORMATS:
        raise EngineError(f"unknown format {fmt!r}", hint=f"formats are: {', '.join(FORMATS)}")
    return fmt


def _suffix_format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and compression_of(path):
        suffixes.pop()
    return SUFFIXES.get(suffixes[-1]) if suffixes else None


# What datasets.load_dataset reads as a builder, not a hub dataset: such a "name" would read
# files from the engine's own folder.
BUILDER_NAMES = frozenset(
    ("arrow", "audiofolder", "cache", "csv", "imagefolder", "json", "niftifolder", "pandas",
     "parquet", "pdffolder", "spark", "sql", "text", "videofolder", "webdataset", "xml")
)  # fmt: skip


def guess_format(source: str) -> str:
    """The format of a source from its extension or folder contents; a hub name -> hub.
    A file must be named by an absolute path (the engine does not run in the caller's folder);
    a relative name is a hub dataset, never a builder such as csv or text."""
    name = source.strip()
    if not Path(name).expanduser().is_absolute():
        looks_like_path = _suffix_format(Path(name)) or name.startswith((".", "~")) or "\\" in name
        if name.lower() in BUILDER_NAMES:
            raise EngineError(
                f"'{name}' is one of the datasets library's loaders, not a dataset on the hub",
                hint="give the full path of your file instead",
            )
        if not looks_like_path and HUB_NAME.match(name):
            return "hub"
        file_or_folder(name, "dataset file", MAX_SOURCE)  # says why: relative, or missing
    path = file_or_folder(name, "dataset file", MAX_SOURCE)
    if path.is_dir():
        if any((path / f).exists() for f in HF_DISK_FILES):
            return "hf-disk"
        raise EngineError(
            f"{path.name}/ is a folder but not a saved Hugging Face dataset",
            hint="pick a file, or a folder written by datasets' save_to_disk",
        )
    if path.is_file():
        fmt = _suffix_format(path)
        if fmt is None:
            raise EngineError(
                f"cannot tell the format of {path.name} from its name",
                hint="name it .csv, .tsv, .jsonl or .parquet, or pass the format",
            )
        return fmt
    raise EngineError(f"{source} does not exist", hint="check the path", code="not_found")


class SourceReader(abc.ABC):
    """One source opened for reading: its columns and types, a head, and record batches."""

    format: str = ""

    def __init__(self, source: str, display: str, size_bytes: int = 0) -> None:
        self.source = source  # what meta.json records: an absolute path or a hub name
        self.display = display  # how messages name it
        self.size_bytes = size_bytes
        self.columns: list[str] = []
        self.types: dict[str, pa.DataType] = {}
        self.total: float = float(size_bytes)

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None

    @abc.abstractmethod
    def head(self, n: int) -> pa.Table:
        """The first n rows (fewer if the source is shorter), labels as names."""

    @abc.abstractmethod
    def batches(self) -> Iterator[Chunk]:
        """Every row, batch by batch."""


def _existing_file(source: str) -> Path:
    path = regular_file(source, "dataset file", MAX_SOURCE)
    if path.stat().st_size == 0:
        raise EngineError(f"{path.name} is empty", hint="pick a file that holds data", code="empty")
    return path


class CsvReader(SourceReader):
    """CSV (quoted fields may hold line breaks) or TSV (no quoting); every column as text."""

    def __init__(self, source: str, fmt: str) -> None:
        path = _existing_file(source)
        super().__init__(str(path.resolve()), path.name, path.stat().st_size)
        self.format = fmt
        self.path = path
        sniff(path, self.display, fmt)
        self._parse = pacsv.ParseOptions(
            delimiter="\t" if fmt == "tsv" else ",",
            quote_char='"' if fmt == "csv" else False,
            newlines_in_values=fmt == "csv",
        )
        # The first block says which columns there are and what their values look like.
        with self._open(as_text=False) as (reader, _):
            self.types = {f.name: f.type for f in reader.schema}
        self.columns = list(self.types)

    def _open(self, as_text: bool) -> _CsvOpen:
        convert = None
        if as_text:
            convert = pacsv.ConvertOptions(column_types=dict.fromkeys(self.columns, pa.string()))
        return _CsvOpen(self, convert)

    def head(self, n: int) -> pa.Table:
        with self._open(as_text=True) as (reader, stream):
            batches, rows = [], 0
            while rows < n:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError) as exc:
                    raise stream.error or csv_error(
                        self.path, self.display, exc, self.format
                    ) from None
                batches.append(batch)
                rows += batch.num_rows
        return pa.Table.from_batches(batches, reader.schema).slice(0, n)

    def batches(self) -> Iterator[Chunk]:
        with self._open(as_text=True) as (reader, stream):
            parsed = _Parsed(self.path, stream)
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowInvalid, OSError) as exc:
                    raise stream.error or csv_error(
                        self.path, self.display, exc, self.format
                    ) from None
                if self.format == "csv":
                    check_swallowed_rows(self.path, self.display, batch)
                yield batch, parsed.next(), None


class _Parsed:
    """Bytes parsed so far. Arrow reads ahead (up to 32 blocks), so the bytes read run ahead
    of the rows delivered; each batch is one block, which is the better measure."""

    def __init__(self, path: Path, stream: TextStream) -> None:
        self.stream = stream
        self.exact = compression_of(path) is None  # blocks count decompressed bytes
        self.blocks = 0

    def next(self) -> float:
        self.blocks += 1
        read = self.stream.position()
        return float(min(read, self.blocks * BLOCK_BYTES) if self.exact else read)


class _CsvOpen:
    """A CSV reader and the stream under it, closed together."""

    def __init__(self, owner: CsvReader, convert: pacsv.ConvertOptions | None) -> None:
        self.owner = owner
        self.convert = convert
        self.stream: TextStream | None = None
        self.reader: Any = None

    def __enter__(self) -> tuple[Any, TextStream]:
        owner = self.owner
        self.stream = TextStream(owner.path, owner.display)
        try:
            self.reader = pacsv.open_csv(
                self.stream,
                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=owner._parse,
                convert_options=self.convert,
            )
        except (pa.ArrowInvalid, OSError) as exc:
            error = self.stream.error or csv_error(owner.path, owner.display, exc, owner.format)
            self.stream.close()
            raise error from None
        return self.reader, self.stream

    def __exit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.stream is not None:
            self.stream.close()


class JsonlReader(SourceReader):
    """JSON Lines: one object per line; fields first seen after the first block are ignored."""

    format = "jsonl"

    def __init__(self, source: str) -> None:
        path = _existing_file(source)
        super().__init__(str(path.resolve()), path.name, path.stat().st_size)
        self.path = path
        head = sniff(path, self.display, "JSON Lines")
        if head.lstrip().startswith(b"["):
            raise EngineError(
                f"{self.display} holds one JSON array, not JSON Lines",
                hint=f"write one object per line, e.g. jq -c '.[]' {path.name} > {path.stem}.jsonl",
            )
        with TextStream(path, self.display) as stream:
            reader = self._reader(stream, None)
            schema = reader.schema
            reader.close()
        # JSON has no dates: a string Arrow reads as a timestamp ("1998-03-03") stays the string
        as_text = (pa.types.is_null, pa.types.is_timestamp, pa.types.is_date, pa.types.is_time)
        fields = [
            pa.field(f.name, pa.string() if any(is_(f.type) for is_ in as_text) else f.type)
            for f in schema
        ]
        self.schema = pa.schema(fields)
        self.types = {f.name: f.type for f in self.schema}
        self.columns = list(self.types)

    def _reader(self, stream: TextStream, schema: pa.Schema | None) -> Any:
        parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            return pajson.open_json(
                stream,
                read_options=pajson.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=parse if schema is not None else None,
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise stream.error or json_error(self.path, self.display, exc) from None

    def head(self, n: int) -> pa.Table:
        tables = []
        rows = 0
        for batch, _, _ in self.batches():
            tables.append(batch)
            rows += batch.num_rows
            if rows >= n:
                break
        return pa.Table.from_batches(tables, self.schema).slice(0, n)

    def batches(self) -> Iterator[Chunk]:
        with TextStream(self.path, self.display) as stream:
            reader = self._reader(stream, self.schema)
            parsed = _Parsed(self.path, stream)
            try:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except (pa.ArrowInvalid, OSError) as exc:
                        raise stream.error or json_error(self.path, self.display, exc) from None
                    yield batch, parsed.next(), None
            finally:
                reader.close()


def hf_label_names(schema: pa.Schema) -> dict[str, list[str]]:
    """ClassLabel names that Hugging Face stored in a schema's metadata, by column."""
    raw = (schema.metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    try:
        features = json.loads(raw)["info"]["features"]
    except (ValueError, KeyError, TypeError):
        return {}
    return {
        name: list(spec["names"])
        for name, spec in features.items()
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and "names" in spec
    }


def class_names_to_labels(table: pa.Table, names: dict[str, list[str]]) -> pa.Table:
    """Replace ClassLabel integer codes by their names (codes out of range become null)."""
    import pyarrow.compute as pc

    for column, labels in names.items():
        if column not in table.column_names:
            continue
        codes = table.column(column)
        valid = pc.and_(pc.greater_equal(codes, 0), pc.less(codes, len(labels)))
        safe = pc.if_else(valid, codes, pa.scalar(None, codes.type))
        named = pc.take(pa.array(labels, pa.string()), safe)
        table = table.set_column(table.column_names.index(column), column, named)
    return table


class ParquetReader(SourceReader):
    """Parquet, read row group by row group; progress is rows read as a share of the file."""

    format = "parquet"

    def __init__(self, source: str) -> None:
        path = _existing_file(source)
        super().__init__(str(path.resolve()), path.name, path.stat().st_size)
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise EngineError(
                f"{self.display} is not a Parquet file ({exc})",
                hint="check the file, or pass its real format (csv, tsv, jsonl)",
            ) from None
        schema = self.file.schema_arrow
        self.label_names = hf_label_names(schema)
        self.types = {f.name: f.type for f in schema}
        for name in self.label_names:
            self.types[name] = pa.string()
        self.columns = list(self.types)
        self.rows = self.file.metadata.num_rows
        if self.rows == 0:
            raise EngineError(f"{self.display} has no rows", code="empty")

    def close(self) -> None:
        self.file.close()

    def head(self, n: int) -> pa.Table:
        batch = next(self.file.iter_batches(batch_size=max(n, 1)))
        return class_names_to_labels(pa.Table.from_batches([batch]), self.label_names)

    def batches(self) -> Iterator[Chunk]:
        done = 0
        try:
            for batch in self.file.iter_batches(batch_size=PARQUET_BATCH):
                done += batch.num_rows
                table = class_names_to_labels(pa.Table.from_batches([batch]), self.label_names)
                yield table, self.total * done / self.rows, None
        except (pa.ArrowInvalid, OSError) as exc:
            raise EngineError(f"{self.display} cannot be read: {exc}") from None


def open_reader(source: str, fmt: str | None, preview: bool = False) -> SourceReader:
    """Open a source in the given format (None: guess it); preview: only its head is wanted
    (a hub dataset is then streamed rather than downloaded)."""
    fmt = check_format(fmt) or guess_format(source)
    if fmt in ("csv", "tsv"):
        return CsvReader(source, fmt)
    if fmt == "jsonl":
        return JsonlReader(source)
    if fmt == "parquet":
        return ParquetReader(source)
    from engine.datasets.hub import HfReader  # datasets is slow to import; only here

    return HfReader(source, fmt, streaming=preview)
