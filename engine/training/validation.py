"""Evaluating a run on its validation set when due, keeping the best, and early stopping.

An evaluation is due every eval_every steps (0: at each epoch's end) and after the last step.
The metric improves when it beats the best so far (higher or lower, as the config says); the
improving step's checkpoint becomes the best one. early_stopping_patience evaluations in a row
without improvement stop the run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.training.config import TrainConfig
from engine.training.control import Callbacks
from engine.training.data import TextExamples
from engine.training.metrics import evaluate
from engine.training.result import TrainResult
from engine.training.resume import LoopState


class Validation:
    """Evaluates model on val (None: never) into the run's result and loop counters."""

    def __init__(
        self,
        model: torch.nn.Module,
        val: TextExamples | None,
        config: TrainConfig,
        device: torch.device,
        amp: torch.dtype | None,
        checkpoints: Path,
        callbacks: Callbacks,
    ) -> None:
        self.model = model
        self.val = val
        self.config = config
        self.device = device
        self.amp = amp
        self.checkpoints = checkpoints
        self.callbacks = callbacks

    def due(self, step: int, last: bool, epoch_end: bool) -> bool:
        """Whether to evaluate after step (last: the run's final step)."""
        every = self.config.eval_every
        return self.val is not None and (
            (every > 0 and step % every == 0) or (every == 0 and epoch_end) or last
        )

    def run(self, loop: LoopState, result: TrainResult, epoch: float) -> tuple[bool, bool]:
        """Evaluate now: (improved, early stop now). The evaluation goes to result.evals and to
        the callbacks; an improvement becomes result's best."""
        cfg = self.config
        assert self.val is not None
        ev = evaluate(
            self.model,
            self.val,
            self.device,
            batch_size=max(1, cfg.batch_size // loop.accumulation),
            token_budget=cfg.token_budget,
            autocast_dtype=self.amp,
        )
        loop.last_eval_step = loop.step
        value = ev.value(cfg.metric)
        best = result.best_value
        improved = best is None or (value > best if cfg.higher_is_better else value < best)
        if improved:
            result.best_value, result.best_step = value, loop.step
            result.best_checkpoint = str(self.checkpoints / f"ckpt-{loop.step}")
            loop.bad_evals = 0
        else:
            loop.bad_evals += 1
        record = {**ev.to_dict(), "step": loop.step, "epoch": epoch, "best": improved}
        result.evals.append(record)
        self.callbacks.on_eval(loop.step, epoch, record)
        patience = cfg.early_stopping_patience
        return improved, patience > 0 and loop.bad_evals >= patience

    def stop_message(self, loop: LoopState, result: TrainResult) -> str:
        """What early stopping tells the run."""
        return (
            f"early stopping at step {loop.step}: {self.config.metric} did not improve in "
            f"{loop.bad_evals} evaluations (best {result.best_value:.4g} at step "
            f"{result.best_step})"
        )
