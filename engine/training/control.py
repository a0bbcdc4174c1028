"""What a training run tells the engine (Callbacks) and what the engine asks of it (Control)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.training.result import TrainResult


class Callbacks:
    """No-op hooks, called on the training thread; the engine overrides the ones it needs.

    Keep them quick: the next batch waits for them.
    """

    def on_step(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        """After each optimizer step: loss, lr, samples_per_s, tokens_per_s (real tokens),
        padded_share, grad_norm, seconds (of the step, data wait included), samples, tokens (real),
        computed_tokens (padded), accumulation, epoch_progress."""

    def on_eval(self, step: int, epoch: int, eval_metrics: dict[str, Any]) -> None:
        """After each evaluation: EvalResult.to_dict() plus 'best' (bool)."""

    def on_robust(self, step: int, epoch: float, metrics: dict[str, float]) -> None:
        """After each robustness check (robust_every): robust_accuracy, attack_success_rate,
        robust_clean_accuracy (shares of the slice), examples and seconds; epoch is the
        epoch reached, as on_eval's."""

    def before_checkpoint(self, step: int) -> None:
        """Just before a checkpoint of step is written: whatever the run recorded up to step
        must be kept now (a run resumed from this checkpoint repeats only what comes after)."""

    def on_checkpoint(self, step: int, path: Path) -> None:
        """After a checkpoint is complete on disk."""

    def on_message(self, text: str, level: str) -> None:
        """A notice for the person watching; level is info, warning or error."""

    def on_end(self, result: TrainResult) -> None:
        """Once, when the run ends for any reason."""


class Control:
    """Thread-safe requests to a running trainer, acted on between batches.

    pause() blocks the training thread (on a condition, not a spin) until resume() or stop();
    stop() ends the run after a checkpoint; checkpoint_now() and set_lr() apply at the next batch.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stopped = False
        self._checkpoint = False
        self._lr: float | None = None
        self._waiting = threading.Event()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def checkpoint_now(self) -> None:
        with self._cond:
            self._checkpoint = True

    def set_lr(self, lr: float) -> None:
        """Ask for a new current learning rate (must be above 0)."""
        if not lr > 0:
            raise ValueError(f"learning rate must be above 0, got {lr}")
        with self._cond:
            self._lr = float(lr)

    @property
    def stop_requested(self) -> bool:
        with self._cond:
            return self._stopped

    @property
    def pause_requested(self) -> bool:
        with self._cond:
            return self._paused

    def is_waiting(self) -> bool:
        """Whether the training thread is blocked in a pause right now."""
        return self._waiting.is_set()

    def wait_until_paused(self, timeout: float) -> bool:
        """Block until the training thread is blocked in a pause (True) or timeout (False)."""
        return self._waiting.wait(timeout)

    # --- training-thread side

    def wait_while_paused(
        self, poll: float = 0.25, check: Callable[[], None] | None = None
    ) -> None:
        """Block while paused and not stopped; `check()` runs every `poll` s (cancellation)."""
        with self._cond:
            if not self._paused or self._stopped:
                return
            self._waiting.set()
            try:
                while self._paused and not self._stopped:
                    self._cond.wait(poll)
                    if check is not None:
                        check()
            finally:
                self._waiting.clear()

    def take_checkpoint_request(self) -> bool:
        with self._cond:
            asked, self._checkpoint = self._checkpoint, False
            return asked

    def take_lr(self) -> float | None:
        with self._cond:
            lr, self._lr = self._lr, None
            return lr
