"""The registry side of datasets: renaming, splitting into a new dataset (a built-in's own split
is never replaced), empty texts counted, and the runs that read a dataset by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import protocol as P
from engine.core.catalog import Changes
from engine.core.errors import EngineError, NullContext
from engine.datasets.service import DatasetService
from engine.datasets.writer import DATA_FILE, Meta
from tests.engine.datasets.conftest import Recorder


def imported(service: DatasetService, tmp_path: Path, name: str = "notes", rows: int = 40) -> None:
    csv = tmp_path / f"{name}.csv"
    lines = ["text,label,author"]
    for i in range(rows):
        text = "" if i % 10 == 3 else "   " if i % 10 == 7 else f"note {i} about {'ab'[i % 2]}"
        lines.append(f'"{text}",{"ab"[i % 2]},w{i % 8}')
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    call = P.DatasetImport(source=str(csv), name=name, text_column="text", label_column="label")
    service.import_(call, NullContext())


def add_run(service: DatasetService, dataset: str, run_id: str = "r-1", name: str = "cnn") -> None:
    service.store.add_run(run_id, name, "cnn", dataset, "", "/nowhere")


def test_empty_and_blank_texts_are_counted_at_import_and_in_the_report(
    service: tuple[DatasetService, Recorder], tmp_path: Path
) -> None:
    svc, _ = service
    imported(svc, tmp_path)
    info = svc.info("notes")
    assert info.empty_texts == 8  # rows 3, 7, 13, 17, ...: empty or only spaces
    assert next(d for d in svc.list() if d.name == "notes").empty_texts == 8
    assert svc.get("notes").report(5).empty_texts == 8


def test_rename_moves_folder_meta_and_row_and_says_so(
    service: tuple[DatasetService, Recorder], tmp_path: Path
) -> None:
    svc, seen = service
    imported(svc, tmp_path)
    before = svc.get("notes").rows(P.DatasetRows(name="notes", limit=50)).rows
    created = svc.info("notes").created
    info = svc.rename("notes", "memos")
    assert (info.name, info.rows, info.created) == ("memos", 40, created)
    assert [d.name for d in svc.list()][-1] == "memos"
    assert "notes" not in [d.name for d in svc.list()]
    folder = svc.home.datasets_dir / "memos"
    assert Meta.read(folder).name == "memos" and not (svc.home.datasets_dir / "notes").exists()
    after = svc.get("memos").rows(P.DatasetRows(name="memos", limit=50))
    assert after.name == "memos" and after.rows == before
    assert seen.events[-2:] == [("notes", "deleted"), ("memos", "added")]
    with pytest.raises(EngineError, match="no dataset named 'notes'"):
        svc.get("notes")
    # a restarted engine finds it under its new name
    again = DatasetService(svc.home, svc.store, Changes("datasets", Recorder()))
    assert again.get("memos").num_rows == 40


def test_rename_refuses_builtins_taken_names_bad_names_and_datasets_runs_use(
    service: tuple[DatasetService, Recorder], tmp_path: Path
) -> None:
    svc, _ = service
    imported(svc, tmp_path)
    imported(svc, tmp_path, "other", rows=12)
    with pytest.raises(EngineError, match="built-in dataset and keeps its name") as err:
        svc.rename("rotten-tomatoes", "rt")
    assert "--into rt" in err.value.hint
    with pytest.raises(EngineError, match="already exists"):
        svc.rename("notes", "other")
    with pytest.raises(EngineError, match="already exists"):
        svc.rename("notes", "reuters-r8")
    with pytest.raises(EngineError, match="not a usable dataset name"):
        svc.rename("notes", "no spaces")
    with pytest.raises(EngineError, match="no dataset named 'nope'"):
        svc.rename("nope", "fine")
    add_run(svc, "notes", "20261201-1-abc", "cnn-notes")
    assert svc.info("notes").used_by == ["cnn-notes"]
    with pytest.raises(EngineError, match="1 run") as err:
        svc.rename("notes", "memos")
    assert "cnn-notes (20261201-1-abc)" in err.value.message
    assert "resume" in err.value.message and "delete those runs" in err.value.hint
    assert svc.get("notes").num_rows == 40  # nothing moved


def test_a_builtin_is_never_split_in_place(service: tuple[DatasetService, Recorder]) -> None:
    svc, _ = service
    with pytest.raises(EngineError, match="built-in dataset: its own split") as err:
        svc.split(P.DatasetSplit(name="rotten-tomatoes", seed=7))
    assert "split by movie" in err.value.message
    assert "--into rotten-tomatoes-s7" in err.value.hint


def test_split_into_a_new_dataset_leaves_the_builtin_as_it_was(
    service: tuple[DatasetService, Recorder],
) -> None:
    svc, seen = service
    own = svc.get("reuters-r8").info().splits
    res = svc.split(P.DatasetSplit(name="reuters-r8", into="r8-mine", seed=3, train=0.7,
                                   validation=0.15, test=0.15))  # fmt: skip
    assert (res.name, res.parent, res.replaced) == ("r8-mine", "reuters-r8", {})
    assert svc.get("reuters-r8").info().splits == own == {"train": 5485, "test": 2189}
    mine = svc.info("r8-mine")
    assert mine.rows == 7674 and set(mine.splits) == {"train", "validation", "test"}
    assert mine.source == "split of reuters-r8" and "split again" in mine.description
    assert mine.splits == {s.split: s.rows for s in res.splits}
    assert mine.labels == svc.info("reuters-r8").labels
    data = (svc.home.datasets_dir / "r8-mine" / DATA_FILE).stat()
    assert data.st_nlink == 2  # the rows are shared on disk, not copied
    assert ("r8-mine", "added") in seen.events
    # the new one is an ordinary dataset: split again in place, renamed, deleted
    again = svc.split(P.DatasetSplit(name="r8-mine", seed=4))
    assert again.replaced == mine.splits
    svc.rename("r8-mine", "r8-other")
    svc.delete("r8-other")
    assert svc.get("reuters-r8").info().splits == own
    with pytest.raises(EngineError, match="already exists"):
        svc.split(P.DatasetSplit(name="reuters-r8", into="rotten-tomatoes"))
    with pytest.raises(EngineError, match="add up to 1"):
        svc.split(P.DatasetSplit(name="reuters-r8", into="r8-bad", train=0.9))
    assert "r8-bad" not in [d.name for d in svc.list()]
    leftovers = [p.name for p in svc.home.datasets_dir.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
