"""The dataset registry: built-ins and imports, stored as Arrow, listed in SQLite; what other
domains call to read texts and labels.

Nothing is half-written: an import or a built-in is built in a temporary
folder and only renamed into place and registered when it is complete.
Every change is announced (a CatalogChanged of kind "datasets").
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

from engine import protocol as P
from engine.core.catalog import Changes, check_new_name, sweep_orphans
from engine.core.errors import EngineError, JobContext, NullContext
from engine.core.store import Store, StoreError
from engine.datasets import builtin, generated
from engine.datasets.importer import import_source, read_labelled
from engine.datasets.splitting import assign_splits, check_fractions
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import DATA_FILE, SPLITS, ColumnPlan, Meta, StoredWriter
from engine.paths import Home

log = logging.getLogger("engine.datasets")
MIN_GENERATED, MAX_GENERATED = 10, 2_000_000


def write_generated(req: P.DatasetGenerate, name: str, dest: Path, ctx: JobContext) -> None:
    """Make the task's pairs and store them with source, target and a seeded split."""
    import pyarrow as pa

    make, about = generated.TASKS[req.task]
    ctx.progress(0, req.size, f"generating {req.size:,} pairs")
    pairs = make(req.size, req.seed)
    ctx.check_cancelled()
    fractions = check_fractions(1 - req.validation - req.test, req.validation, req.test)
    codes = assign_splits(len(pairs), fractions, req.seed).codes
    table = pa.table(
        {
            "source": [s for s, _ in pairs],
            "split": [SPLITS[int(c)] for c in codes],
            "target": [t for _, t in pairs],
        }
    )
    plan = ColumnPlan("source", None, "split", (("target", "target"),), req.task)
    with StoredWriter(dest, plan) as writer:
        writer.write(table)
    writer.check()
    Meta(
        name=name,
        source=f"generated:{req.task}",
        format="generated",
        text_column="source",
        target_column="target",
        created=time.time(),
        columns=plan.stored_extras,
        description=f"{about}: {req.size:,} pairs made with seed {req.seed}",
    ).write(dest)
    ctx.progress(req.size, req.size, f"{req.size:,} pairs")


class DatasetService:
    def __init__(self, home: Home, store: Store, changes: Changes) -> None:
        self.home = home
        self.store = store
        self.changes = changes
        self._open: dict[str, StoredDataset] = {}
        self._lock = threading.RLock()
        self._building: dict[str, threading.Lock] = {}
        self._sweep_temporary()

    def _sweep_temporary(self) -> None:
        """Remove what a crash left half-written: temp folders, unregistered folders."""
        registered = {Path(d["path"]).name for d in self.store.datasets()}
        sweep_orphans(self.home.datasets_dir, registered, "dataset")

    # ------------------------------------------------------------- listing

    def list(self) -> list[P.DatasetInfo]:
        registered = {d["name"]: d for d in self.store.datasets()}
        runs = _runs_by_dataset(self.store)
        out: list[P.DatasetInfo] = []
        for name in builtin.BUILTINS:
            row = registered.pop(name, None)
            info = builtin.builtin_info(name)
            if row is not None:
                info = _with_summary(info, row)
            out.append(info)
        for row in registered.values():
            out.append(_info_from_row(row))
        for info in out:
            info.used_by = runs.get(info.name, [])
        return out

    def info(self, name: str) -> P.DatasetInfo:
        row = self.store.dataset(name)
        if row is not None:
            base = builtin.builtin_info(name) if name in builtin.BUILTINS else None
            info = _with_summary(base, row) if base else _info_from_row(row)
        elif name in builtin.BUILTINS:
            info = builtin.builtin_info(name)
        else:
            raise self._unknown(name)
        info.used_by = _runs_by_dataset(self.store).get(name, [])
        return info

    def _unknown(self, name: str) -> EngineError:
        names = [d.name for d in self.list()]
        return EngineError(
            f"no dataset named '{name}'",
            hint="datasets are: " + ", ".join(names) if names else "import one first",
            code="not_found",
        )

    # ------------------------------------------------------------- opening

    def get(self, name: str) -> StoredDataset:
        """The opened dataset, building a built-in on first use."""
        with self._lock:
            ds = self._open.get(name)
            if ds is not None:
                return ds
        row = self.store.dataset(name)
        if row is None:
            if name not in builtin.BUILTINS:
                raise self._unknown(name)
            self._build_builtin(name)
            row = self.store.dataset(name)
            assert row is not None
        with self._lock:
            ds = self._open.get(name)
            if ds is None:
                ds = StoredDataset.open(Path(row["path"]))
                self._open[name] = ds
                summary = row["summary"]
                stale = "empty_texts" not in summary or (
                    ds.meta.target_column and "empty_targets" not in summary
                )
                if stale:  # stored before it was counted
                    self.store.update_dataset_summary(name, _summary(ds))
            return ds

    def texts(self, name: str, split: str | None = None) -> list[str]:
        """The texts of a dataset (one split, or all rows when split is None)."""
        return self.get(name).texts(split)

    def labels(self, name: str, split: str | None = None) -> list[str | None]:
        """The labels of a dataset's rows (one split, or all rows), None where a row has none."""
        return self.get(name).labels(split)

    def targets(self, name: str, split: str | None = None) -> list[str]:
        """A pair dataset's targets, in the order texts() gives the sources; EngineError for
        a dataset without a target column."""
        return self.get(name).targets(split)

    def read_file(
        self,
        source: str,
        fmt: str | None,
        text_column: str,
        label_column: str | None,
        ctx: JobContext,
    ) -> tuple[list[str], list[str | None] | None]:
        """Every text of a file that is not imported (and its labels, if label_column)."""
        return read_labelled(source, fmt, text_column, label_column, ctx)

    def split_indices(self, name: str, split: str | None) -> list[int]:
        """The dataset row numbers of a split's rows, in the order texts() gives them."""
        ds = self.get(name)
        picked = ds.split_indices(split)
        return list(range(ds.num_rows)) if picked is None else [int(i) for i in picked]

    def split_rows(self, name: str, split: str | None) -> int:
        """Rows in one split (every row when split is None); EngineError for an unknown one."""
        ds = self.get(name)
        picked = ds.split_indices(split)
        return ds.num_rows if picked is None else len(picked)

    def _build_builtin(self, name: str) -> None:
        info = builtin.builtin_info(name)
        if not info.available:
            raise EngineError(f"built-in dataset '{name}' is not installed", info.hint, "not_found")
        with self._lock:
            lock = self._building.setdefault(name, threading.Lock())
        with lock:  # two clients opening at once build it once
            if self.store.dataset(name) is not None:
                return
            log.info("building built-in dataset %s", name)
            self._commit(
                name,
                "builtin",
                "builtin",
                lambda tmp: builtin.build_builtin(name, tmp, NullContext()),
            )

    def _commit(
        self, name: str, source: str, fmt: str, build: Callable[[Path], object]
    ) -> StoredDataset:
        tmp = self.home.datasets_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            ds = StoredDataset.open(tmp)
            rows = ds.info().rows
            del ds
            if rows == 0:
                raise EngineError(f"'{source}' has no rows", "check the file has data", "empty")
            with self._lock:
                if self.store.dataset(name) is not None:
                    raise EngineError(
                        f"a dataset named '{name}' already exists",
                        "choose another name, or delete the old one first",
                        "exists",
                    )
                final = self.home.datasets_dir / name
                if final.exists():  # an unregistered leftover: keep it aside, never overwrite
                    final.rename(final.with_name(f".orphan-{name}-{uuid.uuid4().hex[:8]}"))
                tmp.rename(final)
                ds = StoredDataset.open(final)
                try:
                    self.store.add_dataset(name, source, fmt, str(final), _summary(ds))
                except StoreError as exc:
                    shutil.rmtree(final, ignore_errors=True)
                    raise EngineError(str(exc), "choose another name", "exists") from None
                self._open[name] = ds
            if name in builtin.BUILTINS:
                self.changes.updated(name)  # it was listed already: now it is built
            else:
                self.changes.added(name)
            return ds
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------- changes

    def check_new_name(self, name: str) -> None:
        """Raise EngineError unless name is usable and free (built-ins included)."""
        check_new_name(
            "dataset", name, taken=name in builtin.BUILTINS or self.store.dataset(name) is not None
        )

    def import_(self, req: P.DatasetImport, ctx: JobContext) -> P.DatasetResult:
        self.check_new_name(req.name)
        fmt = req.format or "auto"
        ds = self._commit(req.name, req.source, fmt, lambda tmp: import_source(req, tmp, ctx))
        return P.DatasetResult(dataset=self._info_of(req.name, ds))

    def generate(self, req: P.DatasetGenerate, ctx: JobContext) -> P.DatasetResult:
        """A generated pair task (engine.datasets.generated) stored as a dataset."""
        name = req.name or req.task
        self.check_generate(req)
        ds = self._commit(
            name,
            f"generated:{req.task}",
            "generated",
            lambda tmp: write_generated(req, name, tmp, ctx),
        )
        return P.DatasetResult(dataset=self._info_of(name, ds))

    def check_generate(self, req: P.DatasetGenerate) -> None:
        """Refuse a generation that cannot be made, before it becomes a job."""
        self.check_new_name(req.name or req.task)
        if req.task not in generated.TASKS:
            raise EngineError(
                f"there is no generated task '{req.task}'",
                hint="tasks are: " + ", ".join(generated.TASKS),
            )
        size = req.size
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not MIN_GENERATED <= size <= MAX_GENERATED
        ):
            raise EngineError(
                f"size must be {MIN_GENERATED} to {MAX_GENERATED:,} pairs, got {size!r}",
                hint="10,000 is plenty for a GRU to learn dates",
            )
        if req.validation + req.test >= 1:
            raise EngineError(
                f"validation {req.validation:g} and test {req.test:g} leave no pairs for training",
                hint="for example validation 0.1 and test 0.1 (train gets the rest)",
            )
        check_fractions(1 - req.validation - req.test, req.validation, req.test)

    def _info_of(self, name: str, ds: StoredDataset) -> P.DatasetInfo:
        info = ds.info()
        row = self.store.dataset(name)
        if row is not None:
            info.name = name
            info.created = row["created"]
        return info

    def split(self, req: P.DatasetSplit) -> P.SplitResult:
        """Split in place (refused for a built-in), or into a new dataset (req.into)."""
        if req.into is not None:
            return self._split_into(req)
        if req.name in builtin.BUILTINS:
            raise EngineError(
                f"'{req.name}' is a built-in dataset: its own split ({builtin.own_split(req.name)})"
                " is never replaced",
                hint=f"split it into a new dataset: workbench datasets split {req.name} --into "
                f"{req.name}-s{req.seed} (in the app, s asks for the new name)",
            )
        ds = self.get(req.name)
        replaced = ds.columns.split_counts()
        result = ds.split(req)
        result.replaced = replaced
        self.store.update_dataset_summary(req.name, _summary(ds))
        self.changes.updated(req.name)
        return result

    def _split_into(self, req: P.DatasetSplit) -> P.SplitResult:
        """A new dataset named req.into: the rows of req.name (its data file linked, not
        copied) with the split asked for; req.name is left as it was."""
        into = req.into
        assert into is not None
        self.check_new_name(into)
        source = self.get(req.name)
        made: list[P.SplitResult] = []

        def build(tmp: Path) -> None:
            _link_or_copy(source.path / DATA_FILE, tmp / DATA_FILE)
            grouped = f", grouped by {req.group_column}" if req.group_column else ""
            dataclasses.replace(
                source.meta,
                name=into,
                created=time.time(),
                description=f"{req.name} split again (train/validation/test {req.train:g}/"
                f"{req.validation:g}/{req.test:g}, seed {req.seed}{grouped}). "
                + source.meta.description,
            ).write(tmp)
            made.append(StoredDataset.open(tmp).split(msgspec.structs.replace(req, into=None)))

        self._commit(into, f"split of {req.name}", "split", build)
        result = made[0]
        result.parent = req.name
        return result

    def rename(self, name: str, new_name: str) -> P.DatasetInfo:
        """Rename an imported dataset: its folder, meta.json and registry row. Refused for a
        built-in (it is rebuilt by its name) and for a dataset that runs read by name."""
        if name in builtin.BUILTINS:
            raise EngineError(
                f"'{name}' is a built-in dataset and keeps its name",
                hint=f"split it into a new dataset of the name you want: workbench datasets "
                f"split {name} --into {new_name}",
            )
        row = self.store.dataset(name)
        if row is None:
            raise self._unknown(name)
        if new_name == name:
            return self.info(name)
        self.check_new_name(new_name)
        runs = _runs_using(self.store, name)
        if runs:
            shown = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
            raise EngineError(
                f"dataset '{name}' cannot be renamed: {len(runs)} run(s) read it by name "
                f"to resume, score the test split and list examples ({shown})",
                hint="delete those runs first (workbench runs delete ID, or screen 5), or keep "
                "this name",
            )
        with self._lock:
            old = Path(row["path"])
            new = self.home.datasets_dir / new_name
            if new.exists():  # an unregistered leftover: keep it aside, never overwrite
                new.rename(new.with_name(f".orphan-{new_name}-{uuid.uuid4().hex[:8]}"))
            meta = Meta.read(old)
            self._open.pop(name, None)
            old.rename(new)
            try:
                dataclasses.replace(meta, name=new_name).write(new)
                with self.store.transaction() as db:
                    db.execute(
                        "UPDATE datasets SET name = ?, path = ? WHERE name = ?",
                        (new_name, str(new), name),
                    )
            except BaseException:  # as it was: the old name in meta.json, the old folder
                meta.write(new)
                new.rename(old)
                raise
        self.changes.deleted(name)
        self.changes.added(new_name)
        return self.info(new_name)

    def delete(self, name: str) -> None:
        row = self.store.dataset(name)
        if row is None:
            raise self._unknown(name)
        with self._lock:
            self._open.pop(name, None)
            self.store.delete_dataset(name)
        shutil.rmtree(row["path"], ignore_errors=True)
        self.changes.deleted(name)


def _runs_by_dataset(store: Store) -> dict[str, list[str]]:
    """The names of the runs that read each dataset by name (their config names it)."""
    runs: dict[str, list[str]] = {}
    for run in store.runs():
        runs.setdefault(str(run["dataset"]), []).append(str(run["name"]))
    return runs


def _runs_using(store: Store, name: str) -> list[str]:
    """'run name (run id)' of each run that reads dataset name."""
    return [f"{r['name']} ({r['run_id']})" for r in store.runs() if r["dataset"] == name]


def _link_or_copy(source: Path, dest: Path) -> None:
    """dest as a hard link to source (the data file is never written again), else a copy."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _summary(ds: StoredDataset) -> dict[str, object]:
    info = ds.info()
    return {
        "empty_texts": info.empty_texts,
        "empty_targets": info.empty_targets,
        "rows": info.rows,
        "classes": info.classes,
        "labels": info.labels,
        "splits": info.splits,
        "columns": info.columns,
        "text_column": info.text_column,
        "label_column": info.label_column,
        "target_column": info.target_column,
        "description": info.description,
    }


def _info_from_row(row: dict[str, object]) -> P.DatasetInfo:
    s = row["summary"]
    assert isinstance(s, dict)
    return P.DatasetInfo(
        name=str(row["name"]),
        source=str(row["source"]),
        rows=int(s.get("rows", 0)),
        classes=int(s.get("classes", 0)),
        labels=dict(s.get("labels", {})),
        splits=dict(s.get("splits", {})),
        columns=list(s.get("columns", [])),
        text_column=str(s.get("text_column", "text")),
        label_column=str(s.get("label_column", "")),
        target_column=str(s.get("target_column", "")),
        created=float(row["created"]),  # type: ignore[arg-type]
        description=str(s.get("description", "")),
        empty_texts=int(s.get("empty_texts", 0)),
        empty_targets=int(s.get("empty_targets", 0)),
    )


def _with_summary(base: P.DatasetInfo, row: dict[str, object]) -> P.DatasetInfo:
    info = _info_from_row(row)
    info.source = "builtin"
    info.description = base.description or info.description
    info.available = base.available
    info.hint = base.hint
    return info
