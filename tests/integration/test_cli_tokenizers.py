"""`workbench tokenize`, `workbench tokenizers ...` and `workbench encode` against a real engine."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine


def test_tokenize_minilm_known_answer_and_grid(engine: RunningEngine) -> None:
    res = wb_json(engine, "tokenize", "I love my dog")
    view = res["encodings"][0]
    assert view["ids"] == [101, 1045, 2293, 2026, 3899, 102]
    assert view["tokens"][2] == "love" and view["offsets"][2] == [2, 6]
    grid = wb_json(
        engine,
        "tokenize",
        "--padding",
        "max_length",
        "--max-length",
        "8",
        "--truncation",
        "short",
        "a much longer sentence than the other one",
    )
    short, long = grid["encodings"]
    assert len(short["ids"]) == len(long["ids"]) == 8
    assert short["attention_mask"][-1] == 0 and long["truncated"] is True
    human = wb(engine, "tokenize", "I love my dog")
    assert "2293" in human.stdout and "special" in human.stdout


def test_train_list_show_stats_delete(engine: RunningEngine, tmp_path: Path) -> None:
    made = wb_json(
        engine,
        "tokenizers",
        "train",
        "bpe-r8",
        "--kind",
        "bpe",
        "--dataset",
        "reuters-r8",
        "--vocab-size",
        "2000",
        "--specials",
        "<PAD>,<UNK>,<CLS>,<SEP>",
        "--template",
        "cls-sep",
    )
    assert made["kind"] == "bpe" and made["vocab_size"] <= 2000
    names = [t["name"] for t in wb_json(engine, "tokenizers", "list")]
    assert names[0] == "minilm-wordpiece" and "bpe-r8" in names
    shown = wb_json(engine, "tokenizers", "show", "bpe-r8")
    assert shown["specials"][:2] == ["<PAD>", "<UNK>"]
    enc = wb_json(engine, "tokenize", "--tokenizer", "bpe-r8", "oil prices rose")
    assert enc["encodings"][0]["tokens"][0] == "<CLS>"
    stats = wb_json(engine, "tokenizers", "stats", "bpe-r8", "--dataset", "reuters-r8")
    assert stats["rows"] == 7674 and len(stats["padding"]) == 3
    dup = wb(engine, "tokenizers", "train", "bpe-r8", "--kind", "bpe", "--dataset", "reuters-r8")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert wb_json(engine, "tokenizers", "delete", "bpe-r8") == {"deleted": "bpe-r8"}


def test_encode_bow_and_tfidf(engine: RunningEngine) -> None:
    bow = wb_json(engine, "encode", "--dataset", "reuters-r8", "oil", "oil", "prices", "zzzqx")
    terms = {t["term"]: t["value"] for t in bow["terms"]}
    assert terms["oil"] == 2 and terms["prices"] == 1
    assert bow["unknown"] == ["zzzqx"]
    tfidf = wb_json(engine, "encode", "--dataset", "reuters-r8", "--kind", "tfidf", "oil prices")
    assert 0 < max(t["value"] for t in tfidf["terms"]) <= 1


def test_bad_tokenizer_path_and_name(engine: RunningEngine, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not a tokenizer")
    out = wb(engine, "tokenizers", "add", "junk", str(junk))
    assert out.returncode == 1 and "not a tokenizer" in out.stderr
    out = wb(engine, "tokenize", "--tokenizer", "nope", "hello")
    assert out.returncode == 1 and "no tokenizer named 'nope'" in out.stderr
