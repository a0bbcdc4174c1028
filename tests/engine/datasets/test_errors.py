"""Bad input gives a EngineError with the right code, a message naming the problem, and a hint."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.core.errors import EngineError, NullContext
from engine.datasets import hub
from engine.datasets.importer import import_source, preview
from engine.datasets.writer import DATA_FILE, META_FILE
from engine.protocol import DatasetImport


def fail(
    source: Path | str,
    text: str = "text",
    label: str | None = None,
    split: str | None = None,
    fmt: str | None = None,
    dest: Path | None = None,
) -> EngineError:
    """Import source; return the EngineError it must raise."""
    req = DatasetImport(
        source=str(source),
        name="x",
        text_column=text,
        label_column=label,
        split_column=split,
        format=fmt,
    )
    if dest is None:
        dest = Path(str(source) + ".stored") if isinstance(source, Path) else Path("/nonexistent")
        if isinstance(source, Path):
            dest.mkdir(exist_ok=True)
    with pytest.raises(EngineError) as err:
        import_source(req, dest, NullContext())
    return err.value


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_missing_file(tmp_path: Path) -> None:
    err = fail(tmp_path / "train.csv")
    assert err.code == "not_found"
    assert err.message == f"there is no dataset file at {tmp_path / 'train.csv'}"
    with pytest.raises(EngineError) as again:
        preview(str(tmp_path / "train.csv"))
    assert again.value.code == "not_found"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("header.csv", "text,label\n", "header.csv has no rows"),
        ("empty.jsonl", "\n\n", "empty.jsonl is empty"),
    ],
)
def test_empty_files(tmp_path: Path, name: str, content, message: str) -> None:
    err = fail(write(tmp_path, name, content))
    assert err.code == "empty"
    assert err.message == message


def test_broken_quote_names_the_line(tmp_path: Path) -> None:
    src = write(tmp_path, "q.csv", 'text,label\nhello,pos\n"world,neg\nfoo,pos\nbar,neg\n')
    err = fail(src, label="label")
    assert err.code == "bad_input"
    assert err.message.startswith("q.csv line 3: a quoted field is never closed")
    assert '""' in err.hint
    with pytest.raises(EngineError, match="line 3"):
        preview(str(src))


def test_a_row_with_too_many_fields_names_the_line(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "text,label\nhello,pos\nworld,neg,more\nfoo,pos\n")
    err = fail(src, label="label")
    assert err.message == "x.csv line 3: expected 2 fields like the header, found 3"
    assert "quoted" in err.hint


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "text,label\ncafé,pos\nx,neg\n".encode("latin1"))
    err = fail(src, label="label")
    assert err.code == "bad_input"
    assert err.message.startswith("x.csv is not UTF-8 text: byte 0xe9 on line 2")
    assert "iconv -f latin1 -t utf-8 x.csv" in err.hint


def test_a_bad_byte_far_into_the_file_is_still_caught(tmp_path: Path) -> None:
    body = "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20_000))
    src = write(tmp_path, "late.csv", ("text,label\n" + body + "café,a\n").encode("latin1"))
    err = fail(src, label="label")
    assert "not UTF-8" in err.message and "line 20002" in err.message


def test_jsonl_that_is_not_utf8(tmp_path: Path) -> None:
    body = "".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(5000)).encode()
    src = write(tmp_path, "x.jsonl", body + b'{"text": "caf\xe9"}\n')
    assert "not UTF-8" in fail(src).message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 8, "looks like a binary file"),
        (b"PAR1" + bytes(100), "is a Parquet file"),
        ("text,label\nhi,pos\n".encode("utf-16"), "is UTF-16 text"),
    ],
)
def test_binary_and_foreign_files(tmp_path: Path, content: bytes, words: str) -> None:
    err = fail(write(tmp_path, "data.csv", content))
    assert err.code == "bad_input"
    assert words in err.message and err.message.startswith("data.csv")
    assert err.hint


def test_missing_label_column_lists_the_columns(tmp_path: Path) -> None:
    src = write(tmp_path, "train.csv", "text,sentiment\nhi,pos\nho,neg\n")
    err = fail(src, label="label")
    assert err.message == "train.csv has no column 'label'; columns are: text, sentiment"
    assert "text, sentiment" in err.hint


def test_misnamed_column_suggests_the_near_one(tmp_path: Path) -> None:
    src = write(tmp_path, "train.csv", "Text,label\nhi,pos\nho,neg\n")
    err = fail(src, label="label")
    assert err.message == "train.csv has no column 'text'; columns are: Text, label"
    assert err.hint == "did you mean 'Text'?"


def test_a_label_with_one_class(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "text,label\nhi,pos\nho,pos\nhey,\n")
    dest = tmp_path / "out"
    dest.mkdir()
    err = fail(src, label="label", dest=dest)
    assert err.message == (
        "column 'label' of x.csv has only one class ('pos'); a classifier needs at least two"
    )
    assert err.hint == "pick another label column or import without one"
    assert not (dest / META_FILE).exists()  # nothing is registered; the caller removes dest


def test_an_empty_label_column(tmp_path: Path) -> None:
    err = fail(write(tmp_path, "x.csv", "text,label\nhi,\nho,\n"), label="label")
    assert err.code == "empty"
    assert "empty in every row" in err.message


def test_text_column_of_numbers(tmp_path: Path) -> None:
    err = fail(write(tmp_path, "x.csv", "id,text\n1,hi\n2,ho\n"), text="id")
    assert err.message == "column 'id' of x.csv holds numbers (int64), not text"
    src = tmp_path / "n.parquet"
    pq.write_table(pa.table({"text": [1, 2], "label": ["a", "b"]}), src)
    assert "holds numbers" in fail(src, label="label").message


def test_a_list_label_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "l.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "tags": [["x"], ["y", "z"]]}), src)
    err = fail(src, label="tags")
    assert "holds lists" in err.message and "multi-label" in err.hint


def test_one_column_for_two_roles(tmp_path: Path) -> None:
    err = fail(write(tmp_path, "x.csv", "text,label\nhi,a\nho,b\n"), label="text")
    assert err.message == "column 'text' of x.csv is given for two roles"


def test_split_column_with_other_values(tmp_path: Path) -> None:
    err = fail(write(tmp_path, "x.csv", "text,fold\nhi,train\nho,2\n"), split="fold")
    assert err.message == "column 'fold' of x.csv holds '2', which is not a split name"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("a.json", '[{"text": "a"}, {"text": "b"}]', "holds one JSON array, not JSON Lines"),
        ("b.jsonl", '{"text": "a"}\n{"text": "b",\n{"text": "c"}\n', "line 2 is not valid JSON"),
        (
            "c.jsonl",
            "".join(json.dumps({"text": "t", "label": i % 2}) + "\n" for i in range(30_000))
            + '{"text": "z", "label": "x"}\n',
            "field 'label' holds numbers in some rows and strings in others",
        ),
    ],
)
def test_bad_json_lines(tmp_path: Path, name: str, content: str, words: str) -> None:
    err = fail(write(tmp_path, name, content))
    assert err.code == "bad_input"
    assert words in err.message


def test_not_a_parquet_file(tmp_path: Path) -> None:
    err = fail(write(tmp_path, "x.parquet", b"no parquet here" * 10))
    assert err.message.startswith("x.parquet is not a Parquet file")


def test_unknown_format_and_unknown_extension(tmp_path: Path) -> None:
    src = write(tmp_path, "notes.txt", "hello\n")
    assert "cannot tell the format of notes.txt" in fail(src).message
    assert fail(src, fmt="xml").message == "unknown format 'xml'"


def test_folders_that_are_not_saved_datasets(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert "not a saved Hugging Face dataset" in fail(tmp_path / "plain").message
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "state.json").write_text("{}")
    assert "is not a dataset saved with save_to_disk" in fail(tmp_path / "fake").message


def test_hub_name_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    err = fail("imdb")
    assert time.monotonic() - started < 10
    assert err.code == "offline"
    assert err.message.startswith("could not reach the Hugging Face hub for 'imdb': no network")
    assert "import the saved folder" in err.hint and "CSV" in err.hint
    with pytest.raises(EngineError) as again:
        preview("user/reviews")
    assert again.value.code == "offline"


def test_hub_probe_is_bounded_when_the_network_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    def hang(*args, **kwargs):
        released.wait(30)  # a connect that hangs until the test is over, then fails
        raise OSError("network unreachable")

    monkeypatch.setattr(hub, "offline_mode", lambda: False)
    monkeypatch.setattr(hub.socket, "create_connection", hang)
    monkeypatch.setattr(hub, "PROBE_SECONDS", 0.3)
    started = time.monotonic()
    err = fail("imdb")
    assert time.monotonic() - started < 3
    assert err.code == "offline"
    assert err.message == "could not reach the Hugging Face hub for 'imdb': no network"
    released.set()


def test_stored_form_is_written_only_by_a_good_import(tmp_path: Path) -> None:
    src = write(tmp_path, "ok.csv", "text,label\na,x\nb,y\n")
    dest = tmp_path / "out"
    dest.mkdir()
    req = DatasetImport(source=str(src), name="ok", text_column="text", label_column="label")
    import_source(req, dest, NullContext())
    assert (dest / DATA_FILE).exists() and (dest / META_FILE).exists()
