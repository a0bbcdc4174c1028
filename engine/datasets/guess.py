"""Guessing, from the first rows, which column holds the text and which the label."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from engine.datasets.writer import is_stringlike, to_string

TEXT_NAMES = ("text", "sentence", "review", "content", "body", "document", "comment", "tweet")
LABEL_NAMES = ("label", "labels", "category", "class", "sentiment", "target", "y")
MAX_CLASSES = 50


def _mean_length(column: pa.ChunkedArray | pa.Array) -> float:
    if len(column) == 0 or column.null_count == len(column):
        return 0.0
    lengths = pc.utf8_length(to_string(_flat(column)))
    mean = pc.mean(lengths).as_py()
    return float(mean or 0.0)


def _flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _constant(column: pa.ChunkedArray | pa.Array) -> bool:
    """One value in every row of a sample of several rows: a tag, not text."""
    return len(column) > 1 and len(pc.unique(_flat(column))) == 1


def _rank(name: str, names: tuple[str, ...]) -> int | None:
    key = name.strip().lower()
    return names.index(key) if key in names else None


def guess_text_column(sample: pa.Table, types: dict[str, pa.DataType]) -> str:
    """The string column with the longest texts, preferring a text-like name when it is not
    much shorter than the longest."""
    lengths = {
        name: _mean_length(sample.column(name))
        for name in sample.column_names
        if is_stringlike(types.get(name, sample.schema.field(name).type))
        and not _constant(sample.column(name))
    }
    if not lengths:
        return ""
    longest = max(lengths.values())
    named = [n for n in lengths if _rank(n, TEXT_NAMES) is not None and lengths[n] > 0]
    named.sort(key=lambda n: _rank(n, TEXT_NAMES) or 0)
    for name in named:
        if lengths[name] >= 0.5 * longest:
            return str(name)
    return str(max(lengths, key=lambda n: lengths[n]))


def guess_label_column(sample: pa.Table, text_column: str) -> str:
    """A column with few distinct values, preferring label-like names; "" when none fits."""
    rows = sample.num_rows
    if rows == 0:
        return ""
    limit = max(2, min(MAX_CLASSES, rows // 2))
    choices: list[tuple[int, int, str]] = []
    for position, name in enumerate(sample.column_names):
        if name == text_column:
            continue
        column = _flat(sample.column(name))
        t = column.type
        if pa.types.is_nested(t) and not pa.types.is_dictionary(t):
            continue
        if pa.types.is_floating(t) or pa.types.is_temporal(t):
            continue
        values = to_string(column).drop_null()
        distinct = len(pc.unique(values))
        rank = _rank(name, LABEL_NAMES)
        if rank is not None and 1 <= distinct <= max(limit, MAX_CLASSES):
            choices.append((rank, distinct, name))
        elif 2 <= distinct <= limit and _mean_length(values) <= 40:
            choices.append((len(LABEL_NAMES) + position, distinct, name))
    if not choices:
        return ""
    return str(min(choices)[2])
