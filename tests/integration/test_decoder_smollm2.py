"""decoder-finetune through the engine with SmolLM2 (the optional asset): a run trains a few
steps on a small two-class dataset with the decoder's own tokenizer, is scored, and predicts
from the CLI; another tokenizer is refused before any run exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import EngineError
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import three_splits

RUN = """
name = "decoder"
[data]
dataset = "three"
tokenizer = "{tokenizer}"
max_length = 16
[model]
arch = "decoder-finetune"
freeze_embeddings = true
trainable_layers = 1
[train]
lr = 1e-3
epochs = 1
batch_size = 8
max_steps = 4
eval_every = 4
metric = "accuracy"
seed = 2
"""


@pytest.fixture(autouse=True)
def smollm2() -> None:
    from engine.models.causal import smollm2_folder

    try:
        smollm2_folder()
    except EngineError:
        pytest.skip("the optional SmolLM2 asset is not installed (make llm)")


def test_a_smollm2_classifier_trains_scores_and_predicts(
    engine: RunningEngine, tmp_path: Path
) -> None:
    three_splits(engine, tmp_path)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(RUN.format(tokenizer="minilm-wordpiece"))
    refused = wb(engine, "train", str(wrong), "--json")
    assert refused.returncode != 0
    assert "reads ids with its model's own tokenizer" in refused.stdout + refused.stderr
    path = tmp_path / "run.toml"
    path.write_text(RUN.format(tokenizer="smollm2-bpe"))
    ran = wb(engine, "train", str(path), "--follow")
    assert ran.returncode == 0, ran.stdout[-1500:] + ran.stderr[-1500:]
    run = wb_json(engine, "runs", "list")[0]
    assert run["state"] == "finished" and run["step"] == 4, run["message"]
    shown = wb_json(engine, "runs", "show", run["run_id"])
    assert [s for s, _ in shown["series"]["train_loss"]] == [1, 2, 3, 4]
    assert shown["series"]["val_accuracy"], "the validation split was not scored"
    said = wb_json(engine, "predict", "--run", run["run_id"], "a great film", "an awful film")
    rows = said["predictions"] if isinstance(said, dict) else said
    assert len(rows) == 2
    for row in rows:
        assert row["label"] in ("pos", "neg")
        assert sum(row["probabilities"]) == pytest.approx(1.0, abs=1e-4)
