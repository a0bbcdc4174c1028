"""Guards: NaN loss ends the run keeping the last good checkpoint; out of memory halves the batch;
runs that cannot work are refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from engine.core.errors import EngineError
from engine.training import checkpoint as ck
from engine.training.config import TrainConfig
from engine.training.data import TextExamples
from engine.training.trainer import Trainer
from tests.helpers.training import (
    BagClassifier,
    BigramLM,
    Recorder,
    counting_lm_data,
    synthetic_classify,
)

CPU = torch.device("cpu")


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BagClassifier(vocab=50, nan_at_call=8)  # the 8th training forward pass: step 8
    rec = Recorder()
    config = TrainConfig(batch_size=8, epochs=3, checkpoint_every=3, lr=0.01)
    train = synthetic_classify(100, seed=0)
    result = Trainer(model, train, None, config, tmp_path, CPU, rec).fit()
    assert result.state == "failed: loss became NaN at step 8"
    assert result.step == 7 and len(result.losses) == 7
    assert ("error", "failed: loss became NaN at step 8") in rec.messages
    folder = tmp_path / "checkpoints"
    assert [s for s, _ in ck.list_checkpoints(folder)] == [3, 6]
    assert result.last_checkpoint is not None and result.last_checkpoint.endswith("ckpt-6")
    restored = BagClassifier(vocab=50)
    assert ck.load_checkpoint(folder, restored)["step"] == 6
    assert all(torch.isfinite(p).all() for p in restored.parameters())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no NaN step was taken
    assert rec.results[0].state == result.state


def _oom_above(rows: int, seen: list[int]) -> object:
    def hook(step: int, micro_rows: int) -> None:
        seen.append(micro_rows)
        if micro_rows > rows:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    return hook


def test_out_of_memory_halves_the_batch_and_keeps_the_effective_batch(tmp_path: Path) -> None:
    train = synthetic_classify(160, seed=1)
    config = TrainConfig(batch_size=32, epochs=2, lr=0.02, bucketing=False)

    torch.manual_seed(0)
    plain = Trainer(BagClassifier(50, dropout=0.0), train, None, config, tmp_path / "a", CPU)
    want = plain.fit()

    torch.manual_seed(0)
    rec, seen = Recorder(), []
    hook = _oom_above(8, seen)
    trainer = Trainer(
        BagClassifier(50, dropout=0.0), train, None, config, tmp_path / "b", CPU, rec, None, hook
    )  # type: ignore[arg-type]
    result = trainer.fit()
    assert result.state == "completed" and result.step == want.step == 10
    warnings = [t for level, t in rec.messages if level == "warning"]
    assert warnings == [
        "out of memory at step 1: batch halved to 16 texts, gradient accumulation doubled to 2 "
        "(the effective batch stays 32)",
        "out of memory at step 1: batch halved to 8 texts, gradient accumulation doubled to 4 "
        "(the effective batch stays 32)",
    ]
    assert seen[:3] == [32, 16, 8]
    assert max(seen[3:]) <= 8
    assert [m["samples"] for _, _, m in rec.steps] == [32.0] * 10  # same effective batch
    assert [m["accumulation"] for _, _, m in rec.steps] == [4.0] * 10
    # the same batches in the same order: the same losses up to float summation order
    assert result.losses == pytest.approx(want.losses, rel=1e-5)
    assert trainer.checkpoint_state()["accumulation"] == 4  # resuming keeps the smaller batch


def test_out_of_memory_with_one_text_per_batch_fails_clearly(tmp_path: Path) -> None:
    train = synthetic_classify(20, seed=2)
    config = TrainConfig(batch_size=4, epochs=1)
    hook = _oom_above(0, [])
    trainer = Trainer(BagClassifier(50), train, None, config, tmp_path, CPU, None, None, hook)  # type: ignore[arg-type]
    result = trainer.fit()
    assert result.state == "failed: out of memory with one text per batch at step 1"
    assert result.step == 0


class WrongShape(nn.Module):
    task = "classify"

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return input_ids.float().unsqueeze(-1) * self.w  # [B, T, 1], not [B, C]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: (BagClassifier(50), TrainConfig(lr=-0.1)), "learning rate must be above 0"),
        (lambda: (BagClassifier(50), TrainConfig(precision="fp16")), "fp16 needs a CUDA GPU"),
        (lambda: (BagClassifier(50), TrainConfig(token_budget=10)), "more than the token budget"),
        (lambda: (BagClassifier(50, classes=1), TrainConfig()), "the data has 2 classes but"),
        (
            lambda: (BigramLM(50), TrainConfig()),
            "the model is a language model but the training data is for a classifier",
        ),
        (lambda: (WrongShape(), TrainConfig()), "a classifier must return logits of shape"),
        (
            lambda: (BagClassifier(50), TrainConfig(early_stopping_patience=2)),
            "early stopping needs validation data",
        ),
    ],
)
def test_runs_that_cannot_work_are_refused_before_any_work(
    tmp_path: Path, make: object, message: str
) -> None:
    model, config = make()  # type: ignore[operator]
    rec = Recorder()
    train = synthetic_classify(40, seed=3)
    with pytest.raises(EngineError, match=message):
        Trainer(model, train, None, config, tmp_path / "run", CPU, rec).fit()
    assert not (tmp_path / "run").exists()
    assert rec.steps == [] and rec.checkpoints == []


def test_validation_data_must_fit_the_task(tmp_path: Path) -> None:
    train, val = synthetic_classify(40, seed=3), counting_lm_data(10)
    with pytest.raises(EngineError, match="the validation data is for a language model"):
        Trainer(BagClassifier(50), train, val, TrainConfig(), tmp_path, CPU).fit()


def test_resume_refuses_other_training_data(tmp_path: Path) -> None:
    config = TrainConfig(batch_size=8, epochs=1)
    Trainer(BagClassifier(50), synthetic_classify(40, seed=3), None, config, tmp_path, CPU).fit()
    other = TextExamples([[5, 6, 7]] * 40, [0, 1] * 20)
    with pytest.raises(EngineError, match="the training rows differ"):
        Trainer(BagClassifier(50), other, None, config, tmp_path, CPU).fit(resume_from=tmp_path)
