"""Trainer: a generic training loop (minGPT's shape) that knows only the model interface.

model(input_ids [B, T], attention_mask [B, T]) returns logits [B, C] (model.task == "classify")
or [B, T, V] (model.task == "lm"). Everything else - data order, precision, checkpoints, guards,
pause/stop/lr requests - lives here, and everything the run does is told through Callbacks.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.errors import Cancelled, EngineError, JobContext, NullContext
from engine.training.checkpoint import load_checkpoint, save_checkpoint, write_json
from engine.training.config import TrainConfig
from engine.training.control import Callbacks, Control
from engine.training.data import Batch, BatchPrefetcher, DataOrder, TextExamples, plan_batches
from engine.training.losses import loss_sum, target_count
from engine.training.metrics import evaluate
from engine.training.optim import build_optimizer, build_scheduler, set_lr
from engine.training.preflight import check_setup
from engine.training.result import TrainResult

__all__ = ["Callbacks", "Control", "TrainResult", "Trainer"]

FaultHook = Callable[[int, int], None]
_AMP = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# Settings that change which batches come when, or the schedule: changing them on resume breaks
# the promise that a resumed run repeats the uninterrupted one.
_ORDER_KEYS = ("seed", "batch_size", "token_budget", "bucketing", "epochs", "max_steps")


class Trainer:
    """Trains a model on TextExamples, evaluating on val, checkpointing under run_dir.

    fault_hook(step, rows) is called before each micro-batch's forward pass; tests raise
    torch.OutOfMemoryError from it to exercise the out-of-memory guard.
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
    ) -> None:
        self.model = model
        self.train = train
        self.val = val
        self.config = config
        self.run_dir = Path(run_dir)
        self.checkpoints = self.run_dir / "checkpoints"
        self.device = torch.device(device)
        self.callbacks = callbacks or Callbacks()
        self.control = control or Control()
        self.fault_hook = fault_hook
        self.task = str(getattr(model, "task", ""))
        self._total: int | None = None

    def check(self) -> None:
        """Refuse a run that cannot work (config, device, task, data), with a EngineError."""
        check_setup(self.model, self.train, self.val, self.config, self.device)

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
        # dynamic: bucketed batches change shape from batch to batch
        self.forward = torch.compile(self.model, dynamic=True) if cfg.compile else self.model
        self.optimizer = build_optimizer(self.model, cfg, self.device)
        self._total = None  # the config may have changed since the last count
        self.scheduler = build_scheduler(self.optimizer, cfg, self.total_steps)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        self.amp = _AMP[cfg.precision]
        self.order = DataOrder(cfg.seed)
        self.step = 0
        self.accumulation = 1
        self.bad_evals = 0
        self.last_eval_step = -1
        self.last_ckpt_step = -1
        self.result = TrainResult(state="running", step=0, epoch=0, start_step=0, metric=cfg.metric)
        if resume_from is not None:
            self._resume(Path(resume_from))
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
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
        elif self.last_ckpt_step != self.step:
            self._checkpoint()
        self._finish(started)
        return self.result

    def _finish(self, started: float) -> None:
        self.result.step = self.step
        self.result.epoch = self.order.epoch
        self.result.seconds = time.perf_counter() - started
        self.callbacks.on_end(self.result)

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run: batches of all epochs, capped by max_steps."""
        if self._total is None:
            cfg = self.config
            total = sum(len(self._plan(e)) for e in range(cfg.epochs))
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
        while self.order.epoch < cfg.epochs and self.step < self.total_steps:
            epoch = self.order.epoch
            plan = self._plan(epoch)
            with BatchPrefetcher(
                self.train, plan, self.order.position, pin_memory=self.device.type == "cuda"
            ) as batches:
                for position, batch in batches:
                    ended = self._between_batches()
                    if ended:
                        return ended
                    ended = self._step(batch, epoch, position, len(plan))
                    if ended:
                        return ended
                    if self.step >= self.total_steps:
                        return "completed"
            if self.order.epoch == epoch:  # resumed at the very end of an epoch's plan
                self.order = DataOrder(cfg.seed, epoch + 1, 0)
        return "completed"

    def _between_batches(self) -> str | None:
        """Act on cancellation and the Control's requests; a returned string ends the run."""
        control = self.control
        self.ctx.check_cancelled()
        if control.pause_requested and not control.stop_requested:
            self.callbacks.on_message(f"paused at step {self.step}", "info")
            control.wait_while_paused(check=self.ctx.check_cancelled)
            if not control.stop_requested:
                self.callbacks.on_message(f"resumed at step {self.step}", "info")
            self.mark = time.perf_counter()
        if control.stop_requested:
            self.callbacks.on_message(f"stopped at step {self.step}", "info")
            return "stopped"
        lr = control.take_lr()
        if lr is not None:
            set_lr(self.scheduler, lr)
            self.callbacks.on_message(f"learning rate set to {lr:g} at step {self.step}", "info")
        if control.take_checkpoint_request():
            self._checkpoint()
            self.mark = time.perf_counter()
        return None

    def _step(self, batch: Batch, epoch: int, position: int, batches: int) -> str | None:
        """One optimizer step on one batch, then evaluation and checkpoints when due."""
        cfg = self.config
        lr = float(self.optimizer.param_groups[0]["lr"])
        outcome = self._forward_backward(batch)
        if isinstance(outcome, str):
            return outcome
        loss, computed = outcome
        if not math.isfinite(loss):
            return f"failed: loss became {'NaN' if math.isnan(loss) else 'inf'} at step {self.step + 1}"
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        limit = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
        if self.scaler is not None:  # it skips steps with inf gradients and lowers its scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        elif not math.isfinite(grad_norm):
            return f"failed: gradient norm became {grad_norm} at step {self.step + 1}"
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        now = time.perf_counter()
        seconds = max(now - self.mark, 1e-9)
        r = self.result
        r.losses.append(loss)
        r.samples += batch.size
        r.real_tokens += batch.real_tokens
        r.computed_tokens += computed
        r.train_seconds += seconds
        epoch_end = position + 1 >= batches
        self.order = (
            DataOrder(cfg.seed, epoch + 1, 0)
            if epoch_end
            else DataOrder(cfg.seed, epoch, position + 1)
        )
        self.callbacks.on_step(
            self.step,
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
                "accumulation": float(self.accumulation),
                "epoch_progress": epoch + (position + 1) / batches,
            },
        )
        self.ctx.progress(
            self.step, self.total_steps, f"epoch {epoch + 1}/{cfg.epochs}, loss {loss:.4f}"
        )
        ended = self._after_step(epoch, epoch_end)
        self.mark = time.perf_counter()
        return ended

    def _forward_backward(self, batch: Batch) -> tuple[float, int] | str:
        """Gradients of the batch's mean loss, in micro-batches; (loss, computed tokens).

        Out of memory halves the micro-batch and doubles the accumulation (the effective batch
        stays the same) and retries the same batch.
        """
        count = max(target_count(self.task, batch), 1)
        while True:
            try:
                return self._accumulate(batch, count)
            except torch.OutOfMemoryError:
                self.optimizer.zero_grad(set_to_none=True)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                rows = math.ceil(batch.size / self.accumulation)
                if rows <= 1:
                    return f"failed: out of memory with one text per batch at step {self.step + 1}"
                self.accumulation *= 2
                rows = math.ceil(self.config.batch_size / self.accumulation)
                self.callbacks.on_message(
                    f"out of memory at step {self.step + 1}: batch halved to {rows} texts, "
                    f"gradient accumulation doubled to {self.accumulation} "
                    f"(the effective batch stays {self.config.batch_size})",
                    "warning",
                )

    def _accumulate(self, batch: Batch, count: int) -> tuple[float, int]:
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        computed = 0
        amp = (
            torch.autocast(self.device.type, dtype=self.amp)
            if self.amp is not None
            else contextlib.nullcontext()
        )
        for micro in batch.split(self.accumulation):
            if self.fault_hook is not None:
                self.fault_hook(self.step + 1, micro.size)
            micro = micro.to(self.device)
            with amp:
                logits = self.forward(micro.input_ids, micro.attention_mask)
            loss = loss_sum(self.task, logits, micro) / count
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total += loss.detach()
            computed += micro.computed_tokens
        return float(total), computed

    def _after_step(self, epoch: int, epoch_end: bool) -> str | None:
        cfg = self.config
        last = self.step >= self.total_steps
        due_eval = self.val is not None and (
            (cfg.eval_every > 0 and self.step % cfg.eval_every == 0)
            or (cfg.eval_every == 0 and epoch_end)
            or last
        )
        improved = stop = False
        if due_eval:
            improved, stop = self._evaluate(epoch)
        due_ckpt = (
            improved
            or (cfg.checkpoint_every > 0 and self.step % cfg.checkpoint_every == 0)
            or (cfg.checkpoint_every == 0 and epoch_end)
        )
        if due_ckpt:
            self._checkpoint(best=improved)
        if stop:
            self.callbacks.on_message(
                f"early stopping at step {self.step}: {cfg.metric} did not improve in "
                f"{self.bad_evals} evaluations (best {self.result.best_value:.4g} at step "
                f"{self.result.best_step})",
                "info",
            )
            return "early_stopped"
        return None

    def _evaluate(self, epoch: int) -> tuple[bool, bool]:
        """(improved, early stop now)."""
        cfg = self.config
        assert self.val is not None
        ev = evaluate(
            self.model,
            self.val,
            self.device,
            batch_size=max(1, cfg.batch_size // self.accumulation),
            token_budget=cfg.token_budget,
            autocast_dtype=self.amp,
        )
        self.last_eval_step = self.step
        value = ev.value(cfg.metric)
        best = self.result.best_value
        improved = best is None or (value > best if cfg.higher_is_better else value < best)
        if improved:
            self.result.best_value, self.result.best_step = value, self.step
            self.result.best_checkpoint = str(self.checkpoints / f"ckpt-{self.step}")
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        record = {**ev.to_dict(), "step": self.step, "epoch": epoch, "best": improved}
        self.result.evals.append(record)
        self.callbacks.on_eval(self.step, epoch, record)
        patience = cfg.early_stopping_patience
        return improved, patience > 0 and self.bad_evals >= patience

    # --- checkpoints

    def _state(self) -> dict[str, Any]:
        r = self.result
        return {
            "format": 1,
            "step": self.step,
            "data": self.order.to_dict(),
            "data_fingerprint": self.train.fingerprint(),
            "accumulation": self.accumulation,
            "best": {
                "metric": self.config.metric,
                "value": r.best_value,
                "step": r.best_step,
                "checkpoint": Path(r.best_checkpoint).name if r.best_checkpoint else None,
            },
            "bad_evals": self.bad_evals,
            "last_eval_step": self.last_eval_step,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "config": self.config.to_dict(),
        }

    def _checkpoint(self, best: bool = False) -> None:
        path = save_checkpoint(
            self.checkpoints,
            self.model,
            self.optimizer,
            self.scheduler,
            self._state(),
            keep_last=self.config.keep_checkpoints,
            best=best,
        )
        self.last_ckpt_step = self.step
        self.result.last_checkpoint = str(path)
        self.callbacks.on_checkpoint(self.step, path)

    def _resume(self, path: Path) -> None:
        if (path / "checkpoints").is_dir():
            path = path / "checkpoints"
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        if state.get("data_fingerprint") != self.train.fingerprint():
            raise EngineError(
                "the training data differs from the data this run was started with",
                hint="resume with the same dataset split and tokenizer",
            )
        saved = state.get("config", {})
        now = self.config.to_dict()
        changed = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
        if changed:
            level = "warning" if set(changed) & set(_ORDER_KEYS) else "info"
            self.callbacks.on_message(
                "resuming with changed settings: "
                + ", ".join(f"{k} {saved.get(k)} -> {now.get(k)}" for k in changed),
                level,
            )
        self.step = int(state["step"])
        self.order = DataOrder.from_dict(state["data"])
        self.accumulation = int(state.get("accumulation", 1))
        self.bad_evals = int(state.get("bad_evals", 0))
        self.last_eval_step = int(state.get("last_eval_step", -1))
        self.last_ckpt_step = self.step
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        best = state.get("best") or {}
        r = self.result
        r.best_value, r.best_step = best.get("value"), best.get("step")
        if best.get("checkpoint"):
            r.best_checkpoint = str(self.checkpoints / best["checkpoint"])
        r.start_step = self.step
        r.last_checkpoint = state.get("checkpoint")
        self.callbacks.on_message(f"resumed from step {self.step}", "info")
