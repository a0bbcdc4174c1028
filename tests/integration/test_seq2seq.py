"""Sequence to sequence through the engine and the CLI: a generated dates task trains a GRU
encoder-decoder, its evaluations carry token accuracy, exact match and BLEU, `translate` gives
an output with one attention row per output step over the source tokens (beam 1 is greedy),
and the refusals: a dataset without targets, a tokenizer named, a classifier asked to
translate, a seq2seq run asked for labels."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import three_splits

RUN = """
name = "dates-s2s"
[data]
dataset = "{dataset}"
max_length = 32
{extra}
[model]
arch = "seq2seq"
embed_dim = 16
hidden_size = 48
max_output = 12
[train]
lr = 0.01
epochs = 4
batch_size = 32
metric = "exact_match"
seed = 2
"""


def test_a_dates_run_trains_evaluates_and_translates(engine: RunningEngine, tmp_path: Path) -> None:
    made = wb_json(engine, "datasets", "generate", "dates", "--size", "400", "--seed", "3")
    assert made["rows"] == 400 and made["target_column"] == "target"
    assert made["splits"] == {"train": 320, "validation": 40, "test": 40}
    again = wb(engine, "datasets", "generate", "dates", "--size", "400")
    assert again.returncode != 0 and "already exists" in again.stderr
    tiny = wb(engine, "datasets", "generate", "number-words", "--size", "3")
    assert tiny.returncode != 0 and "size must be 10 to 2,000,000 pairs" in tiny.stderr

    # a dataset without targets, and a tokenizer named, are refused before a run exists
    three_splits(engine, tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(RUN.format(dataset="three", extra=""))
    refused = wb(engine, "train", str(bad))
    assert refused.returncode != 0 and "has no target column" in refused.stderr
    bad.write_text(RUN.format(dataset="dates", extra='tokenizer = "minilm-wordpiece"'))
    refused = wb(engine, "train", str(bad))
    assert refused.returncode != 0 and "builds its own vocabulary" in refused.stderr
    assert wb_json(engine, "runs", "list") == []

    path = tmp_path / "run.toml"
    path.write_text(RUN.format(dataset="dates", extra=""))
    ran = wb(engine, "train", str(path), "--follow")
    assert ran.returncode == 0, ran.stdout[-1500:] + ran.stderr[-1500:]
    run = wb_json(engine, "runs", "list")[0]
    assert run["state"] == "finished", run["message"]
    shown = wb_json(engine, "runs", "show", run["run_id"])
    evals = [e for e in shown["evals"] if e["split"] == "validation"]
    assert len(evals) == 4
    last = evals[-1]["metrics"]
    assert set(last) >= {"loss", "token_accuracy", "exact_match", "bleu"}
    assert 0 <= last["exact_match"] <= 1 and 0 <= last["bleu"] <= 100
    assert last["token_accuracy"] > 0.3  # far above chance over ~30 characters
    assert evals[-1]["metrics"]["loss"] < evals[0]["metrics"]["loss"]
    assert "val_bleu" in shown["series"] and "val_exact_match" in shown["series"]
    assert [e["split"] for e in shown["evals"]].count("test") == 1

    rid = run["run_id"]
    out = wb_json(engine, "translate", "--model", rid, "3 March 1998")
    assert out["source_tokens"] == list("3 March 1998")
    assert len(out["attention"]) == len(out["output_tokens"]) + (1 if out["ended"] else 0)
    for row in out["attention"]:
        assert len(row) == len(out["source_tokens"]) and abs(sum(row) - 1) < 1e-4
    assert out["output"] == "".join(out["output_tokens"]) and out["beam_width"] == 1
    greedy = wb_json(engine, "translate", "--model", rid, "--beam", "1", "3 March 1998")
    assert greedy["output"] == out["output"] and greedy["log_prob"] == out["log_prob"]
    beam = wb_json(engine, "translate", "--model", rid, "--beam", "4", "3 March 1998")
    assert beam["beam_width"] == 4 and beam["attention"]
    shown_text = wb(engine, "translate", "--model", rid, "3 March 1998")
    assert shown_text.returncode == 0 and "attention over the source" in shown_text.stdout

    unknown = wb_json(engine, "translate", "--model", rid, "3 Märch 1998")
    assert unknown["unknown"] == 1  # ä is in no training pair
    for args, message in [
        (("translate", "--model", rid, "   "), "the source is empty"),
        (("translate", "--model", rid, "--beam", "99", "x"), "beam_width must be 0"),
        (("predict", "--run", rid, "3 March 1998"), "is a sequence-to-sequence model"),
    ]:
        said = wb(engine, *args)
        assert said.returncode != 0 and message in said.stderr, said.stderr


def test_a_pair_csv_imports_with_its_target(engine: RunningEngine, tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    lines = ["english,french"] + [f"word {i},mot {i}" for i in range(29)] + ["word 29,"]
    path.write_text("\n".join(lines) + "\n")
    got = wb_json(
        engine,
        "datasets",
        "import",
        str(path),
        "--name",
        "fr",
        "--text-column",
        "english",
        "--target",
        "french",
    )
    assert got["target_column"] == "french" and got["classes"] == 0 and got["rows"] == 30
    assert got["empty_targets"] == 1
    shown = wb(engine, "datasets", "show", "fr")
    assert "target column: french" in shown.stdout
    assert "1 row has an empty target" in shown.stdout
