"""`workbench neighbours|similarity|project|vectors` against a real engine."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine


def test_neighbours_word_and_expression(engine: RunningEngine) -> None:
    res = wb_json(engine, "neighbours", "terrible", "--k", "3")
    assert "horrible" in [n["word"] for n in res["neighbours"]]
    res = wb_json(engine, "neighbours", "king", "-", "man", "+", "woman")
    words = [n["word"] for n in res["neighbours"]]
    assert "queen" in words[:3] and "king" not in words
    assert [t["sign"] for t in res["terms"]] == [1, -1, 1]
    bad = wb(engine, "neighbours", "king - - man")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    zero = wb(engine, "neighbours", "king", "--k", "0")
    assert zero.returncode == 1


def test_similarity_in_context_and_sentences(engine: RunningEngine) -> None:
    res = wb_json(
        engine,
        "similarity",
        "--word",
        "bat",
        "A bat flew out of the cave",
        "He swung the baseball bat",
    )
    assert res["found"] == [True, True] and res["similarity"][0][1] < 0.95
    mat = wb_json(engine, "similarity", "I like this film", "This movie was fun", "Oil prices rose")
    assert mat["matrix"][0][1] > mat["matrix"][0][2]


def test_project_pca_json_and_vectors(engine: RunningEngine, tmp_path: Path) -> None:
    res = wb_json(
        engine, "project", "cat", "dog", "car", "truck", "apple", "zzqx", "--method", "pca"
    )
    assert len(res["points"]) == 5 and res["unknown"] == ["zzqx"]
    # the README's own example: words named by a group are drawn in that group
    grouped = wb_json(
        engine, "project", "cat", "dog", "car", "truck", "apple", "pear", "--group",
        "fruit=apple,pear",
    )  # fmt: skip
    group = {p["word"]: p["group"] for p in grouped["points"]}
    assert group == {"cat": "words", "dog": "words", "car": "words", "truck": "words",
                     "apple": "fruit", "pear": "fruit"}  # fmt: skip
    vec = tmp_path / "tiny.txt"
    vec.write_text("alpha 1 0 0\nbeta 0.9 0.1 0\ngamma 0 0 1\n")
    added = wb_json(engine, "vectors", "add", "tiny", str(vec))
    assert added["vocab_size"] == 3 and added["dim"] == 3
    near = wb_json(engine, "neighbours", "alpha", "--source", "tiny", "--k", "1")
    assert near["neighbours"][0]["word"] == "beta"
    names = [s["name"] for s in wb_json(engine, "vectors", "list")]
    assert {"glove-6b-50d", "minilm", "tiny"} <= set(names)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    out = wb(engine, "vectors", "add", "ragged", str(ragged))
    assert out.returncode == 1 and "line 2" in out.stderr


def test_vector_delete_and_small_tsne_note(engine: RunningEngine, tmp_path: Path) -> None:
    vec = tmp_path / "tiny.txt"
    vec.write_text("alpha 1 0 0\nbeta 0.9 0.1 0\ngamma 0 0 1\ndelta 0 1 0\n")
    wb_json(engine, "vectors", "add", "tiny2", str(vec))
    res = wb_json(
        engine,
        "project",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "--source",
        "tiny2",
        "--method",
        "tsne",
    )
    assert len(res["points"]) == 4 and "perplexity lowered" in res["note"]
    assert wb_json(engine, "vectors", "delete", "tiny2") == {"deleted": "tiny2"}
    gone = wb(engine, "neighbours", "alpha", "--source", "tiny2")
    assert gone.returncode == 1 and "tiny2" in gone.stderr
    builtin = wb(engine, "vectors", "delete", "glove-6b-50d")
    assert builtin.returncode == 1
