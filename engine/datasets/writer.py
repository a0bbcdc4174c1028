"""Writing the stored form of a dataset: data.arrow, split.arrow and meta.json.

data.arrow is an Arrow IPC stream (what `datasets.Dataset.from_file` reads) with the
columns text, label, split and then the source's other columns, all strings.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError

DATA_FILE = "data.arrow"
SPLIT_FILE = "split.arrow"
META_FILE = "meta.json"
SPLITS = ("train", "validation", "test")
RESERVED = ("text", "label", "split")
SPLIT_ALIASES = {
    "": "",
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "development": "validation",
    "test": "test",
    "testing": "test",
}


@dataclass
class Meta:
    """The contents of meta.json: where the data came from and what its columns were."""

    name: str
    source: str
    format: str
    text_column: str
    label_column: str = ""
    target_column: str = ""  # the stored column holding a pair's target, "" when none
    created: float = field(default_factory=time.time)
    columns: list[str] = field(default_factory=list)
    description: str = ""

    def write(self, folder: Path) -> None:
        """Write meta.json into folder."""
        atomic_write_bytes(folder / META_FILE, json.dumps(asdict(self), indent=2).encode())

    @classmethod
    def read(cls, folder: Path) -> Meta:
        """Read meta.json from folder; a missing or broken file is a EngineError."""
        path = folder / META_FILE
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EngineError(
                f"{folder.name} is not a stored dataset: it has no {META_FILE}",
                hint="import the data again",
                code="not_found",
            ) from None
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"{path} cannot be read: {exc}", hint="import the data again"
            ) from None
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        known.setdefault("name", folder.name)
        known.setdefault("source", "")
        known.setdefault("format", "")
        known.setdefault("text_column", "text")
        return cls(**known)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write data to path so that readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_split_file(folder: Path, split: pa.Array | pa.ChunkedArray) -> None:
    """Write split.arrow (one string column) atomically: temp file in folder, then replace."""
    table = pa.table({"split": split})
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{SPLIT_FILE}.", suffix=".tmp")
    os.close(fd)
    try:
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, folder / SPLIT_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------- columns


def missing_column(display: str, column: str, columns: Sequence[str], role: str) -> EngineError:
    """The error for a column that is not there, listing the ones that are."""
    listed = ", ".join(columns) if columns else "(none)"
    close = get_close_matches(column, list(columns), n=1, cutoff=0.6)
    close += [c for c in columns if c.lower() == column.lower() and c not in close]
    hint = f"did you mean {close[0]!r}?" if close else f"pick the {role} column from: {listed}"
    return EngineError(f"{display} has no column {column!r}; columns are: {listed}", hint=hint)


@dataclass(frozen=True)
class ColumnPlan:
    """Which source column becomes text, label and split, and what the others are called."""

    text: str
    label: str | None
    split: str | None
    extras: tuple[tuple[str, str], ...]  # (source name, stored name)
    display: str  # how messages name the source, e.g. "train.csv"

    @property
    def stored_extras(self) -> list[str]:
        return [stored for _, stored in self.extras]


def plan_columns(
    columns: Sequence[str],
    text: str,
    label: str | None,
    split: str | None,
    display: str,
) -> ColumnPlan:
    """Check that the named columns exist and name the remaining ones for storage."""
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if list(columns).count(c) > 1})
        raise EngineError(
            f"{display} has more than one column named {twice[0]!r}",
            hint="give every column a distinct name in the header",
        )
    if not text:
        raise EngineError("no text column given", hint=f"pick one of: {', '.join(columns)}")
    for column, role in ((text, "text"), (label, "label"), (split, "split")):
        if column and column not in columns:
            raise missing_column(display, column, columns, role)
    named = [c for c in (text, label, split) if c]
    if len(set(named)) < len(named):
        raise EngineError(
            f"column {next(c for c in named if named.count(c) > 1)!r} of {display} is given "
            "for two roles",
            hint="the text, label and split columns must be three different columns",
        )
    used = {c for c in (text, label, split) if c}
    taken = set(RESERVED)
    extras: list[tuple[str, str]] = []
    for position, column in enumerate(columns):
        if column in used:
            continue
        stored = column or f"column_{position + 1}"
        while stored in taken:
            stored = f"src_{stored}"
        taken.add(stored)
        extras.append((column, stored))
    return ColumnPlan(text, label or None, split or None, tuple(extras), display)


def describe_type(t: pa.DataType) -> str:
    """How a person would call what a column holds."""
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return f"numbers ({t})"
    if pa.types.is_boolean(t):
        return "true/false values"
    if pa.types.is_temporal(t):
        return f"dates or times ({t})"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"lists ({t})"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return f"nested records ({t})"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "raw bytes"
    return str(t)


def is_stringlike(t: pa.DataType) -> bool:
    """True for string columns (and dictionary-encoded strings)."""
    if pa.types.is_dictionary(t):
        return is_stringlike(t.value_type)
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_null(t)
    )


def check_text_type(t: pa.DataType, column: str, display: str) -> None:
    """Refuse a text column that does not hold text."""
    if not is_stringlike(t):
        raise EngineError(
            f"column {column!r} of {display} holds {describe_type(t)}, not text",
            hint="pick the column that holds the text as the text column",
        )


def check_label_type(t: pa.DataType, column: str, display: str) -> None:
    """Refuse a label column that cannot be one label per row."""
    nested = pa.types.is_nested(t) and not pa.types.is_dictionary(t)
    if nested or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        raise EngineError(
            f"column {column!r} of {display} holds {describe_type(t)}, not one label per row",
            hint="pick a column with a single class per row (multi-label data is not supported)",
        )


def to_string(arr: pa.Array) -> pa.Array:
    """Any column as strings: numbers as written by Arrow, nested values as JSON."""
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_dictionary(t):
        return to_string(arr.dictionary_decode())
    if pa.types.is_nested(t):
        values = [None if v is None else json.dumps(v, default=str) for v in arr.to_pylist()]
        return pa.array(values, pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            sizes = pc.binary_length(arr).to_pylist()
            return pa.array([None if s is None else f"<{s} bytes>" for s in sizes], pa.string())
    return pc.cast(arr, pa.string())


def normalise_labels(arr: pa.Array) -> pa.Array:
    """Labels as trimmed strings; empty labels become null (no label)."""
    labels = pc.utf8_trim_whitespace(to_string(arr))
    return pc.if_else(pc.equal(labels, ""), pa.scalar(None, pa.string()), labels)


def normalise_splits(arr: pa.Array, column: str, display: str) -> pa.Array:
    """Split names mapped to train/validation/test ("" for none); other values are errors."""
    names = pc.utf8_lower(pc.utf8_trim_whitespace(to_string(arr))).fill_null("")
    distinct = pc.unique(names).to_pylist()
    for value in distinct:
        if value not in SPLIT_ALIASES:
            raise EngineError(
                f"column {column!r} of {display} holds {value!r}, which is not a split name",
                hint="split values must be train, validation (or valid, val, dev) or test; "
                "import without a split column and split the data afterwards",
            )
    mapped = pa.array([SPLIT_ALIASES[v] for v in distinct], pa.string())
    return pc.take(mapped, pc.index_in(names, value_set=pa.array(distinct, pa.string())))


# --------------------------------------------------------------------- writer


class StoredWriter:
    """Streams record batches into D/data.arrow, counting rows and labels as it goes."""

    def __init__(self, dest: Path, plan: ColumnPlan) -> None:
        self.dest = dest
        self.plan = plan
        self.rows = 0
        self.label_counts: Counter[str] = Counter()
        fields = [pa.field(name, pa.string()) for name in (*RESERVED, *plan.stored_extras)]
        self.schema = pa.schema(fields)
        self._sink = pa.OSFile(str(dest / DATA_FILE), "wb")
        self._writer = pa.ipc.new_stream(self._sink, self.schema)

    def __enter__(self) -> StoredWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, batch: pa.RecordBatch | pa.Table, split: str | None = None) -> None:
        """Convert one batch of source columns and append it; split fixes the split value."""
        n = batch.num_rows
        if n == 0:
            return
        plan = self.plan

        def column(name: str) -> pa.Array:
            col = batch.column(name)
            return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col

        text = column(plan.text)
        check_text_type(text.type, plan.text, plan.display)
        text = to_string(text).fill_null("")
        if plan.label:
            raw_label = column(plan.label)
            check_label_type(raw_label.type, plan.label, plan.display)
            label = normalise_labels(raw_label)
            counts = pc.value_counts(label.drop_null())
            for value, count in zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            ):
                self.label_counts[value] += count
        else:
            label = pa.nulls(n, pa.string())
        if split is not None:
            splits = pa.array([split] * n, pa.string())
        elif plan.split:
            splits = normalise_splits(column(plan.split), plan.split, plan.display)
        else:
            splits = pa.array([""] * n, pa.string())
        extras = [to_string(column(src)) for src, _ in plan.extras]
        arrays = [text, label, splits, *extras]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += n

    def check(self) -> None:
        """Whole-data checks once every row is written: some rows, and two or more classes."""
        plan = self.plan
        if self.rows == 0:
            raise EngineError(
                f"{plan.display} has no rows",
                hint="check that the file holds data below its header",
                code="empty",
            )
        if plan.label and not self.label_counts:
            raise EngineError(
                f"column {plan.label!r} of {plan.display} is empty in every row",
                hint="pick another label column or import without one",
                code="empty",
            )
        if plan.label and len(self.label_counts) == 1:
            (only,) = self.label_counts
            raise EngineError(
                f"column {plan.label!r} of {plan.display} has only one class ({only!r}); "
                "a classifier needs at least two",
                hint="pick another label column or import without one",
            )

    def close(self) -> None:
        """Finish the stream; safe to call twice."""
        if not self._sink.closed:
            try:
                self._writer.close()
            finally:
                self._sink.close()
