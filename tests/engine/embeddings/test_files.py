"""Adding vector sources from files: GloVe and word2vec text (gzipped too), .npy with a words
file, each problem named by line; names, duplicates, deleting, cancelling, add_table."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from engine.core.catalog import quiet
from engine.core.errors import Cancelled, EngineError
from engine.embeddings.service import EmbeddingService
from engine.paths import Home
from engine.protocol import Neighbours, NeighboursBatch, VectorAdd
from tests.helpers.jobs import Recorder

GLOVE_TEXT = """the 0.1 0.2 0.3
cat 1.0 0.0 0.1
dog 0.9 0.1 0.1
car 0.0 1.0 0.0
truck 0.1 0.9 0.0
"""


@pytest.fixture
def service(home: Home) -> EmbeddingService:
    home.ensure()
    return EmbeddingService(home, quiet("vectors"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def add(service: EmbeddingService, path: Path, name: str = "mine", **kw: object):
    return service.add(VectorAdd(name=name, path=str(path), **kw), Recorder())  # type: ignore[arg-type]


def test_a_glove_text_file_becomes_a_searchable_source(
    service: EmbeddingService, tmp_path: Path
) -> None:
    info = add(service, write(tmp_path, "small.txt", GLOVE_TEXT)).source
    assert (info.name, info.kind, info.dim, info.vocab_size) == ("mine", "static", 3, 5)
    assert info.description.startswith("GloVe text: 5 words in 3 dimensions")
    result = service.neighbours(Neighbours(query="cat", source="mine", k=2))
    assert [n.word for n in result.neighbours] == ["dog", "the"]
    assert result.neighbours[0].score == pytest.approx(
        (0.9 + 0.01) / np.sqrt(1.01) / np.sqrt(0.83), abs=1e-5
    )
    arith = service.neighbours(Neighbours(query="truck - car + cat", source="mine", k=1))
    assert [n.word for n in arith.neighbours] == ["dog"]
    assert [s.name for s in service.list()][3:] == ["mine"]


def test_a_word2vec_file_with_header_and_gzip(service: EmbeddingService, tmp_path: Path) -> None:
    path = tmp_path / "w2v.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("3 2\nParis 1 0\nparis 0.9 0.1\nRome 0 1\n")
    info = add(service, path, "w2v").source
    assert info.description.startswith("word2vec text: 3 words in 2 dimensions")
    table = service.table("w2v")
    assert table.row("Paris") == 0 and table.row("paris") == 1 and table.row("ROME") is None
    batch = service.neighbours_batch(NeighboursBatch(words=["Paris", "Berlin"], source="w2v", k=1))
    assert [n.word for n in batch.results[0]] == ["paris"] and batch.unknown == ["Berlin"]


def test_an_npy_array_with_a_words_file(service: EmbeddingService, tmp_path: Path) -> None:
    vectors = np.array([[3, 4], [1, 0], [0, 2], [6, 8]], dtype=np.float64)
    np.save(tmp_path / "v.npy", vectors)
    words = write(tmp_path, "words.txt", "a\nb\nc\na\n")
    info = add(service, tmp_path / "v.npy", words_path=str(words)).source
    assert info.vocab_size == 3  # the repeated 'a' kept its first row
    assert "1 repeated words kept their first vector" in info.description
    stored = service.table("mine").unit
    np.testing.assert_allclose(stored, [[0.6, 0.8], [1, 0], [0, 1]], atol=1e-6)


def test_repeated_words_in_text_keep_their_first_vector(
    service: EmbeddingService, tmp_path: Path
) -> None:
    info = add(service, write(tmp_path, "d.txt", GLOVE_TEXT + "cat 0 0 9\ncat 0 9 0\n")).source
    assert info.vocab_size == 5
    assert "2 repeated words kept their first vector" in info.description
    np.testing.assert_allclose(service.table("mine").vector("cat"), [1, 0, 0.1] / np.sqrt(1.01))


BAD_TEXT = [
    (GLOVE_TEXT + "bird 0.1 0.2\n", "line 6 has 2 numbers; the lines before it have 3"),
    ("2 3\ncat 1 2 3\ndog 1 2\n", "line 3 has 2 numbers; the header (line 1) says 3"),
    ("2 4\ncat 1 2 3\ndog 1 2 3\n", "line 2 has 3 numbers; the header (line 1) says 4"),
    ("cat 1 2 3\ndog 1 two 3\n", "line 2: 'two' is not a number"),
    ("cat 1 2 3\n\ndog 1 nan 3\n", "line 3 holds a value that is not a finite number ('nan')"),
    ("3 2\ncat 1 2\ndog 1 2\n", "the header (line 1) says 3 words but the file has 2"),
    ("cat\ndog 1 2\n", "line 1 has a word but no numbers"),
    (" 1 2 3\n", "line 1 starts with a space"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
def test_bad_text_files_name_the_line(
    service: EmbeddingService, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(EngineError) as err:
        add(service, write(tmp_path, "bad.txt", text))
    assert err.value.message == message
    assert not (service.dir / "mine").exists()


def test_a_bad_line_deep_in_a_big_file_is_found(service: EmbeddingService, tmp_path: Path) -> None:
    lines = [f"w{i} {i} 1" for i in range(40_000)]
    lines[33_332] = "w33332 1"
    with pytest.raises(EngineError, match=r"^line 33333 has 1 numbers"):
        add(service, write(tmp_path, "big.txt", "\n".join(lines)))


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_file_is_refused(service: EmbeddingService, tmp_path: Path, text: str) -> None:
    with pytest.raises(EngineError) as err:
        add(service, write(tmp_path, "empty.txt", text))
    assert err.value.code == "empty" and "holds no vectors" in err.value.message


def test_binary_and_broken_gzip_files_are_refused(
    service: EmbeddingService, tmp_path: Path
) -> None:
    (tmp_path / "w.bin").write_bytes(b"2 3\ncat \x00\x01\x02\xff")
    with pytest.raises(EngineError, match="line 2 holds binary data") as err:
        add(service, tmp_path / "w.bin")
    assert "save_word2vec_format" in err.value.hint
    (tmp_path / "cut.gz").write_bytes(gzip.compress(GLOVE_TEXT.encode())[:30])
    with pytest.raises(EngineError, match="not a complete gzip file"):
        add(service, tmp_path / "cut.gz")


def test_npy_problems_are_named(service: EmbeddingService, tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones((3, 2)))
    with pytest.raises(EngineError, match=r"'short\.txt' has 2 words but 'v\.npy' has 3 rows"):
        add(service, tmp_path / "v.npy", words_path=str(write(tmp_path, "short.txt", "a\nb\n")))
    with pytest.raises(EngineError, match=r"line 2 of 'gap\.txt' is empty"):
        add(service, tmp_path / "v.npy", words_path=str(write(tmp_path, "gap.txt", "a\n\nc\n")))
    with pytest.raises(EngineError, match="array without words"):
        add(service, tmp_path / "v.npy")
    np.save(tmp_path / "flat.npy", np.ones(3))
    with pytest.raises(EngineError, match="expected a 2-D array"):
        add(service, tmp_path / "flat.npy", words_path=str(write(tmp_path, "w.txt", "a\n")))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(EngineError, match="holds Python objects"):
        add(service, tmp_path / "obj.npy", words_path=str(tmp_path / "w.txt"))
    np.save(tmp_path / "inf.npy", np.array([[1.0, np.inf]]))
    with pytest.raises(EngineError, match=r"row 1 of 'inf\.npy' \(word 'a'\)"):
        add(service, tmp_path / "inf.npy", words_path=str(tmp_path / "w.txt"))
    np.save(tmp_path / "none.npy", np.ones((0, 4)))
    with pytest.raises(EngineError, match="holds no vectors"):
        add(service, tmp_path / "none.npy", words_path=str(tmp_path / "w.txt"))


def test_missing_files_are_not_found(service: EmbeddingService, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        add(service, tmp_path / "nowhere.txt")
    assert err.value.code == "not_found"


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "../up", ".cache"])
def test_unusable_names_are_refused(service: EmbeddingService, name: str) -> None:
    with pytest.raises(EngineError, match="not a usable vector source name"):
        service.check_new_name(name)


def test_names_must_be_free(service: EmbeddingService, tmp_path: Path) -> None:
    for taken in ("glove-6b-50d", "minilm"):
        with pytest.raises(EngineError) as err:
            service.check_new_name(taken)
        assert err.value.code == "exists"
    path = write(tmp_path, "small.txt", GLOVE_TEXT)
    add(service, path)
    with pytest.raises(EngineError) as err:
        add(service, path)
    assert err.value.code == "exists"


def test_delete_removes_added_sources_only(service: EmbeddingService, tmp_path: Path) -> None:
    add(service, write(tmp_path, "small.txt", GLOVE_TEXT))
    service.table("mine")
    service.delete("mine")
    assert "mine" not in [s.name for s in service.list()]
    with pytest.raises(EngineError) as err:
        service.neighbours(Neighbours(query="cat", source="mine"))
    assert err.value.code == "not_found"
    with pytest.raises(EngineError, match="built in"):
        service.delete("glove-6b-50d")
    with pytest.raises(EngineError) as err:
        service.delete("mine")
    assert err.value.code == "not_found"


def test_sources_persist_for_a_new_service(service: EmbeddingService, tmp_path: Path) -> None:
    add(service, write(tmp_path, "small.txt", GLOVE_TEXT))
    again = EmbeddingService(service.home, quiet("vectors"))
    assert again.info("mine").vocab_size == 5
    assert [
        n.word for n in again.neighbours(Neighbours(query="car", source="mine", k=1)).neighbours
    ] == ["truck"]


def test_reading_reports_progress_and_can_be_cancelled(
    service: EmbeddingService, tmp_path: Path
) -> None:
    path = write(tmp_path, "big.txt", "".join(f"w{i} {i} 1 2\n" for i in range(60_000)))
    ctx = Recorder()
    service.add(VectorAdd(name="big", path=str(path)), ctx)
    done = [d for d, t, _ in ctx.reports if t == path.stat().st_size]
    assert len(done) >= 3 and done == sorted(done) and done[-1] == path.stat().st_size
    with pytest.raises(Cancelled):
        service.add(VectorAdd(name="big2", path=str(path)), Recorder(cancel_after=2))
    assert not (service.dir / "big2").exists()
    assert not list(service.dir.glob(".tmp-*"))


def test_add_table_saves_a_model_embedding_layer(service: EmbeddingService) -> None:
    matrix = np.array([[1, 0], [0, 1], [1, 1], [5, 5]], dtype=np.float32)
    info = service.add_table("trained", ["a", "b", "ab", "ab"], matrix, "run 7, embedding layer")
    assert (info.vocab_size, info.dim, info.source) == (3, 2, "run 7, embedding layer")
    result = service.neighbours(Neighbours(query="a", source="trained", k=1))
    assert [n.word for n in result.neighbours] == ["ab"]
    with pytest.raises(EngineError, match="one word per row"):
        service.add_table("other", ["a"], matrix, "x")
    with pytest.raises(EngineError, match="line break"):
        service.add_table("other", ["a\nb"], matrix[:1], "x")
