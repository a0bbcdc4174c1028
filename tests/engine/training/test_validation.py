"""Validation: when an evaluation is due, the best so far, and early stopping."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.training.config import TrainConfig
from engine.training.data import DataOrder
from engine.training.result import TrainResult
from engine.training.resume import LoopState
from engine.training.validation import Validation
from tests.helpers.training import BagClassifier, Recorder, synthetic_classify

CPU = torch.device("cpu")


def validation(
    config: TrainConfig, tmp_path: Path, val: bool = True
) -> tuple[Validation, Recorder]:
    torch.manual_seed(0)
    rec = Recorder()
    data = synthetic_classify(24, seed=5) if val else None
    return Validation(BagClassifier(50), data, config, CPU, None, tmp_path, rec), rec


@pytest.mark.parametrize(
    ("eval_every", "due_steps"),
    [(3, [3, 6, 9, 10]), (0, [4, 8, 10])],  # 0: at each epoch's end (every 4 steps here)
)
def test_an_evaluation_is_due_every_n_steps_or_each_epoch_and_at_the_end(
    tmp_path: Path, eval_every: int, due_steps: list[int]
) -> None:
    judge, _ = validation(TrainConfig(eval_every=eval_every), tmp_path)
    due = [s for s in range(1, 11) if judge.due(s, last=s == 10, epoch_end=s % 4 == 0)]
    assert due == due_steps
    without, _ = validation(TrainConfig(eval_every=1), tmp_path, val=False)
    assert not any(without.due(s, last=True, epoch_end=True) for s in range(1, 5))


def test_the_best_is_kept_and_patience_runs_out(tmp_path: Path) -> None:
    judge, rec = validation(TrainConfig(early_stopping_patience=2), tmp_path)
    loop = LoopState(DataOrder(0), step=3, accumulation=2)
    result = TrainResult(state="running", step=3, epoch=0, start_step=0)
    assert judge.run(loop, result, epoch=0) == (True, False)
    best = result.best_value
    assert best is not None and result.best_step == 3 and loop.last_eval_step == 3
    assert result.best_checkpoint == str(tmp_path / "ckpt-3")
    loop.step = 5
    assert judge.run(loop, result, epoch=1) == (False, False)  # the same model: no better
    loop.step = 7
    assert judge.run(loop, result, epoch=1) == (False, True)
    assert loop.bad_evals == 2 and result.best_step == 3 and result.best_value == best
    assert [r["step"] for r in result.evals] == [3, 5, 7]
    assert [r["best"] for r in result.evals] == [True, False, False]
    assert [s for s, _ in rec.evals] == [3, 5, 7]
    assert judge.stop_message(loop, result) == (
        f"early stopping at step 7: loss did not improve in 2 evaluations (best {best:.4g} "
        "at step 3)"
    )


def test_a_metric_where_higher_is_better_improves_upwards(tmp_path: Path) -> None:
    judge, _ = validation(TrainConfig(metric="accuracy"), tmp_path)
    loop = LoopState(DataOrder(0), step=1)
    result = TrainResult(state="running", step=1, epoch=0, start_step=0, metric="accuracy")
    result.best_value = 0.0 - 1e-9  # anything scores above this
    assert judge.run(loop, result, epoch=0)[0]
    result.best_value = 1.0 + 1e-9  # nothing scores above this
    assert not judge.run(loop, result, epoch=0)[0]
