"""The Checkpointer: the loop's counters saved beside the tensors, and taken back on resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.core.errors import EngineError
from engine.training.config import TrainConfig
from engine.training.data import DataOrder
from engine.training.optim import build_optimizer, build_scheduler
from engine.training.result import TrainResult
from engine.training.resume import Checkpointer, LoopState
from tests.helpers.training import BagClassifier, Recorder, synthetic_classify

CPU = torch.device("cpu")


def parts(
    config: TrainConfig,
) -> tuple[BagClassifier, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    torch.manual_seed(0)
    model = BagClassifier(vocab=50)
    optimizer = build_optimizer(model, config, CPU)
    return model, optimizer, build_scheduler(optimizer, config, 20)


def saved_run(tmp_path: Path) -> tuple[LoopState, TrainResult, Path]:
    """A checkpoint at step 7 of a run whose best was step 5."""
    config = TrainConfig(batch_size=8, keep_checkpoints=3)
    model, optimizer, scheduler = parts(config)
    rec = Recorder()
    saver = Checkpointer(tmp_path / "checkpoints", config, synthetic_classify(40), rec)
    loop = LoopState(DataOrder(0, 1, 2), step=7, accumulation=4, bad_evals=2, last_eval_step=6)
    result = TrainResult(state="running", step=7, epoch=1, start_step=0, best_value=0.25)
    result.best_step, result.best_checkpoint = 5, str(tmp_path / "checkpoints" / "ckpt-5")
    path = saver.save(model, optimizer, scheduler, None, loop, result)
    assert path == tmp_path / "checkpoints" / "ckpt-7"
    assert loop.last_ckpt_step == 7 and result.last_checkpoint == str(path)
    assert rec.checkpoints == [(7, path)]
    return loop, result, path


def test_a_checkpoint_holds_the_loops_counters_and_the_best(tmp_path: Path) -> None:
    _, _, path = saved_run(tmp_path)
    state = json.loads((path / "state.json").read_text())
    assert state["step"] == 7 and state["data"] == {"seed": 0, "epoch": 1, "position": 2}
    assert state["accumulation"] == 4 and state["bad_evals"] == 2
    assert state["last_eval_step"] == 6 and state["scaler"] is None
    assert state["best"] == {"metric": "loss", "value": 0.25, "step": 5, "checkpoint": "ckpt-5"}
    assert state["data_fingerprint"] == synthetic_classify(40).fingerprint()


@pytest.mark.parametrize("where", ["run", "checkpoints", "checkpoint"])
def test_resume_gives_back_the_counters_from_any_of_its_folders(tmp_path: Path, where: str) -> None:
    saved, _, path = saved_run(tmp_path)
    config = TrainConfig(batch_size=8, keep_checkpoints=3)
    model, optimizer, scheduler = parts(config)
    rec = Recorder()
    saver = Checkpointer(tmp_path / "checkpoints", config, synthetic_classify(40), rec)
    result = TrainResult(state="running", step=0, epoch=0, start_step=0)
    folder = {"run": tmp_path, "checkpoints": tmp_path / "checkpoints", "checkpoint": path}[where]
    loop = saver.resume(folder, model, optimizer, scheduler, None, result)
    assert loop == LoopState(DataOrder(0, 1, 2), 7, 4, 2, 6, last_ckpt_step=7)
    assert saved.order == loop.order
    assert (result.best_value, result.best_step, result.start_step) == (0.25, 5, 7)
    assert result.best_checkpoint == str(tmp_path / "checkpoints" / "ckpt-5")
    assert rec.messages == [("info", "resumed from step 7")]


def test_changed_settings_are_reported_and_other_data_refused(tmp_path: Path) -> None:
    saved_run(tmp_path)
    changes = [(TrainConfig(batch_size=8, keep_checkpoints=3, lr=0.5), "info")]
    changes += [(TrainConfig(batch_size=4, keep_checkpoints=3), "warning")]  # other batches
    for config, level in changes:
        model, optimizer, scheduler = parts(config)
        rec = Recorder()
        saver = Checkpointer(tmp_path / "checkpoints", config, synthetic_classify(40), rec)
        result = TrainResult(state="running", step=0, epoch=0, start_step=0)
        saver.resume(tmp_path, model, optimizer, scheduler, None, result)
        assert rec.messages[0][0] == level
        assert rec.messages[0][1].startswith("resuming with changed settings: ")
    config = TrainConfig(batch_size=8, keep_checkpoints=3)
    model, optimizer, scheduler = parts(config)
    other = Checkpointer(tmp_path / "checkpoints", config, synthetic_classify(41), Recorder())
    result = TrainResult(state="running", step=0, epoch=0, start_step=0)
    with pytest.raises(EngineError, match="the training rows differ"):
        other.resume(tmp_path, model, optimizer, scheduler, None, result)
