"""The report: duplicate texts and texts in more than one split, against brute force."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from engine.core.errors import EngineError
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import Meta, StoredWriter, plan_columns

ORDER = ["train", "validation", "test"]


def make(folder: Path, texts: list[str], splits: list[str]) -> StoredDataset:
    table = pa.table({"text": texts, "label": pa.nulls(len(texts), pa.string()), "split": splits})
    plan = plan_columns(table.column_names, "text", "label", "split", "t")
    with StoredWriter(folder, plan) as writer:
        for batch in table.to_batches(max_chunksize=300):
            writer.write(batch)
    Meta("t", "test", "test", "text").write(folder)
    return StoredDataset.open(folder)


def brute(texts: list[str], splits: list[str], limit: int):
    """(duplicate rows, groups, cross-split count, cross groups), groups as tuples."""
    rows: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        rows.setdefault(" ".join(text.split()).lower(), []).append(i)

    def shape(members: list[int]):
        present = {splits[i] for i in members}
        return (
            texts[members[0]][:200],
            len(members),
            [s for s in ORDER if s in present],
            members[:20],
        )

    ranked = sorted(rows.values(), key=lambda m: (-len(m), m[0]))
    dups = [shape(m) for m in ranked if len(m) > 1]
    cross = [shape(m) for m in ranked if len({splits[i] for i in m} - {""}) > 1]
    return len(texts) - len(rows), dups[:limit], len(cross), cross[:limit]


def as_tuples(groups):
    return [(g.text, g.count, g.splits, g.indices) for g in groups]


def test_whitespace_and_case_do_not_hide_duplicates(tmp_path: Path) -> None:
    texts = [
        "Hello  World",
        "other",
        " hello world ",
        "HELLO\tworld\n",
        "other",
        "unique",
        "x" * 300,
        "X" * 300,
    ]
    splits = ["train", "train", "test", "", "validation", "test", "train", "train"]
    report = make(tmp_path, texts, splits).report(limit=10)
    assert report.rows == 8
    assert report.duplicate_rows == 4
    assert as_tuples(report.duplicate_groups) == [
        ("Hello  World", 3, ["train", "test"], [0, 2, 3]),
        ("other", 2, ["train", "validation"], [1, 4]),
        ("x" * 200, 2, ["train"], [6, 7]),
    ]
    assert report.cross_split_texts == 2
    assert [g.text for g in report.cross_split_groups] == ["Hello  World", "other"]


@pytest.mark.parametrize("limit", [0, 3, 1000])
def test_random_data_matches_brute_force(tmp_path: Path, limit: int) -> None:
    rng = random.Random(limit)
    pool = [f"Text {i}" for i in range(400)] + ["  text 1", "TEXT  2"]
    texts = [rng.choice(pool) + rng.choice(["", " ", "\n"]) for _ in range(3000)]
    splits = [rng.choice(["train", "validation", "test", ""]) for _ in texts]
    report = make(tmp_path, texts, splits).report(limit=limit)
    dup_rows, dups, cross_count, cross = brute(texts, splits, limit)
    assert report.duplicate_rows == dup_rows
    assert as_tuples(report.duplicate_groups) == dups
    assert report.cross_split_texts == cross_count
    assert as_tuples(report.cross_split_groups) == cross
    assert len(report.duplicate_groups) == (limit if limit < 100 else len(dups))


def test_no_duplicates(tmp_path: Path) -> None:
    report = make(tmp_path, ["a", "b", "c"], ["train", "test", ""]).report()
    assert (report.duplicate_rows, report.cross_split_texts) == (0, 0)
    assert report.duplicate_groups == [] and report.cross_split_groups == []


def test_limit_is_bounded(tmp_path: Path) -> None:
    ds = make(tmp_path, ["a"], [""])
    with pytest.raises(EngineError, match="limit must be between 0 and 1000"):
        ds.report(limit=-1)
