"""A run's truncation through the engine: a tail run trains on and predicts from the end of
each text (its [CLS] and [SEP] kept), a windows run reads a long text whole in pooled windows,
in a single prediction and in a batch over a split; a bad setting is refused before a run."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import three_splits

RUN = """
name = "{how}"
[data]
dataset = "three"
tokenizer = "minilm-wordpiece"
max_length = 6
truncation = "{how}"
[model]
arch = "embedding-bag"
embed_dim = 8
[train]
lr = 0.05
epochs = 1
batch_size = 8
seed = 1
"""

LONG = "a great film with a lovely cast and a superb ending"


def train(engine: RunningEngine, tmp: Path, how: str) -> str:
    path = tmp / f"{how}.toml"
    path.write_text(RUN.format(how=how))
    ran = wb(engine, "train", str(path), "--follow")
    assert ran.returncode == 0, ran.stdout[-1500:] + ran.stderr[-1500:]
    run = next(r for r in wb_json(engine, "runs", "list") if r["name"] == how)
    assert run["state"] == "finished", run["message"]
    return str(run["run_id"])


def test_tail_and_windows_runs_read_what_they_say(engine: RunningEngine, tmp_path: Path) -> None:
    three_splits(engine, tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(RUN.format(how="middle"))
    refused = wb(engine, "train", str(bad))
    assert refused.returncode != 0 and "data.truncation must be one of" in refused.stderr

    tail = train(engine, tmp_path, "tail")
    said = wb_json(engine, "predict", "--run", tail, LONG)
    row = said["predictions"][0]
    # [CLS], the last four tokens of the text, [SEP]
    assert row["tokens"] == ["[CLS]", "and", "a", "superb", "ending", "[SEP]"]
    assert row["tokens"][0] == "[CLS]" and row["tokens"][-1] == "[SEP]"
    assert row["tokens"][-2] == "ending" and len(row["tokens"]) == 6
    assert row["truncated"]

    windows = train(engine, tmp_path, "windows")
    row = wb_json(engine, "predict", "--run", windows, LONG)["predictions"][0]
    assert not row["truncated"]  # every token is in some window
    assert row["tokens"][:2] == ["[CLS]", "a"] and len(row["tokens"]) == 6  # the first one
    out = tmp_path / "preds.jsonl"
    done = wb(
        engine,
        "predict",
        "--run",
        windows,
        "--dataset",
        "three",
        "--split",
        "test",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-1500:]
    assert len(out.read_text().splitlines()) == 20
