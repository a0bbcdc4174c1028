"""Datasets: list, open, page through rows, statistics, import (a job), split, report, rename,
delete."""

from __future__ import annotations

from typing import Literal

from engine.protocol.base import Base, HistogramInfo, Ok, Returns, StartsJob

# --------------------------------------------------------------------- values


class DatasetInfo(Base):
    name: str
    source: str  # "builtin", a path, or a hub name
    rows: int
    classes: int
    labels: dict[str, int] = {}
    splits: dict[str, int] = {}
    columns: list[str] = []
    text_column: str = "text"
    label_column: str = ""
    target_column: str = ""  # a pair dataset's target (sequence to sequence); "" when none
    created: float = 0.0
    available: bool = True  # False: a built-in whose asset package is missing
    hint: str = ""  # how to make it available
    description: str = ""
    empty_texts: int = 0  # rows whose text is empty or only whitespace
    empty_targets: int = 0  # a pair dataset's rows whose target is empty or only whitespace
    used_by: list[str] = []  # names of the runs that read it by name (resume, test, examples)


class Row(Base):
    index: int  # position in the stored dataset
    text: str  # may be cut short in pages; see text_len
    label: str | None
    split: str
    text_len: int
    extra: dict[str, str] = {}


class LabelSplitCounts(Base):
    split: str
    rows: int
    labels: dict[str, int]


class DuplicateGroup(Base):
    text: str
    count: int
    splits: list[str]
    indices: list[int]


class PreviewInfo(Base):
    source: str
    format: str
    columns: list[str]
    rows: list[dict[str, str]]
    text_column: str
    label_column: str  # "" when none guessed
    size_bytes: int = 0
    classes: dict[str, int] = {}  # label counts in the previewed rows


# --------------------------------------------------------------------- results


class DatasetListResult(Base, tag="datasets.listing"):
    datasets: list[DatasetInfo]


class DatasetResult(Base, tag="datasets.dataset"):
    dataset: DatasetInfo


class RowsPage(Base, tag="datasets.page"):
    name: str
    total: int  # rows matching the filter
    offset: int
    rows: list[Row]


class RowResult(Base, tag="datasets.one_row"):
    row: Row


class StatsResult(Base, tag="datasets.statistics"):
    name: str
    split: str | None
    rows: int
    labels: dict[str, int]
    words: HistogramInfo
    characters: HistogramInfo


class PreviewResult(Base, tag="datasets.previewed"):
    preview: PreviewInfo


class SplitResult(Base, tag="datasets.splits"):
    name: str
    seed: int
    stratified: bool
    group_column: str | None
    splits: list[LabelSplitCounts]
    note: str = ""
    parent: str = ""  # split into a new dataset (name): the one it was made from, untouched
    replaced: dict[str, int] = {}  # split in place: rows per split of the split it replaced


class ReportResult(Base, tag="datasets.duplicates"):
    name: str
    rows: int
    duplicate_rows: int  # rows whose text appeared earlier
    duplicate_groups: list[DuplicateGroup]
    cross_split_texts: int  # distinct texts found in more than one split
    cross_split_groups: list[DuplicateGroup]
    empty_texts: int = 0  # rows whose text is empty or only whitespace


# --------------------------------------------------------------------- calls


class DatasetList(Returns[DatasetListResult], tag="datasets.list"):
    pass


class DatasetShow(Returns[DatasetResult], tag="datasets.show"):
    name: str


class DatasetOpen(Returns[DatasetResult], tag="datasets.open"):
    """Load a dataset (building a built-in on first use)."""

    name: str


class DatasetRows(Returns[RowsPage], tag="datasets.rows"):
    name: str
    offset: int = 0
    limit: int = 100
    search: str = ""
    regex: bool = False
    label: str | None = None
    split: str | None = None
    max_chars: int = 300  # cut each text to this in the page; 0: whole text


class DatasetRow(Returns[RowResult], tag="datasets.row"):
    name: str
    index: int


class DatasetStats(Returns[StatsResult], tag="datasets.stats"):
    name: str
    split: str | None = None
    bins: int = 30


class DatasetPreview(Returns[PreviewResult], tag="datasets.preview"):
    source: str  # a hub name, or an absolute path on the engine's machine (file, saved HF folder)
    format: str | None = None  # csv, tsv, jsonl, parquet, hf-disk, hub; None: guess
    rows: int = 10


class DatasetImport(StartsJob[DatasetResult], tag="datasets.import"):
    source: str  # a hub name, or an absolute path on the engine's machine (file, saved HF folder)
    name: str
    text_column: str
    label_column: str | None = None
    format: str | None = None
    split_column: str | None = None  # an existing column holding train/validation/test
    target_column: str | None = None  # a pair dataset's target text (sequence to sequence)


class DatasetGenerate(StartsJob[DatasetResult], tag="datasets.generate"):
    """A generated pair dataset (no download): "dates" (written dates to ISO 8601) or
    "number-words" (English number words to digits), `size` pairs made from `seed`, split
    train/validation/test by the fractions (the test share is what is left)."""

    task: Literal["dates", "number-words"]
    name: str = ""  # "": the task's name
    size: int = 10_000
    seed: int = 0
    validation: float = 0.1
    test: float = 0.1


class DatasetSplit(Returns[SplitResult], tag="datasets.split"):
    """Assign train/validation/test. In place (into=None) the dataset's split is replaced,
    which a built-in refuses; with into, a new dataset of that name gets the split and the
    dataset keeps its own."""

    name: str
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    seed: int = 13
    stratify: bool = True
    group_column: str | None = None
    into: str | None = None


class DatasetReport(Returns[ReportResult], tag="datasets.report"):
    name: str
    limit: int = 20


class DatasetDelete(Returns[Ok], tag="datasets.delete"):
    name: str


class DatasetRename(Returns[DatasetResult], tag="datasets.rename"):
    """Give an imported dataset a new name; refused for a built-in and for a dataset that
    runs read by name (they would lose it)."""

    name: str
    new_name: str
