"""A stored dataset, memory-mapped: its summary, filtered pages of rows, stats, splits, report.

The folder holds data.arrow (text, label, split, extra columns), an optional split.arrow
that overrides the split column, and meta.json. See engine.datasets.writer for the writing side.
StoredDataset answers for the dataset; the columns and the codes derived from them are a
DatasetColumns (engine.datasets.columns), and filtering and paging rows are RowPages'
(engine.datasets.pages).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError
from engine.core.histogram import histogram
from engine.datasets.columns import SPLIT_ORDER, DatasetColumns
from engine.datasets.duplicates import find_duplicates
from engine.datasets.pages import RowPages
from engine.datasets.splitting import assign_splits, check_fractions, group_codes
from engine.datasets.writer import DATA_FILE, RESERVED, SPLIT_FILE, SPLITS, Meta, write_split_file
from engine.protocol import (
    DatasetInfo,
    DatasetRows,
    DatasetSplit,
    LabelSplitCounts,
    ReportResult,
    Row,
    RowsPage,
    SplitResult,
    StatsResult,
)


def _read_stream(path: Path) -> pa.Table:
    try:
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_stream(source).read_all()
    except FileNotFoundError:
        raise EngineError(
            f"{path.parent.name} has no {path.name}",
            hint="import the data again",
            code="not_found",
        ) from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise EngineError(f"{path} cannot be read: {exc}", hint="import the data again") from None


class StoredDataset:
    """One dataset folder, opened read-mostly; safe to share between threads."""

    def __init__(self, path: Path, meta: Meta, table: pa.Table, split: pa.ChunkedArray) -> None:
        self.path = path
        self.meta = meta
        self.table = table
        self.extra_columns = [c for c in table.column_names if c not in RESERVED]
        self.columns = DatasetColumns(table, split)
        self.pages = RowPages(meta.name, table, self.columns, self.extra_columns)
        self._split_lock = threading.Lock()  # one split() at a time

    @classmethod
    def open(cls, path: Path) -> StoredDataset:
        """Open the dataset in folder path (memory-mapped; nothing is read eagerly)."""
        path = Path(path)
        if not path.is_dir():
            raise EngineError(f"no dataset folder at {path}", code="not_found")
        meta = Meta.read(path)
        table = _read_stream(path / DATA_FILE)
        missing = [c for c in RESERVED if c not in table.column_names]
        if missing:
            raise EngineError(
                f"{path / DATA_FILE} lacks the column {missing[0]!r}",
                hint="import the data again",
            )
        split = table.column("split")
        split_path = path / SPLIT_FILE
        if split_path.exists():
            override = _read_stream(split_path)
            if "split" not in override.column_names or override.num_rows != table.num_rows:
                raise EngineError(
                    f"{split_path} does not match the data ({override.num_rows} rows, "
                    f"data has {table.num_rows})",
                    hint="split the dataset again",
                )
            split = override.column("split")
        return cls(path, meta, table, split)

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    # ----------------------------------------------------------------- reading

    def label_names(self) -> list[str]:
        """Distinct labels, most frequent first."""
        return self.columns.label_names()

    def split_indices(self, split: str | None) -> np.ndarray | None:
        """Row indices of one split; None (every row) when split is None."""
        if split is None:
            return None
        if split not in SPLITS:
            raise EngineError(f"unknown split '{split}'", hint="splits are: " + ", ".join(SPLITS))
        return np.flatnonzero(self.columns.split_codes() == SPLITS.index(split))

    def texts(self, split: str | None = None) -> list[str]:
        """The texts of one split, or of every row."""
        picked = self.split_indices(split)
        text = self.columns.text
        column = text if picked is None else text.take(pa.array(picked))
        return column.to_pylist()

    def labels(self, split: str | None = None) -> list[str | None]:
        """The labels (None where a row has none) of one split, or of every row."""
        picked = self.split_indices(split)
        label = self.columns.label
        column = label if picked is None else label.take(pa.array(picked))
        return column.to_pylist()

    def targets(self, split: str | None = None) -> list[str]:
        """A pair dataset's targets ("" where a row has none) of one split, or of every row."""
        column = self.meta.target_column
        if not column or column not in self.table.column_names:
            raise EngineError(
                f"dataset '{self.name}' has no target column",
                hint="import it with a target column (--target COLUMN), or generate a task: "
                "workbench datasets generate dates",
            )
        picked = self.split_indices(split)
        values = self.table.column(column)
        values = values if picked is None else values.take(pa.array(picked))
        return [v or "" for v in values.to_pylist()]

    def info(self) -> DatasetInfo:
        """The summary: rows, classes and their counts, rows per split (unassigned not shown)."""
        labels = self.columns.label_counts()
        meta = self.meta
        return DatasetInfo(
            name=meta.name,
            source=meta.source,
            rows=self.num_rows,
            classes=len(labels),
            labels=labels,
            splits=self.columns.split_counts(),
            columns=list(self.extra_columns),
            text_column=meta.text_column,
            label_column=meta.label_column,
            target_column=meta.target_column,
            created=meta.created,
            description=meta.description,
            empty_texts=self.empty_texts(),
            empty_targets=self.empty_targets(),
        )

    def empty_targets(self) -> int:
        """A pair dataset's rows whose target is empty or only whitespace (0 without a target
        column): a seq2seq model learns to say nothing from them, so they are worth a warning."""
        column = self.meta.target_column
        if not column or column not in self.table.column_names:
            return 0
        values = pc.utf8_trim_whitespace(self.table.column(column).fill_null(""))
        return int(pc.sum(pc.equal(pc.utf8_length(values), 0)).as_py() or 0)

    def empty_texts(self) -> int:
        """Rows whose text is empty or only whitespace (no words)."""
        _, words = self.columns.lengths()
        return int((words == 0).sum())

    def rows(self, req: DatasetRows) -> RowsPage:
        """Rows [offset, offset+limit) of those matching the filter; total counts the matches."""
        return self.pages.rows(req)

    def row(self, index: int) -> Row:
        """One row with its whole text."""
        return self.pages.row(index)

    def stats(self, split: str | None = None, bins: int = 30) -> StatsResult:
        """Label counts and text-length histograms (words, characters) of one split or all."""
        if not 1 <= bins <= 1000:
            raise EngineError(f"bins must be between 1 and 1000 (got {bins})")
        columns = self.columns
        chars, words = columns.lengths()
        select: np.ndarray | None = None
        if split is not None:
            if split not in SPLIT_ORDER:
                raise EngineError(
                    f"there is no split {split!r}",
                    hint="splits are train, validation, test, or '' for rows in none",
                )
            select = columns.split_codes() == SPLIT_ORDER.index(split)
            if not select.any():
                have = ", ".join(f"{k} ({v:,})" for k, v in columns.split_counts().items())
                raise EngineError(
                    f"dataset {self.name!r} has no rows in split {split!r}",
                    hint=f"splits are: {have}" if have else "split the dataset first",
                    code="empty",
                )
            chars, words = chars[select], words[select]
        return StatsResult(
            name=self.name,
            split=split,
            rows=len(chars),
            labels=columns.label_counts(select),
            words=histogram(words, bins, "words"),
            characters=histogram(chars, bins, "characters"),
        )

    # ----------------------------------------------------------------- changing

    def split(self, req: DatasetSplit) -> SplitResult:
        """Assign train/validation/test (seeded, stratified, grouped) and store it."""
        fractions = check_fractions(req.train, req.validation, req.test)
        groups = None
        if req.group_column:
            if req.group_column not in self.extra_columns:
                have = ", ".join(self.extra_columns) or "(no extra columns)"
                raise EngineError(
                    f"dataset {self.name!r} has no column {req.group_column!r} to group by; "
                    f"columns are: {have}",
                    hint="group by a column that names what rows share, e.g. a movie or author",
                )
            groups = group_codes(self.table.column(req.group_column))
        names = self.label_names()
        labels = self.columns.label_codes() if req.stratify and names else None
        with self._split_lock:
            done = assign_splits(self.num_rows, fractions, req.seed, labels, groups, names)
            split = pc.take(pa.array(SPLITS), pa.array(done.codes))
            write_split_file(self.path, split)
            with self.columns.lock:  # no filter of the old split survives the new one
                self.columns.replace_split(pa.chunked_array([split]))
                self.pages.forget_filters()
        codes = done.codes
        parts = []
        for i, name in enumerate(SPLITS):
            select = codes == i
            if select.any():
                parts.append(
                    LabelSplitCounts(
                        split=name, rows=int(select.sum()), labels=self.columns.label_counts(select)
                    )
                )
        return SplitResult(
            name=self.name,
            seed=req.seed,
            stratified=done.stratified,
            group_column=req.group_column,
            splits=parts,
            note=done.note,
        )

    def report(self, limit: int = 20) -> ReportResult:
        """Exact duplicate texts (whitespace and case ignored) and texts found in two splits."""
        if not 0 <= limit <= 1000:
            raise EngineError(f"limit must be between 0 and 1000 (got {limit})")
        found = find_duplicates(self.columns.text, self.columns.split_codes(), limit)
        return ReportResult(
            name=self.name,
            rows=self.num_rows,
            duplicate_rows=found.duplicate_rows,
            duplicate_groups=found.duplicate_groups,
            cross_split_texts=found.cross_split_texts,
            cross_split_groups=found.cross_split_groups,
            empty_texts=self.empty_texts(),
        )
