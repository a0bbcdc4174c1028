"""Where a run is, as its checkpoints hold it: the loop's counters (LoopState), and the
Checkpointer that saves them beside the weights, optimizer and schedule and takes them back
when a run resumes.

A resumed run repeats the uninterrupted one exactly from the checkpoint's step on (same device):
the data order, the accumulation the out-of-memory guard settled on, early stopping's count,
the best value so far and the fp16 scaler all come back. The training data must be the same
(its fingerprint is saved); changed settings are reported, as a warning for those that change
which batches come when (ORDER_KEYS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.core.errors import EngineError
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.training.config import TrainConfig
from engine.training.control import Callbacks
from engine.training.data import DataOrder, TextExamples
from engine.training.result import TrainResult

# Settings that change which batches come when, or the schedule: changing them on resume breaks
# the promise that a resumed run repeats the uninterrupted one.
ORDER_KEYS = ("seed", "batch_size", "token_budget", "bucketing", "epochs", "max_steps")
FORMAT = 1


@dataclass
class LoopState:
    """The training loop's counters: what a checkpoint saves beside the tensors."""

    order: DataOrder  # where the next batch comes from
    step: int = 0  # optimizer steps taken
    accumulation: int = 1  # micro-batches per batch (the out-of-memory guard doubles it)
    bad_evals: int = 0  # evaluations since the metric last improved
    last_eval_step: int = -1
    last_ckpt_step: int = -1


class Checkpointer:
    """Writes a run's checkpoints into folder and resumes from them."""

    def __init__(
        self, folder: Path, config: TrainConfig, train: TextExamples, callbacks: Callbacks
    ) -> None:
        self.folder = folder
        self.config = config
        self.train = train
        self.callbacks = callbacks

    def state(
        self, loop: LoopState, result: TrainResult, scaler: torch.amp.GradScaler | None
    ) -> dict[str, Any]:
        """What a checkpoint's state.json holds: the loop's counters, the best so far, the
        scaler, the data's fingerprint and the config."""
        return {
            "format": FORMAT,
            "step": loop.step,
            "data": loop.order.to_dict(),
            "data_fingerprint": self.train.fingerprint(),
            "accumulation": loop.accumulation,
            "best": {
                "metric": self.config.metric,
                "value": result.best_value,
                "step": result.best_step,
                "checkpoint": Path(result.best_checkpoint).name if result.best_checkpoint else None,
            },
            "bad_evals": loop.bad_evals,
            "last_eval_step": loop.last_eval_step,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "config": self.config.to_dict(),
        }

    def save(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler | None,
        loop: LoopState,
        result: TrainResult,
        best: bool = False,
    ) -> Path:
        """Write the checkpoint of loop.step (best: also point best.json at it); loop and
        result note it and the callbacks hear of it."""
        self.callbacks.before_checkpoint(loop.step)
        path = save_checkpoint(
            self.folder,
            model,
            optimizer,
            scheduler,
            self.state(loop, result, scaler),
            keep_last=self.config.keep_checkpoints,
            best=best,
        )
        loop.last_ckpt_step = loop.step
        result.last_checkpoint = str(path)
        self.callbacks.on_checkpoint(loop.step, path)
        return path

    def resume(
        self,
        path: Path,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler | None,
        result: TrainResult,
    ) -> LoopState:
        """Load the checkpoint at path (a checkpoint, the checkpoints folder or the run folder)
        into the model, optimizer, scheduler and scaler, note its best and step in result, and
        return the loop's counters. EngineError when the training data differs."""
        if (path / "checkpoints").is_dir():
            path = path / "checkpoints"
        state = load_checkpoint(path, model, optimizer, scheduler)
        if state.get("data_fingerprint") != self.train.fingerprint():
            raise EngineError(
                "the training rows differ from those this run started with: its dataset was "
                "re-split or re-imported, or its tokenizer changed, since",
                hint="its checkpoints are kept: start a new run from the same config "
                "(workbench runs show ID --json has it) to train on the data as it is now",
            )
        self._report_changes(state.get("config", {}))
        step = int(state["step"])
        loop = LoopState(
            order=DataOrder.from_dict(state["data"]),
            step=step,
            accumulation=int(state.get("accumulation", 1)),
            bad_evals=int(state.get("bad_evals", 0)),
            last_eval_step=int(state.get("last_eval_step", -1)),
            last_ckpt_step=step,
        )
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        best = state.get("best") or {}
        result.best_value, result.best_step = best.get("value"), best.get("step")
        if best.get("checkpoint"):
            result.best_checkpoint = str(self.folder / best["checkpoint"])
        result.start_step = step
        result.last_checkpoint = state.get("checkpoint")
        self.callbacks.on_message(f"resumed from step {step}", "info")
        return loop

    def _report_changes(self, saved: dict[str, Any]) -> None:
        now = self.config.to_dict()
        # a setting added since the checkpoint was written had its default then
        saved = {**TrainConfig().to_dict(), **saved}
        changed = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
        if changed:
            level = "warning" if set(changed) & set(ORDER_KEYS) else "info"
            self.callbacks.on_message(
                "resuming with changed settings: "
                + ", ".join(f"{k} {saved.get(k)} -> {now.get(k)}" for k in changed),
                level,
            )
