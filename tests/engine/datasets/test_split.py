"""Splitting: fractions, stratification, groups kept whole, seeds, and bad requests."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from engine.core.errors import EngineError
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import SPLIT_FILE, Meta, StoredWriter, plan_columns
from engine.protocol import DatasetRows, DatasetSplit


def make(folder: Path, labels: list[str | None], groups: list[str] | None = None) -> StoredDataset:
    folder.mkdir(exist_ok=True)
    n = len(labels)
    columns = {
        "text": pa.array([f"text {i}" for i in range(n)]),
        "label": pa.array(labels, pa.string()),
    }
    if groups is not None:
        columns["author"] = pa.array(groups)
    table = pa.table(columns)
    plan = plan_columns(table.column_names, "text", "label", None, "t")
    with StoredWriter(folder, plan) as writer:
        for batch in table.to_batches(max_chunksize=400):
            writer.write(batch)
    Meta("t", "test", "test", "text", "label", columns=plan.stored_extras).write(folder)
    return StoredDataset.open(folder)


def splits_of(ds: StoredDataset) -> list[str]:
    page = ds.rows(DatasetRows(name="t", limit=10_000, max_chars=1))
    return [r.split for r in page.rows]


def imbalanced(n: int = 2000, seed: int = 0) -> list[str | None]:
    rng = random.Random(seed)
    return [rng.choices(["a", "b", "c"], weights=[0.7, 0.25, 0.05])[0] for _ in range(n)]


def test_fractions_give_the_right_sizes(tmp_path: Path) -> None:
    ds = make(tmp_path, imbalanced())
    result = ds.split(DatasetSplit(name="t", train=0.7, validation=0.2, test=0.1, seed=1))
    sizes = {s.split: s.rows for s in result.splits}
    assert [s.split for s in result.splits] == ["train", "validation", "test"]
    assert sizes == {"train": 1400, "validation": 400, "test": 200}
    assert Counter(splits_of(ds)) == sizes
    assert ds.info().splits == sizes
    for part in result.splits:
        assert sum(part.labels.values()) == part.rows


def test_stratified_split_keeps_class_shares(tmp_path: Path) -> None:
    labels = imbalanced()
    ds = make(tmp_path, labels)
    result = ds.split(DatasetSplit(name="t", seed=5))
    assert result.stratified and result.note == ""
    overall = Counter(labels)
    for part in result.splits:
        for label, count in overall.items():
            share = count / len(labels)
            assert part.labels[label] / part.rows == pytest.approx(share, abs=0.005)


def test_unstratified_when_asked(tmp_path: Path) -> None:
    ds = make(tmp_path, imbalanced())
    result = ds.split(DatasetSplit(name="t", stratify=False))
    assert not result.stratified
    assert sum(p.rows for p in result.splits) == 2000


def test_a_tiny_class_falls_back_to_unstratified_and_says_so(tmp_path: Path) -> None:
    labels = imbalanced(500)
    labels[17] = "lonely"
    ds = make(tmp_path, labels)
    result = ds.split(DatasetSplit(name="t"))
    assert not result.stratified
    assert "'lonely'" in result.note and "1 row" in result.note
    assert sum(p.rows for p in result.splits) == 500


def test_same_seed_same_split_and_another_seed_another(tmp_path: Path) -> None:
    ds = make(tmp_path / "a", imbalanced())
    ds.split(DatasetSplit(name="t", seed=42))
    first = splits_of(ds)
    ds.split(DatasetSplit(name="t", seed=7))
    other = splits_of(ds)
    again = make(tmp_path / "b", imbalanced())
    again.split(DatasetSplit(name="t", seed=42))
    assert splits_of(again) == first
    assert other != first


@pytest.mark.parametrize("stratify", [True, False])
def test_groups_never_span_two_splits(tmp_path: Path, stratify: bool) -> None:
    rng = random.Random(3)
    groups = [f"author{rng.randrange(120)}" for _ in range(2000)]
    ds = make(tmp_path, imbalanced(), groups)
    result = ds.split(DatasetSplit(name="t", group_column="author", stratify=stratify))
    assert result.group_column == "author"
    assert result.stratified == stratify
    where: dict[str, set[str]] = {}
    for group, split in zip(groups, splits_of(ds), strict=True):
        where.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in where.values())
    sizes = {p.split: p.rows for p in result.splits}
    assert set(sizes) == {"train", "validation", "test"}
    assert 0.6 < sizes["train"] / 2000 < 0.95


def test_rows_with_no_group_are_groups_of_one(tmp_path: Path) -> None:
    groups = ["g1"] * 50 + [""] * 150
    ds = make(tmp_path, imbalanced(200), groups)
    ds.split(DatasetSplit(name="t", group_column="author", stratify=False))
    splits = splits_of(ds)
    assert len(set(splits[:50])) == 1
    assert len(set(splits[50:])) > 1


def test_unknown_group_column_lists_the_columns(tmp_path: Path) -> None:
    ds = make(tmp_path, imbalanced(100), ["g"] * 100)
    with pytest.raises(EngineError) as err:
        ds.split(DatasetSplit(name="t", group_column="movie"))
    assert err.value.message == "dataset 't' has no column 'movie' to group by; columns are: author"


def test_too_few_groups(tmp_path: Path) -> None:
    ds = make(tmp_path, imbalanced(100), ["g1"] * 60 + ["g2"] * 40)
    with pytest.raises(EngineError, match="2 distinct value"):
        ds.split(DatasetSplit(name="t", group_column="author"))


@pytest.mark.parametrize(
    ("train", "validation", "test", "words"),
    [
        (0.8, 0.3, 0.1, "add up to 1"),
        (0.9, -0.1, 0.2, "must not be negative"),
        (0.0, 0.5, 0.5, "train fraction must be above 0"),
        (0.5, 0.2, 0.2, "add up to 0.9"),
    ],
)
def test_bad_fractions(tmp_path: Path, train, validation, test, words) -> None:
    ds = make(tmp_path, imbalanced(50))
    with pytest.raises(EngineError) as err:
        ds.split(DatasetSplit(name="t", train=train, validation=validation, test=test))
    assert words in err.value.message
    assert err.value.code == "bad_input"
    assert not (tmp_path / SPLIT_FILE).exists()


def test_no_labels_means_no_stratification(tmp_path: Path) -> None:
    ds = make(tmp_path, [None] * 100)
    result = ds.split(DatasetSplit(name="t", train=0.5, validation=0.0, test=0.5))
    assert not result.stratified
    assert [(p.split, p.rows, p.labels) for p in result.splits] == [
        ("train", 50, {}),
        ("test", 50, {}),
    ]


def test_split_is_stored_atomically_and_survives_reopening(tmp_path: Path) -> None:
    ds = make(tmp_path, imbalanced(300))
    ds.split(DatasetSplit(name="t", seed=9))
    before = splits_of(ds)
    assert (tmp_path / SPLIT_FILE).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert splits_of(StoredDataset.open(tmp_path)) == before
    # filters cached before a new split must not serve stale rows
    test_rows = ds.rows(DatasetRows(name="t", split="test")).total
    ds.split(DatasetSplit(name="t", train=0.5, validation=0.0, test=0.5, seed=9))
    assert ds.rows(DatasetRows(name="t", split="test")).total == 150 != test_rows
