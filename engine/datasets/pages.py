"""Reading a stored dataset's rows: filtering by label, split and text search, and pages of rows.

A filter's matches (ascending row indices) are cached, the last FILTER_CACHE of them, keyed by
the columns' generation so a filter from before a new split is never served. Search is
case-insensitive, as plain text or an RE2 regex.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError
from engine.core.limits import product
from engine.datasets.arrays import take_sorted
from engine.datasets.columns import SPLIT_ORDER, DatasetColumns
from engine.protocol import DatasetRows, Row, RowsPage

MAX_PAGE = 10_000
FILTER_CACHE = 8

FilterKey = tuple[int, str, bool, str | None, str | None]

MAX_PAGE_CHARS = 50_000_000  # text in one page of rows
WHOLE_TEXT = 100_000  # what a page of whole texts is sized for, per row


class RowPages:
    """Filtered pages and single rows of one dataset's table; safe to share between threads."""

    def __init__(
        self, name: str, table: pa.Table, columns: DatasetColumns, extra_columns: list[str]
    ) -> None:
        self.name = name
        self.table = table
        self.columns = columns
        self.extra_columns = extra_columns
        self._filters: OrderedDict[FilterKey, np.ndarray] = OrderedDict()

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def forget_filters(self) -> None:
        """Drop every cached filter (the split changed)."""
        with self.columns.lock:
            self._filters.clear()

    def matching(self, req: DatasetRows) -> np.ndarray | None:
        """Ascending indices of rows that pass the filter; None when there is no filter."""
        if not req.search and req.label is None and req.split is None:
            return None
        columns = self.columns
        key = (columns.generation, req.search, req.regex and bool(req.search), req.label, req.split)
        with columns.lock:
            hit = self._filters.get(key)
            if hit is not None:
                self._filters.move_to_end(key)
                return hit
        mask = np.ones(self.num_rows, dtype=bool)
        if req.label is not None:
            names = columns.label_names()
            code = names.index(req.label) if req.label in names else -2
            mask &= columns.label_codes() == code
        if req.split is not None:
            code = SPLIT_ORDER.index(req.split) if req.split in SPLIT_ORDER else -1
            mask &= columns.split_codes() == code
        if req.search:
            mask &= self._search(req.search, req.regex, mask)
        found = np.flatnonzero(mask)
        with columns.lock:
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
        text = self.columns.text
        texts = text if len(rows) == self.num_rows else take_sorted(text, rows)
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
        per_row = req.max_chars or WHOLE_TEXT  # 0: whole texts, which may be long
        product("characters of text", {"rows": req.limit, "max_chars": per_row}, MAX_PAGE_CHARS,
                hint="ask for fewer rows, or cut the texts (max_chars)")  # fmt: skip
        found = self.matching(req)
        total = self.num_rows if found is None else len(found)
        start = min(req.offset, total)
        stop = min(start + req.limit, total)
        if found is None:
            picked = np.arange(start, stop, dtype=np.int64)
            page = self.table.slice(start, stop - start)
            split = self.columns.split.slice(start, stop - start)
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

    def row(self, index: int) -> Row:
        """One row with its whole text."""
        if not 0 <= index < self.num_rows:
            raise EngineError(
                f"dataset {self.name!r} has no row {index}; rows are 0 to {self.num_rows - 1}",
                code="not_found",
            )
        picked = np.array([index], dtype=np.int64)
        return self._build_rows(picked, self._columns_at(picked), 0)[0]

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

    def _columns_at(self, picked: np.ndarray) -> dict[str, pa.Array]:
        """Every column at ascending row indices, split as currently assigned."""
        names = ("text", "label", *self.extra_columns)
        columns = {name: take_sorted(self.table.column(name), picked) for name in names}
        columns["split"] = take_sorted(self.columns.split, picked)
        return columns
