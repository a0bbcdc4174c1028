"""Previewing a source and importing it into the stored form, streaming batch by batch."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError, JobContext
from engine.datasets.formats import check_format, guess_format, open_reader
from engine.datasets.guess import guess_label_column, guess_text_column
from engine.datasets.writer import (
    DATA_FILE,
    ColumnPlan,
    Meta,
    StoredWriter,
    check_label_type,
    check_text_type,
    missing_column,
    normalise_labels,
    plan_columns,
    to_string,
)
from engine.protocol import DatasetImport, PreviewInfo

SAMPLE_ROWS = 1000  # rows read to guess the text and label columns
SHOWN_CHARS = 1000  # a preview cell is cut to this
MAX_PREVIEW = 1000


def preview(source: str, fmt: str | None = None, n: int = 10) -> PreviewInfo:
    """The first n rows of a source, its columns, and guesses for the text and label columns."""
    if not 0 <= n <= MAX_PREVIEW:
        raise EngineError(f"a preview shows 0 to {MAX_PREVIEW} rows (asked for {n})")
    fmt = check_format(fmt) or guess_format(source)
    with open_reader(source, fmt, preview=True) as reader:
        sample = reader.head(max(n, SAMPLE_ROWS))
        display, size, types = reader.display, reader.size_bytes, dict(reader.types)
        columns = list(reader.columns) or sample.column_names
    if sample.num_rows == 0:
        raise EngineError(
            f"{display} has no rows", hint="pick a source that holds data", code="empty"
        )
    text_column = guess_text_column(sample, types)
    label_column = guess_label_column(sample, text_column)
    shown = sample.slice(0, n)
    cells = {}
    for name in shown.column_names:
        values = to_string(shown.column(name).combine_chunks()).to_pylist()
        cells[name] = ["" if v is None else v[:SHOWN_CHARS] for v in values]
    rows = [{name: cells[name][i] for name in shown.column_names} for i in range(shown.num_rows)]
    classes: dict[str, int] = {}
    if label_column:
        labels = normalise_labels(shown.column(label_column).combine_chunks()).drop_null()
        classes = dict(Counter(labels.to_pylist()).most_common())
    return PreviewInfo(
        source=source,
        format=fmt,
        columns=columns,
        rows=rows,
        text_column=text_column,
        label_column=label_column,
        size_bytes=size,
        classes=classes,
    )


def import_source(req: DatasetImport, dest: Path, ctx: JobContext) -> None:
    """Stream req.source into the stored form in dest (an existing, empty folder).

    Reports progress (bytes, or rows for Hugging Face sources) and checks for cancellation
    once per batch. On any error it raises; the caller removes dest.
    """
    fmt = check_format(req.format) or guess_format(req.source)
    ctx.progress(0, 0, f"opening {req.source}")
    with open_reader(req.source, fmt) as reader:
        plan = plan_columns(
            reader.columns, req.text_column, req.label_column, req.split_column, reader.display
        )
        check_text_type(reader.types.get(plan.text, pa.string()), plan.text, plan.display)
        if plan.label:
            check_label_type(reader.types.get(plan.label, pa.string()), plan.label, plan.display)
        target = target_of(plan, req.target_column, reader.columns)  # stored as strings
        last = -1.0
        with StoredWriter(dest, plan) as writer:
            for batch, done, split in reader.batches():
                ctx.check_cancelled()
                writer.write(batch, None if plan.split else split)
                total = max(reader.total, done)
                if done > last:
                    ctx.progress(done, total, f"{writer.rows:,} rows read")
                    last = done
        writer.check()
        if target:
            check_targets(dest, plan, target)
        Meta(
            name=req.name,
            source=reader.source,
            format=fmt,
            text_column=plan.text,
            label_column=plan.label or "",
            target_column=target,
            created=time.time(),
            columns=plan.stored_extras,
            description=f"imported from {reader.display} ({fmt}), {writer.rows:,} rows",
        ).write(dest)
    if reader.total > last:
        ctx.progress(reader.total, reader.total, f"{writer.rows:,} rows")


def target_of(plan: ColumnPlan, column: str | None, columns: list[str]) -> str:
    """The stored name of the target column ("" without one); EngineError for a column that
    is not there or that already plays another role."""
    if not column:
        return ""
    if column in (plan.text, plan.label, plan.split):
        raise EngineError(
            f"column {column!r} of {plan.display} is given for two roles",
            hint="the source and target must be two different columns",
        )
    stored = dict(plan.extras).get(column)
    if stored is None:
        raise missing_column(plan.display, column, columns, "target")
    return stored


def check_targets(dest: Path, plan: ColumnPlan, target: str) -> None:
    """Refuse a pair import whose targets are all empty (nothing to learn)."""
    import pyarrow.ipc as ipc

    with pa.memory_map(str(dest / DATA_FILE)) as source:
        column = ipc.open_stream(source).read_all().column(target)
    filled = pc.sum(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column.fill_null(""))), 0))
    if not filled.as_py():
        raise EngineError(
            f"the target column of {plan.display} is empty in every row",
            hint="pick the column that holds the targets",
            code="empty",
        )


def read_labelled(
    source: str, fmt: str | None, text_column: str, label_column: str | None, ctx: JobContext
) -> tuple[list[str], list[str | None] | None]:
    """Every text of a file (and its label when label_column is given; None where a row has
    none), read batch by batch with progress, for work that needs them all (a batch
    prediction); the columns are checked as an import checks them."""
    fmt = check_format(fmt) or guess_format(source)
    ctx.progress(0, 0, f"opening {source}")
    texts: list[str] = []
    labels: list[str | None] | None = [] if label_column else None
    with open_reader(source, fmt) as reader:
        plan = plan_columns(reader.columns, text_column, label_column, None, reader.display)
        check_text_type(reader.types.get(plan.text, pa.string()), plan.text, plan.display)
        if plan.label:
            check_label_type(reader.types.get(plan.label, pa.string()), plan.label, plan.display)
        for batch, done, _ in reader.batches():
            ctx.check_cancelled()
            column = to_string(_whole(batch.column(plan.text)))
            texts += [t if isinstance(t, str) else "" for t in column.to_pylist()]
            if labels is not None and plan.label:
                labels += normalise_labels(_whole(batch.column(plan.label))).to_pylist()
            ctx.progress(done, max(reader.total, done), f"{len(texts):,} rows read")
    if not texts:
        raise EngineError(f"{source} has no rows", code="empty")
    return texts, labels


def _whole(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A table's column (chunked) or a record batch's (one array) as one array."""
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
