"""Control: pause, resume, stop, cancel, set-lr and checkpoint-now act within one batch."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.errors import Cancelled
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer
from tests.helpers.training import BagClassifier, Recorder, synthetic_classify

CPU = torch.device("cpu")
STEP_SECONDS = 0.02


class Ctx:
    """A JobContext that records progress and cancels once told to."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.progress_seen: list[tuple[float, float]] = []

    def progress(self, done: float, total: float, message: str = "") -> None:
        self.progress_seen.append((done, total))

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()


def slow_trainer(tmp_path: Path, rec: Recorder, steps: int = 60) -> Trainer:
    """Steps of at least STEP_SECONDS, so a request from another thread lands mid-run."""
    config = TrainConfig(batch_size=4, epochs=1, max_steps=steps, lr=0.01)
    return Trainer(
        BagClassifier(50),
        synthetic_classify(4 * steps, seed=0),
        None,
        config,
        tmp_path,
        CPU,
        rec,
        fault_hook=lambda step, rows: time.sleep(STEP_SECONDS),
    )


def start(trainer: Trainer, ctx: Ctx | None = None) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = trainer.fit(ctx)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def reached(rec: Recorder, step: int) -> threading.Event:
    event = threading.Event()
    rec.hooks.setdefault(step, []).append(event.set)
    return event


def test_pause_blocks_within_one_batch_without_burning_cpu_then_resumes(tmp_path: Path) -> None:
    rec = Recorder()
    trainer = slow_trainer(tmp_path, rec)
    at_three = reached(rec, 3)
    thread, box = start(trainer)
    assert at_three.wait(30)
    trainer.control.pause()
    before = len(rec.steps)  # read after the request: a late read only lowers the count
    assert trainer.control.wait_until_paused(5)
    paused_at = len(rec.steps)
    assert paused_at - before <= 1
    cpu = time.process_time()
    time.sleep(0.6)
    assert len(rec.steps) == paused_at  # nothing ran while paused
    assert time.process_time() - cpu < 0.2  # waiting, not spinning
    trainer.control.resume()
    thread.join(30)
    assert box["result"].state == "completed" and box["result"].step == 60
    assert ("info", f"paused at step {paused_at}") in rec.messages
    assert ("info", f"resumed at step {paused_at}") in rec.messages


def test_stop_takes_effect_within_one_batch_and_checkpoints(tmp_path: Path) -> None:
    rec = Recorder()
    trainer = slow_trainer(tmp_path, rec)
    at_three = reached(rec, 3)
    thread, box = start(trainer)
    assert at_three.wait(30)
    trainer.control.stop()
    before = len(rec.steps)  # read after the request: a late read only lowers the count
    thread.join(30)
    result = box["result"]
    assert result.state == "stopped"
    assert result.step - before <= 1
    assert rec.checkpoints[-1][0] == result.step
    assert (tmp_path / "checkpoints" / f"ckpt-{result.step}").is_dir()


def test_stop_while_paused_ends_the_run(tmp_path: Path) -> None:
    rec = Recorder()
    trainer = slow_trainer(tmp_path, rec)
    rec.hooks[2] = [trainer.control.pause]
    thread, box = start(trainer)
    assert trainer.control.wait_until_paused(30)
    trainer.control.stop()
    thread.join(10)
    assert box["result"].state == "stopped" and box["result"].step == 2


def test_cancel_takes_effect_within_one_batch(tmp_path: Path) -> None:
    rec, ctx = Recorder(), Ctx()
    trainer = slow_trainer(tmp_path, rec)
    at_three = reached(rec, 3)
    thread, box = start(trainer, ctx)
    assert at_three.wait(30)
    ctx.cancel.set()
    before = len(rec.steps)  # read after the request: a late read only lowers the count
    thread.join(30)
    assert isinstance(box.get("error"), Cancelled)
    assert len(rec.steps) - before <= 1
    assert rec.results[0].state == "cancelled"
    assert rec.checkpoints == []  # a cancelled run writes nothing more
    assert not [t for t in threading.enumerate() if t.name == "train-prefetch"]
    assert ctx.progress_seen[-1] == (len(rec.steps), 60)


def test_cancel_while_paused_is_prompt(tmp_path: Path) -> None:
    rec, ctx = Recorder(), Ctx()
    trainer = slow_trainer(tmp_path, rec)
    rec.hooks[2] = [trainer.control.pause]
    thread, box = start(trainer, ctx)
    assert trainer.control.wait_until_paused(30)
    ctx.cancel.set()
    started = time.perf_counter()
    thread.join(10)
    assert time.perf_counter() - started < 1.0
    assert isinstance(box.get("error"), Cancelled) and len(rec.steps) == 2


def test_set_lr_and_checkpoint_now_apply_at_the_next_batch(tmp_path: Path) -> None:
    rec = Recorder()
    config = TrainConfig(batch_size=4, epochs=1, lr=0.01, schedule="linear", checkpoint_every=0)
    trainer = Trainer(
        BagClassifier(50), synthetic_classify(40, seed=1), None, config, tmp_path, CPU, rec
    )

    def ask() -> None:
        trainer.control.set_lr(0.123)
        trainer.control.checkpoint_now()

    rec.hooks[3] = [ask]
    trainer.fit()
    lrs = [m["lr"] for _, _, m in rec.steps]
    assert lrs[2] == pytest.approx(0.01 * (1 - 2 / 10))  # step 3, before the request
    assert lrs[3] == pytest.approx(0.123)  # step 4
    # the schedule goes on from the new value: linear decay to the end
    assert lrs[4] == pytest.approx(0.123 * (1 - 4 / 10) / (1 - 3 / 10))
    assert [s for s, _ in rec.checkpoints] == [3, 10]
    with pytest.raises(ValueError, match="learning rate must be above 0"):
        trainer.control.set_lr(0.0)


def test_early_stopping_after_patience_evaluations_without_improvement(tmp_path: Path) -> None:
    rec = Recorder()
    config = TrainConfig(
        optimizer="sgd",
        lr=1e-12,  # nothing changes, so accuracy never improves
        batch_size=4,
        epochs=5,
        eval_every=1,
        metric="accuracy",
        early_stopping_patience=2,
    )
    train, val = synthetic_classify(40, seed=1), synthetic_classify(20, seed=2)
    result = Trainer(BagClassifier(50), train, val, config, tmp_path, CPU, rec).fit()
    assert result.state == "early_stopped" and result.step == 3
    assert [e["best"] for _, e in rec.evals] == [True, False, False]
    assert result.best_step == 1
    assert any(t.startswith("early stopping at step 3") for _, t in rec.messages)
