"""Importing every format into the stored form, previews, and streaming with progress."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.core.errors import Cancelled, NullContext
from engine.datasets import hub
from engine.datasets.formats import guess_format
from engine.datasets.importer import import_source, preview
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import META_FILE, Meta
from engine.protocol import DatasetImport, DatasetRows

CSV = (
    "text,sentiment,split,id\n"
    '"Loved it, truly",pos,train,1\n'
    '"She said ""meh""\nand left",neg,dev,2\n'
    "Fine film,pos,test,3\n"
    "Awful,neg,train,4\n"
    "Quiet one,,train,5\n"
)


def load(dest: Path) -> tuple[StoredDataset, list]:
    ds = StoredDataset.open(dest)
    rows = ds.rows(DatasetRows(name=ds.name, limit=400, max_chars=0)).rows
    return ds, rows


def run_import(tmp_path: Path, source: Path | str, **kw) -> tuple[StoredDataset, list]:
    dest = tmp_path / "stored"
    dest.mkdir()
    kw.setdefault("text_column", "text")
    import_source(DatasetImport(source=str(source), name="imported", **kw), dest, NullContext())
    return load(dest)


def test_csv_with_quotes_newlines_and_a_split_column(tmp_path: Path) -> None:
    src = tmp_path / "reviews.csv"
    src.write_text(CSV, encoding="utf-8")
    ds, rows = run_import(tmp_path, src, label_column="sentiment", split_column="split")
    assert [r.text for r in rows] == [
        "Loved it, truly",
        'She said "meh"\nand left',
        "Fine film",
        "Awful",
        "Quiet one",
    ]
    assert [r.label for r in rows] == ["pos", "neg", "pos", "neg", None]
    assert [r.split for r in rows] == ["train", "validation", "test", "train", "train"]
    assert rows[0].extra == {"id": "1"}
    info = ds.info()
    assert (info.rows, info.classes, info.labels) == (5, 2, {"neg": 2, "pos": 2})
    assert (info.text_column, info.label_column, info.columns) == ("text", "sentiment", ["id"])
    meta = Meta.read(ds.path)
    assert (meta.name, meta.format, meta.source) == ("imported", "csv", str(src.resolve()))
    assert meta.columns == ["id"]


def test_columns_that_collide_are_renamed_and_labels_stay_as_written(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("body,label,split,stars\na,x,q,1\nb,y,r,5\nc,z,s,05\n", encoding="utf-8")
    ds, rows = run_import(tmp_path, src, text_column="body", label_column="stars")
    assert ds.extra_columns == ["src_label", "src_split"]
    assert [r.label for r in rows] == ["1", "5", "05"]
    assert rows[0].extra == {"src_label": "x", "src_split": "q"}
    assert [r.split for r in rows] == ["", "", ""]


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    src = tmp_path / "x.tsv"
    src.write_text('text\tlabel\nsay "hi, there\t1\nplain\t0\n', encoding="utf-8")
    _, rows = run_import(tmp_path, src, label_column="label")
    assert [(r.text, r.label) for r in rows] == [('say "hi, there', "1"), ("plain", "0")]


def test_jsonl_with_numbers_and_nested_values(tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    lines = [
        {"text": "one", "label": 1, "meta": {"a": 1}},
        {"text": "two", "label": 0, "meta": {"a": 2}},
        {"text": None, "label": 1, "meta": None},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    _, rows = run_import(tmp_path, src, label_column="label")
    assert [(r.text, r.label) for r in rows] == [("one", "1"), ("two", "0"), ("", "1")]
    assert json.loads(rows[0].extra["meta"]) == {"a": 1}


def test_parquet_with_a_dictionary_label(tmp_path: Path) -> None:
    src = tmp_path / "x.parquet"
    table = pa.table(
        {
            "review": ["good", "bad", "ok"] * 100,
            "label": pa.array(["p", "n", "p"] * 100).dictionary_encode(),
            "score": [1.5, 2.0, None] * 100,
        }
    )
    pq.write_table(table, src, row_group_size=70)
    ds, rows = run_import(tmp_path, src, text_column="review", label_column="label")
    assert ds.info().labels == {"p": 200, "n": 100}
    assert [r.extra["score"] for r in rows[:3]] == ["1.5", "2", ""]


def test_compressed_csv(tmp_path: Path) -> None:
    for opener, suffix in ((gzip.open, ".csv.gz"), (bz2.open, ".csv.bz2")):
        src = tmp_path / f"x{suffix}"
        with opener(src, "wt", encoding="utf-8") as f:
            f.write(CSV)
        assert guess_format(str(src)) == "csv"
        dest = tmp_path / suffix
        dest.mkdir()
        req = DatasetImport(source=str(src), name="z", text_column="text", label_column="sentiment")
        import_source(req, dest, NullContext())
        assert StoredDataset.open(dest).info().rows == 5


def hf_dict():
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "sentence": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["neg", "pos"]),
            "idx": datasets.Value("int32"),
        }
    )

    def part(n: int, start: int):
        return datasets.Dataset.from_dict(
            {
                "sentence": [f"s{i}" for i in range(start, start + n)],
                "label": [i % 2 for i in range(n)],
                "idx": list(range(start, start + n)),
            },
            features=features,
        )

    return datasets.DatasetDict({"train": part(6, 0), "dev": part(2, 6), "extra": part(2, 8)})


def test_hf_disk_dataset_dict_maps_splits_and_class_names(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    hf_dict().save_to_disk(str(folder))
    assert guess_format(str(folder)) == "hf-disk"
    ds, rows = run_import(tmp_path, folder, text_column="sentence", label_column="label")
    assert [r.split for r in rows] == ["train"] * 6 + ["validation"] * 2 + [""] * 2
    assert [r.label for r in rows[:3]] == ["neg", "pos", "neg"]
    assert rows[9].extra == {"idx": "9", "hf_split": "extra"}
    assert ds.info().labels == {"neg": 5, "pos": 5}


def test_hf_disk_single_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    hf_dict()["train"].save_to_disk(str(folder))
    info = preview(str(folder))
    assert (info.format, info.text_column, info.label_column) == ("hf-disk", "sentence", "label")
    assert info.rows[1] == {"sentence": "s1", "label": "pos", "idx": "1"}
    ds, rows = run_import(tmp_path, folder, text_column="sentence", label_column="label")
    assert [r.split for r in rows] == [""] * 6
    assert ds.extra_columns == ["idx"]


def test_hub_source_is_read_through_load_dataset(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def fake_load(name: str, streaming: bool):
        calls.append((name, streaming))
        return hf_dict()

    monkeypatch.setattr(hub, "load_hub", fake_load)
    assert guess_format("someone/reviews") == "hub"
    _, rows = run_import(tmp_path, "someone/reviews", text_column="sentence", label_column="label")
    assert calls == [("someone/reviews", False)]
    assert len(rows) == 10 and rows[6].split == "validation"


def test_hub_preview_streams_the_first_rows(monkeypatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, streaming: bool):
        calls.append((name, streaming))
        parts = hf_dict()
        return datasets.IterableDatasetDict({k: v.to_iterable_dataset() for k, v in parts.items()})

    monkeypatch.setattr(hub, "load_hub", fake_load)
    info = preview("someone/reviews", n=4)
    assert calls == [("someone/reviews", True)]
    assert (info.format, info.text_column, info.label_column) == ("hub", "sentence", "label")
    assert [r["label"] for r in info.rows] == ["neg", "pos", "neg", "pos"]
    assert info.classes == {"neg": 2, "pos": 2}
    assert info.columns == ["sentence", "label", "idx", "hf_split"]


def test_preview_guesses_columns_and_counts_classes(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    lines = ["id,title,sentiment,review"]
    for i in range(40):
        review = f"a long review number {i} that says quite a lot about the film"
        lines.append(f"{i},Film {i},{'pos' if i % 3 else 'neg'},{review}")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = preview(str(src), n=6)
    assert info.format == "csv"
    assert info.columns == ["id", "title", "sentiment", "review"]
    assert (info.text_column, info.label_column) == ("review", "sentiment")
    assert len(info.rows) == 6
    assert info.rows[0]["id"] == "0" and info.rows[0]["sentiment"] == "neg"
    assert info.classes == {"pos": 4, "neg": 2}
    assert info.size_bytes == src.stat().st_size


def test_preview_without_a_label_column(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text(
        "".join(json.dumps({"n": i, "body": f"text {i} " * 5}) + "\n" for i in range(30)),
        encoding="utf-8",
    )
    info = preview(str(src))
    assert (info.text_column, info.label_column, info.classes) == ("body", "", {})
    assert len(info.rows) == 10


def big_csv(path: Path, megabytes: int = 20) -> int:
    line = "some words about a film that go on for a while to fill the line out"
    with open(path, "w", encoding="utf-8") as f:
        f.write("text,label\n")
        rows = megabytes * 1024 * 1024 // (len(line) + 12)
        f.writelines(f"{line} {i},{'ab'[i % 2]}\n" for i in range(rows))
    return rows


class Recorder:
    """A JobContext that records progress and cancels after `cancel_after` checks."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.checks = 0
        self.done: list[float] = []
        self.totals: list[float] = []
        self.arrow_bytes: list[int] = []

    def progress(self, done: float, total: float, message: str = "") -> None:
        self.done.append(done)
        self.totals.append(total)
        self.arrow_bytes.append(pa.total_allocated_bytes())

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancel_after is not None and self.checks > self.cancel_after:
            raise Cancelled()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("big") / "big.csv"
    return path, big_csv(path)


def test_big_csv_streams_with_increasing_progress(big, tmp_path: Path) -> None:
    src, rows = big
    size = src.stat().st_size
    dest = tmp_path / "d"
    dest.mkdir()
    ctx = Recorder()
    req = DatasetImport(source=str(src), name="big", text_column="text", label_column="label")
    import_source(req, dest, ctx)
    done = ctx.done[1:]  # the first report is "opening", at 0
    assert len(done) >= 3
    assert all(b > a for a, b in zip(ctx.done, ctx.done[1:], strict=False))
    assert done[-1] == ctx.totals[-1] == size
    assert ctx.checks >= 10  # about one per MiB block
    # batches are written as they come: Arrow never holds the whole file
    assert max(ctx.arrow_bytes) < size / 2
    info = StoredDataset.open(dest).info()
    assert info.rows == rows and info.labels == {"a": (rows + 1) // 2, "b": rows // 2}


def test_big_csv_import_can_be_cancelled_midway(big, tmp_path: Path) -> None:
    src, _ = big
    dest = tmp_path / "d"
    dest.mkdir()
    ctx = Recorder(cancel_after=4)
    req = DatasetImport(source=str(src), name="big", text_column="text", label_column="label")
    with pytest.raises(Cancelled):
        import_source(req, dest, ctx)
    assert ctx.checks == 5
    assert ctx.done[-1] < src.stat().st_size
    assert not (dest / META_FILE).exists()
