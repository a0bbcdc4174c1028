"""A stored dataset, memory-mapped: its summary, filtered pages of rows, stats, splits, report.

The folder holds data.arrow (text, label, split, extra columns), an optional split.arrow
that overrides the split column, and meta.json. See engine.datasets.writer for the writing side.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError
from engine.core.histogram import histogram
from engine.datasets.arrays import take_sorted, word_counts
from engine.datasets.duplicates import find_duplicates
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

MAX_PAGE = 10_000
FILTER_CACHE = 8
SPLIT_ORDER = (*SPLITS, "")  # split code 3 is "" (no split)


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
        self._text: pa.ChunkedArray = table.column("text")
        self._label: pa.ChunkedArray = table.column("label")
        self._split = split
        self._lock = threading.RLock()
        self._split_lock = threading.Lock()  # one split() at a time
        self._generation = 0  # bumped by split(), so no stale filter is served
        self._filters: OrderedDict[tuple[int, str, bool, str | None, str | None], np.ndarray] = (
            OrderedDict()
        )
        self._label_names: list[str] | None = None
        self._label_codes: np.ndarray | None = None
        self._split_codes: np.ndarray | None = None
        self._char_len: np.ndarray | None = None
        self._word_len: np.ndarray | None = None

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

    # ----------------------------------------------------------------- cached arrays

    def label_names(self) -> list[str]:
        """Distinct labels, most frequent first."""
        self._labels()
        assert self._label_names is not None
        return self._label_names

    def _labels(self) -> np.ndarray:
        """Label code per row (index into label_names), -1 where there is no label."""
        with self._lock:
            if self._label_codes is None:
                counts = pc.value_counts(self._label.drop_null())
                pairs = zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                )
                names = [v for v, _ in sorted(pairs, key=lambda p: (-p[1], p[0]))]
                codes = pc.index_in(self._label, value_set=pa.array(names, pa.string()))
                self._label_names = names
                self._label_codes = codes.fill_null(-1).to_numpy().astype(np.int32)
            return self._label_codes

    def _splits(self) -> np.ndarray:
        """Split code per row: 0 train, 1 validation, 2 test, 3 none."""
        with self._lock:
            if self._split_codes is None:
                codes = pc.index_in(self._split, value_set=pa.array(SPLIT_ORDER))
                self._split_codes = codes.fill_null(3).to_numpy().astype(np.int8)
            return self._split_codes

    def _lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(characters, words) per row."""
        with self._lock:
            if self._char_len is None or self._word_len is None:
                self._char_len = pc.utf8_length(self._text).to_numpy().astype(np.int64)
                self._word_len = word_counts(self._text)
            return self._char_len, self._word_len

    def _counts(self, select: np.ndarray | None = None) -> dict[str, int]:
        codes = self._labels() if select is None else self._labels()[select]
        names = self.label_names()
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        return {name: int(c) for name, c in zip(names, counts, strict=True) if c}

    def _split_counts(self) -> dict[str, int]:
        counts = np.bincount(self._splits(), minlength=4)
        return {name: int(counts[i]) for i, name in enumerate(SPLITS) if counts[i]}

    # ----------------------------------------------------------------- reading

    def split_indices(self, split: str | None) -> np.ndarray | None:
        """Row indices of one split; None (every row) when split is None."""
        if split is None:
            return None
        if split not in SPLITS:
            raise EngineError(f"unknown split '{split}'", hint="splits are: " + ", ".join(SPLITS))
        return np.flatnonzero(self._splits() == SPLITS.index(split))

    def texts(self, split: str | None = None) -> list[str]:
        """The texts of one split, or of every row."""
        picked = self.split_indices(split)
        column = self._text if picked is None else self._text.take(pa.array(picked))
        return column.to_pylist()

    def labels(self, split: str | None = None) -> list[str | None]:
        """The labels (None where a row has none) of one split, or of every row."""
        picked = self.split_indices(split)
        column = self._label if picked is None else self._label.take(pa.array(picked))
        return column.to_pylist()

    def info(self) -> DatasetInfo:
        """The summary: rows, classes and their counts, rows per split (unassigned not shown)."""
        labels = self._counts()
        meta = self.meta
        return DatasetInfo(
            name=meta.name,
            source=meta.source,
            rows=self.num_rows,
            classes=len(labels),
            labels=labels,
            splits=self._split_counts(),
            columns=list(self.extra_columns),
            text_column=meta.text_column,
            label_column=meta.label_column,
            created=meta.created,
            description=meta.description,
        )

    def _matching(self, req: DatasetRows) -> np.ndarray | None:
        """Ascending indices of rows that pass the filter; None when there is no filter."""
        if not req.search and req.label is None and req.split is None:
            return None
        key = (self._generation, req.search, req.regex and bool(req.search), req.label, req.split)
        with self._lock:
            hit = self._filters.get(key)
            if hit is not None:
                self._filters.move_to_end(key)
                return hit
        mask = np.ones(self.num_rows, dtype=bool)
        if req.label is not None:
            names = self.label_names()
            code = names.index(req.label) if req.label in names else -2
            mask &= self._labels() == code
        if req.split is not None:
            code = SPLIT_ORDER.index(req.split) if req.split in SPLIT_ORDER else -1
            mask &= self._splits() == code
        if req.search:
            mask &= self._search(req.search, req.regex, mask)
        found = np.flatnonzero(mask)
        with self._lock:
            self._filters[key] = found
            while len(self._filters) > FILTER_CACHE:
                self._filters.popitem(last=False)
        return found

    def _search(self, pattern: str, regex: bool, candidates: np.ndarray) -> np.ndarray:
        """Mask of rows whose text holds pattern (case-insensitive), among candidates."""
        rows = np.flatnonzero(candidates)
        # Gathering a subset costs more than scanning everything unless the subset is small.
        if len(rows) > self.num_rows // 10:
            rows = np.arange(self.num_rows)
        texts = self._text if len(rows) == self.num_rows else take_sorted(self._text, rows)
        try:
            if regex:
                hits = pc.match_substring_regex(texts, pattern=pattern, ignore_case=True)
            else:
                hits = pc.match_substring(texts, pattern=pattern, ignore_case=True)
        except pa.ArrowInvalid as exc:
            reason = str(exc).removeprefix("Invalid regular expression: ")
            raise EngineError(
                f"invalid regex {pattern!r}: {reason}",
                hint="patterns use RE2 syntax (no look-around or backreferences); "
                "turn regex off to search for the text as written",
            ) from None
        if isinstance(hits, pa.ChunkedArray):
            hits = hits.combine_chunks()
        mask = np.zeros(self.num_rows, dtype=bool)
        mask[rows] = hits.fill_null(False).to_numpy(zero_copy_only=False)
        return mask

    def rows(self, req: DatasetRows) -> RowsPage:
        """Rows [offset, offset+limit) of those matching the filter; total counts the matches."""
        if req.offset < 0 or req.limit < 0:
            raise EngineError(
                f"offset and limit must not be negative (got offset {req.offset}, "
                f"limit {req.limit})"
            )
        if req.limit > MAX_PAGE:
            raise EngineError(
                f"a page holds at most {MAX_PAGE:,} rows (asked for {req.limit:,})",
                hint="fetch the rows in several pages",
            )
        if req.max_chars < 0:
            raise EngineError(f"max_chars must not be negative (got {req.max_chars})")
        found = self._matching(req)
        total = self.num_rows if found is None else len(found)
        start = min(req.offset, total)
        stop = min(start + req.limit, total)
        if found is None:
            picked = np.arange(start, stop, dtype=np.int64)
            page = self.table.slice(start, stop - start)
            split = self._split.slice(start, stop - start)
            columns = {name: page.column(name).combine_chunks() for name in page.column_names}
            columns["split"] = split.combine_chunks()
        else:
            picked = found[start:stop]
            columns = self._columns_at(picked)
        return RowsPage(
            name=self.name,
            total=total,
            offset=req.offset,
            rows=self._build_rows(picked, columns, req.max_chars),
        )

    def _build_rows(
        self, picked: np.ndarray, columns: dict[str, pa.Array], max_chars: int
    ) -> list[Row]:
        text = columns["text"]
        lengths = pc.utf8_length(text).to_pylist()
        if max_chars:
            text = pc.utf8_slice_codeunits(text, 0, max_chars)
        texts = text.to_pylist()
        labels = columns["label"].to_pylist()
        splits = columns["split"].to_pylist()
        extras = {name: columns[name].to_pylist() for name in self.extra_columns}
        return [
            Row(
                index=int(index),
                text=texts[i],
                label=labels[i],
                split=splits[i] or "",
                text_len=lengths[i],
                extra={name: values[i] or "" for name, values in extras.items()},
            )
            for i, index in enumerate(picked.tolist())
        ]

    def row(self, index: int) -> Row:
        """One row with its whole text."""
        if not 0 <= index < self.num_rows:
            raise EngineError(
                f"dataset {self.name!r} has no row {index}; rows are 0 to {self.num_rows - 1}",
                code="not_found",
            )
        picked = np.array([index], dtype=np.int64)
        return self._build_rows(picked, self._columns_at(picked), 0)[0]

    def _columns_at(self, picked: np.ndarray) -> dict[str, pa.Array]:
        """Every column at ascending row indices, split as currently assigned."""
        names = ("text", "label", *self.extra_columns)
        columns = {name: take_sorted(self.table.column(name), picked) for name in names}
        columns["split"] = take_sorted(self._split, picked)
        return columns

    def stats(self, split: str | None = None, bins: int = 30) -> StatsResult:
        """Label counts and text-length histograms (words, characters) of one split or all."""
        if not 1 <= bins <= 1000:
            raise EngineError(f"bins must be between 1 and 1000 (got {bins})")
        chars, words = self._lengths()
        select: np.ndarray | None = None
        if split is not None:
            if split not in SPLIT_ORDER:
                raise EngineError(
                    f"there is no split {split!r}",
                    hint="splits are train, validation, test, or '' for rows in none",
                )
            select = self._splits() == SPLIT_ORDER.index(split)
            if not select.any():
                have = ", ".join(f"{k} ({v:,})" for k, v in self._split_counts().items())
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
            labels=self._counts(select),
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
        labels = self._labels() if req.stratify and names else None
        with self._split_lock:
            done = assign_splits(self.num_rows, fractions, req.seed, labels, groups, names)
            split = pc.take(pa.array(SPLITS), pa.array(done.codes))
            write_split_file(self.path, split)
            with self._lock:
                self._split = pa.chunked_array([split])
                self._split_codes = None
                self._generation += 1
                self._filters.clear()
        codes = done.codes
        parts = []
        for i, name in enumerate(SPLITS):
            select = codes == i
            if select.any():
                parts.append(
                    LabelSplitCounts(
                        split=name, rows=int(select.sum()), labels=self._counts(select)
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
        found = find_duplicates(self._text, self._splits(), limit)
        return ReportResult(
            name=self.name,
            rows=self.num_rows,
            duplicate_rows=found.duplicate_rows,
            duplicate_groups=found.duplicate_groups,
            cross_split_texts=found.cross_split_texts,
            cross_split_groups=found.cross_split_groups,
        )
