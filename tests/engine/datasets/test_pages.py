"""The two pieces of a stored dataset: DatasetColumns (codes computed once, a split that can be
replaced) and RowPages (filters cached by generation, pages, rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from engine.core.errors import EngineError
from engine.datasets.columns import DatasetColumns
from engine.datasets.pages import FILTER_CACHE, MAX_PAGE, RowPages
from engine.protocol import DatasetRows

TEXTS = ["good film", "Bad plot", "good fun", "dull", "GOOD", "fine café"]
LABELS = ["pos", "neg", "pos", "neg", "pos", None]
SPLITS = ["train", "train", "test", "validation", "", "test"]


def pieces() -> tuple[pa.Table, DatasetColumns, RowPages]:
    table = pa.table(
        {
            "text": pa.array(TEXTS),
            "label": pa.array(LABELS, pa.string()),
            "split": pa.array(SPLITS),
            "author": pa.array(["a", "b", "a", None, "c", "d"]),
        }
    )
    columns = DatasetColumns(table, table.column("split"))
    return table, columns, RowPages("tiny", table, columns, ["author"])


def test_codes_and_counts_come_from_the_columns() -> None:
    _, columns, _ = pieces()
    assert columns.label_names() == ["pos", "neg"]  # most frequent first
    assert columns.label_codes().tolist() == [0, 1, 0, 1, 0, -1]
    assert columns.split_codes().tolist() == [0, 0, 2, 1, 3, 2]
    chars, words = columns.lengths()
    assert chars.tolist() == [len(t) for t in TEXTS] and words.tolist() == [2, 2, 2, 1, 1, 2]
    assert columns.label_counts() == {"pos": 3, "neg": 2}
    assert columns.label_counts(np.array([False, True, False, True, False, True])) == {"neg": 2}
    assert columns.split_counts() == {"train": 2, "validation": 1, "test": 2}
    assert columns.label_codes() is columns.label_codes()  # computed once


def test_replacing_the_split_recomputes_its_codes_and_bumps_the_generation() -> None:
    _, columns, _ = pieces()
    before = columns.split_codes()
    columns.replace_split(pa.chunked_array([pa.array(["test"] * 6)]))
    assert columns.generation == 1
    assert columns.split_codes().tolist() == [2] * 6 and before.tolist() != [2] * 6
    assert columns.split_counts() == {"test": 6}


def test_filters_are_cached_until_the_split_changes() -> None:
    _, columns, pages = pieces()
    req = DatasetRows(name="tiny", search="good", split="train")
    first = pages.matching(req)
    assert first is not None and first.tolist() == [0]
    assert pages.matching(req) is first  # served from the cache
    assert pages.matching(DatasetRows(name="tiny")) is None  # no filter: every row
    columns.replace_split(pa.chunked_array([pa.array(["train"] * 6)]))
    again = pages.matching(req)
    assert again is not first and again is not None and again.tolist() == [0, 2, 4]
    pages.forget_filters()
    assert pages.matching(req) is not again


def test_the_filter_cache_keeps_the_last_few() -> None:
    _, _, pages = pieces()
    reqs = [DatasetRows(name="tiny", search=w) for w in ["go", "ba", "fu", "du", "fi", "o", "d"]]
    reqs += [DatasetRows(name="tiny", label=lab) for lab in ["pos", "neg"]]
    assert len(reqs) > FILTER_CACHE
    found = [pages.matching(r) for r in reqs]
    assert pages.matching(reqs[-1]) is found[-1]
    assert pages.matching(reqs[0]) is not found[0]  # the oldest was dropped
    assert [r.tolist() for r in found[:2]] == [[0, 2, 4], [1]]


def test_pages_and_rows_carry_every_column() -> None:
    _, _, pages = pieces()
    page = pages.rows(DatasetRows(name="tiny", label="pos", offset=1, limit=5, max_chars=3))
    assert page.total == 3 and page.offset == 1
    assert [(r.index, r.text, r.split, r.text_len) for r in page.rows] == [
        (2, "goo", "test", 8),
        (4, "GOO", "", 4),
    ]
    assert [r.extra for r in page.rows] == [{"author": "a"}, {"author": "c"}]
    row = pages.row(5)
    assert (row.text, row.label, row.split, row.extra) == (
        "fine café",
        None,
        "test",
        {"author": "d"},
    )
    with pytest.raises(EngineError, match="has no row 6; rows are 0 to 5"):
        pages.row(6)
    with pytest.raises(EngineError, match=f"at most {MAX_PAGE:,} rows"):
        pages.rows(DatasetRows(name="tiny", limit=MAX_PAGE + 1))
