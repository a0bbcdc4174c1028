"""Trainer: a generic training loop (minGPT's shape) that knows only the model interface.

model(input_ids [B, T], attention_mask [B, T]) returns logits [B, C] (model.task == "classify")
or [B, T, V] (model.task == "lm"). Everything else - data order, precision, checkpoints, guards,
pause/stop/lr requests - lives here and in the loop's pieces (resume.py: the loop's counters and
checkpoints; accumulate.py: micro-batches and the out-of-memory guard; validation.py:
evaluations and early stopping), and everything the run does is told through Callbacks.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.errors import Cancelled, JobContext, NullContext
from engine.training.accumulate import AMP, BatchGradients, FaultHook
from engine.training.adversarial import (
    EmbeddingPGD,
    RobustCheck,
    TextAugmenter,
    TextSide,
    check_adversarial,
)
from engine.training.checkpoint import write_json
from engine.training.config import TrainConfig
from engine.training.control import Callbacks, Control
from engine.training.data import Batch, BatchPrefetcher, DataOrder, TextExamples, plan_batches
from engine.training.distributed import World
from engine.training.losses import target_count
from engine.training.optim import build_optimizer, build_scheduler, set_lr
from engine.training.preflight import check_setup
from engine.training.result import TrainResult
from engine.training.resume import Checkpointer, LoopState
from engine.training.validation import Validation

__all__ = ["Callbacks", "Control", "TrainResult", "Trainer"]
EXACT_EPOCHS = 50  # with a token budget: epochs planned exactly to know the run's length


class Trainer:
    """Trains a model on TextExamples, evaluating on val, checkpointing under run_dir.

    The loop's counters are a LoopState (self.loop), saved and resumed by a Checkpointer; each
    step's gradients come from BatchGradients (micro-batches and the out-of-memory guard);
    evaluations, the best so far and early stopping are Validation's. fault_hook(step, rows) is
    called before each micro-batch's forward pass; tests raise torch.OutOfMemoryError from it to
    exercise the out-of-memory guard.

    text_side (the run's tokenizer, class names and texts) serves the attacks on text:
    adversarial = "augment" and robust_recipe charedit/wordsub (engine.training.adversarial).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        train: TextExamples,
        val: TextExamples | None,
        config: TrainConfig,
        run_dir: Path,
        device: torch.device,
        callbacks: Callbacks | None = None,
        control: Control | None = None,
        fault_hook: FaultHook | None = None,
        text_side: TextSide | None = None,
    ) -> None:
        self.model = model
        self.train = train
        self.val = val
        self.config = config
        self.run_dir = Path(run_dir)
        self.checkpoints = self.run_dir / "checkpoints"
        # torchrun's ranks (engine.training.distributed): each its own GPU; rank 0 reports
        self.world = World.from_env()
        self.device = self.world.device(torch.device(device))
        self.callbacks = (callbacks or Callbacks()) if self.world.main else Callbacks()
        self.control = control or Control()
        self.fault_hook = fault_hook
        self.text_side = text_side
        self.task = str(getattr(model, "task", ""))
        self._total: int | None = None

    def check(self) -> None:
        """Refuse a run that cannot work (config, device, task, data), with a EngineError."""
        check_setup(self.model, self.train, self.val, self.config, self.device)
        check_adversarial(self.model, self.config, self.text_side)

    # --- the run

    def fit(self, ctx: JobContext | None = None, resume_from: Path | None = None) -> TrainResult:
        """Train until the epochs or max_steps are done, a stop, early stopping or a guard.

        A resumed run (resume_from: a checkpoint, the checkpoints folder or the run folder)
        repeats the uninterrupted run exactly from the checkpoint's step on (same device).
        Raises EngineError before any work for an invalid setup, Cancelled when ctx cancels.
        """
        self.ctx = ctx or NullContext()
        started = time.perf_counter()
        self.check()
        cfg = self.config
        self.model.to(self.device).train()
        world = self.world
        world.start(self.device)
        model = world.wrap(self.model, self.device) if world.parallel else self.model
        # dynamic: bucketed batches change shape from batch to batch
        self.forward = torch.compile(model, dynamic=True) if cfg.compile else model
        self.optimizer = build_optimizer(self.model, cfg, self.device)
        self._total = None  # the config may have changed since the last count
        self.scheduler = build_scheduler(self.optimizer, cfg, self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        self.amp = AMP[cfg.precision]
        self.checkpointer = Checkpointer(self.checkpoints, cfg, self.train, self.callbacks)
        self.loop = LoopState(order=DataOrder(cfg.seed))
        self.result = TrainResult(state="running", step=0, epoch=0, start_step=0, metric=cfg.metric)
        if resume_from is not None:
            self.loop = self.checkpointer.resume(
                Path(resume_from),
                self.model,
                self.optimizer,
                self.scheduler,
                self.scaler,
                self.result,
            )
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
        self.gradients = BatchGradients(
            self.forward,
            self.task,
            self.optimizer,
            self.scaler,
            self.amp,
            self.device,
            cfg.batch_size,
            self.loop,
            self.callbacks,
            self.fault_hook,
            self._adversary(),
        )
        self.validation = Validation(
            self.model, self.val, cfg, self.device, self.amp, self.checkpoints, self.callbacks
        )
        self.augmenter = (
            TextAugmenter(self.model, cfg, self.text_side, self.device)
            if cfg.adversarial == "augment" and self.text_side is not None
            else None
        )
        self.robust = (
            RobustCheck(self.model, self.val, cfg, self.device, self.text_side, self._special_ids())
            if cfg.robust_every > 0 and self.val is not None
            else None
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if world.main:
            write_json(self.run_dir / "config.json", cfg.to_dict())
        try:
            self.result.state = self._train()
        except Cancelled:
            self.result.state = "cancelled"
            self._finish(started)
            raise
        except Exception as exc:
            self.result.state = f"failed: {exc}"
            self._finish(started)
            raise
        if self.result.state.startswith("failed"):
            self.callbacks.on_message(self.result.state, "error")
        elif self.loop.last_ckpt_step != self.loop.step:
            self._checkpoint()
        self._finish(started)
        self.world.stop()
        return self.result

    def _special_ids(self) -> set[int]:
        side = self.text_side
        return side.special_ids() if side is not None else {self.train.pad_id}

    def _adversary(self) -> EmbeddingPGD | None:
        if self.config.adversarial != "pgd":
            return None
        return EmbeddingPGD(self.model, self.config, self._special_ids())

    def _finish(self, started: float) -> None:
        self.result.step = self.loop.step
        self.result.epoch = self.loop.order.epoch
        self.result.seconds = time.perf_counter() - started
        self.callbacks.on_end(self.result)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run: batches of all epochs, capped by max_steps, found
        without planning every epoch (a run of a million epochs starts at once). Without a
        token budget every epoch has ceil(rows / batch_size) batches; with one, the first
        EXACT_EPOCHS epochs are planned and the rest estimated from them. The run itself ends
        after its epochs or max_steps whatever this says (it sets the schedule and progress)."""
        if self._total is None:
            cfg = self.config
            if cfg.token_budget is None:
                total = -(-len(self.train.lengths) // cfg.batch_size) * cfg.epochs
            else:
                total = 0
                for epoch in range(cfg.epochs):
                    if cfg.max_steps and total >= cfg.max_steps:
                        break
                    if epoch == EXACT_EPOCHS:
                        total = round(total / epoch * cfg.epochs)
                        break
                    total += len(self._plan(epoch))
            self._total = min(total, cfg.max_steps) if cfg.max_steps else total
        return self._total

    def _plan(self, epoch: int) -> list[np.ndarray]:
        cached = getattr(self, "_plan_cache", None)
        if cached is not None and cached[0] == epoch:
            return cached[1]  # type: ignore[no-any-return]
        cfg = self.config
        plan = plan_batches(
            self.train.lengths, cfg.batch_size, cfg.seed, epoch, cfg.bucketing, cfg.token_budget
        )
        self._plan_cache = (epoch, plan)
        return plan

    def _train(self) -> str:
        cfg = self.config
        self.mark = time.perf_counter()
        loop = self.loop
        cap = cfg.max_steps or math.inf
        while loop.order.epoch < cfg.epochs and loop.step < cap:
            epoch = loop.order.epoch
            plan = self._plan(epoch)
            with BatchPrefetcher(
                self.train, plan, loop.order.position, pin_memory=self.device.type == "cuda"
            ) as batches:
                for position, batch in batches:
                    ended = self._between_batches()
                    if ended:
                        return ended
                    ended = self._step(batch, epoch, position, len(plan))
                    if ended:
                        return ended
                    if loop.step >= cap:
                        return "completed"
            if loop.order.epoch == epoch:  # resumed at the very end of an epoch's plan
                loop.order = DataOrder(cfg.seed, epoch + 1, 0)
        return "completed"

    def _between_batches(self) -> str | None:
        """Act on cancellation and the Control's requests; a returned string ends the run.
        Across ranks, rank 0 decides (it holds the Control) and tells the others."""
        world = self.world
        ended: str | None = None
        lr: float | None = None
        checkpoint = cancelled = False
        if world.main:
            try:
                ended, lr, checkpoint = self._requests()
            except Cancelled:
                if not world.parallel:
                    raise
                cancelled = True
        if world.parallel:
            told = world.tell(
                [float(ended is not None), float(cancelled), lr or 0.0, float(checkpoint)],
                self.device,
            )
            if told[1]:
                raise Cancelled()
            ended = "stopped" if told[0] else None
            lr = told[2] or None
            checkpoint = bool(told[3])
        if ended:
            return ended
        if lr is not None:
            set_lr(self.scheduler, lr)
            self.callbacks.on_message(
                f"learning rate set to {lr:g} at step {self.loop.step}", "info"
            )
        if checkpoint:
            self._checkpoint()
            self.mark = time.perf_counter()
        return None

    def _requests(self) -> tuple[str | None, float | None, bool]:
        """(the end asked for, a new learning rate, a checkpoint asked for) from cancellation
        and the Control, waiting here while the run is paused."""
        control = self.control
        step = self.loop.step
        self.ctx.check_cancelled()
        if control.pause_requested and not control.stop_requested:
            self.callbacks.on_message(f"paused at step {step}", "info")
            control.wait_while_paused(check=self.ctx.check_cancelled)
            if not control.stop_requested:
                self.callbacks.on_message(f"resumed at step {step}", "info")
            self.mark = time.perf_counter()
        if control.stop_requested:
            self.callbacks.on_message(f"stopped at step {step}", "info")
            return "stopped", None, False
        return None, control.take_lr(), control.take_checkpoint_request()

    def _step(self, batch: Batch, epoch: int, position: int, batches: int) -> str | None:
        """One optimizer step on one batch, then evaluation and checkpoints when due."""
        cfg = self.config
        loop = self.loop
        lr = float(self.optimizer.param_groups[0]["lr"])
        if self.augmenter is not None:
            batch = self.augmenter(batch, loop.step + 1)
        world = self.world
        # each rank its share of the batch; the loss divided as the whole batch's would be
        count = max(target_count(self.task, batch), 1) / world.size
        outcome = self.gradients(world.shard(batch), count)
        if isinstance(outcome, str):
            return outcome
        loss, computed = outcome
        if world.parallel:  # the global batch's mean loss and computed tokens
            loss = world.total(loss, self.device) / world.size
            computed = int(world.total(computed, self.device))
        if not math.isfinite(loss):
            return f"failed: loss became {'NaN' if math.isnan(loss) else 'inf'} at step {loop.step + 1}"
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        limit = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
        if self.scaler is not None:  # it skips steps with inf gradients and lowers its scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        elif not math.isfinite(grad_norm):
            return f"failed: gradient norm became {grad_norm} at step {loop.step + 1}"
        else:
            self.optimizer.step()
        self.scheduler.step()
        loop.step += 1
        now = time.perf_counter()
        seconds = max(now - self.mark, 1e-9)
        r = self.result
        r.losses.append(loss)
        r.samples += batch.size
        r.real_tokens += batch.real_tokens
        r.computed_tokens += computed
        r.train_seconds += seconds
        epoch_end = position + 1 >= batches
        loop.order = (
            DataOrder(cfg.seed, epoch + 1, 0)
            if epoch_end
            else DataOrder(cfg.seed, epoch, position + 1)
        )
        self.callbacks.on_step(
            loop.step,
            epoch,
            {
                "loss": loss,
                "lr": lr,
                "grad_norm": grad_norm,
                "samples_per_s": batch.size / seconds,
                "tokens_per_s": batch.real_tokens / seconds,
                "padded_share": 1 - batch.real_tokens / computed,
                "seconds": seconds,
                "samples": float(batch.size),
                "tokens": float(batch.real_tokens),
                "computed_tokens": float(computed),
                "accumulation": float(loop.accumulation),
                "epoch_progress": epoch + (position + 1) / batches,
            },
        )
        self.ctx.progress(
            loop.step, self.total_steps, f"epoch {epoch + 1}/{cfg.epochs}, loss {loss:.4f}"
        )
        ended = self._after_step(epoch, epoch_end, epoch + (position + 1) / batches)
        self.mark = time.perf_counter()
        return ended

    def _after_step(self, epoch: int, epoch_end: bool, progress: float) -> str | None:
        """Evaluate and checkpoint when due; progress is the epoch reached (1.0: the first
        epoch done), which the evaluation is recorded at, as the steps are."""
        cfg = self.config
        step = self.loop.step
        improved = stop = False
        last = bool(cfg.max_steps and step >= cfg.max_steps) or (
            epoch_end and epoch + 1 >= cfg.epochs
        )
        main = self.world.main
        if self.validation.due(step, last, epoch_end) and main:
            improved, stop = self.validation.run(self.loop, self.result, progress)
        if self.robust is not None and self.robust.due(step) and main:
            self.callbacks.on_robust(step, progress, self.robust.run(step))
        if self.world.parallel:  # rank 0 evaluated: every rank stops early with it
            stop = bool(self.world.tell([float(stop)], self.device)[0])
        due_ckpt = (
            improved
            or (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0)
            or (cfg.checkpoint_every == 0 and epoch_end)
        )
        if due_ckpt:
            self._checkpoint(best=improved)
        if stop:
            self.callbacks.on_message(self.validation.stop_message(self.loop, self.result), "info")
            return "early_stopped"
        return None

    # --- checkpoints

    def checkpoint_state(self) -> dict[str, Any]:
        """What the next checkpoint's state.json would hold beside the tensors."""
        return self.checkpointer.state(self.loop, self.result, self.scaler)

    def _checkpoint(self, best: bool = False) -> None:
        if not self.world.main:  # rank 0 writes the run's checkpoints
            return
        self.checkpointer.save(
            self.model,
            self.optimizer,
            self.scheduler,
            self.scaler,
            self.loop,
            self.result,
            best=best,
        )
