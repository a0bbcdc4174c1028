"""One optimizer step's gradients, in micro-batches, with the out-of-memory guard around them.

A batch is split into loop.accumulation micro-batches; each one's loss (summed over its targets
and divided by the whole batch's target count) is backpropagated in turn, so the gradients are
those of the batch's mean loss. Out of memory halves the micro-batch and doubles the
accumulation (the effective batch stays the same) and retries the same batch; when a
micro-batch is down to one text, the step fails with that reason instead.

With adversarial PGD (engine.training.adversarial.EmbeddingPGD) each micro-batch's loss is
(1 - ratio) * its clean loss + ratio * its loss on the PGD-perturbed token vectors.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from engine.training.control import Callbacks
from engine.training.data import Batch
from engine.training.distributed import no_sync
from engine.training.losses import loss_sum, target_count
from engine.training.resume import LoopState

if TYPE_CHECKING:
    from engine.training.adversarial import EmbeddingPGD

FaultHook = Callable[[int, int], None]  # (step, rows) before each micro-batch's forward pass
AMP = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class BatchGradients:
    """Computes a batch's gradients for the step after loop.step, guarding against running out
    of memory. forward is the (maybe compiled) model; amp the autocast dtype or None."""

    def __init__(
        self,
        forward: Forward,
        task: str,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None,
        amp: torch.dtype | None,
        device: torch.device,
        batch_size: int,
        loop: LoopState,
        callbacks: Callbacks,
        fault_hook: FaultHook | None = None,
        adversary: EmbeddingPGD | None = None,
    ) -> None:
        self.forward = forward
        self.task = task
        self.optimizer = optimizer
        self.scaler = scaler
        self.amp = amp
        self.device = device
        self.batch_size = batch_size
        self.loop = loop
        self.callbacks = callbacks
        self.fault_hook = fault_hook
        self.adversary = adversary

    def __call__(self, batch: Batch, count: float | None = None) -> tuple[float, int] | str:
        """Gradients of the batch's mean loss: (loss, computed tokens), or why the step fails.
        count: what each loss is divided by (default: the batch's targets; a rank's share of
        a global batch is given the global batch's targets over the ranks)."""
        if count is None:
            count = max(target_count(self.task, batch), 1)
        loop = self.loop
        while True:
            try:
                return self.accumulate(batch, count)
            except torch.OutOfMemoryError:
                self.optimizer.zero_grad(set_to_none=True)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                rows = math.ceil(batch.size / loop.accumulation)
                if rows <= 1:
                    return f"failed: out of memory with one text per batch at step {loop.step + 1}"
                loop.accumulation *= 2
                rows = math.ceil(self.batch_size / loop.accumulation)
                self.callbacks.on_message(
                    f"out of memory at step {loop.step + 1}: batch halved to {rows} texts, "
                    f"gradient accumulation doubled to {loop.accumulation} "
                    f"(the effective batch stays {self.batch_size})",
                    "warning",
                )

    def accumulate(self, batch: Batch, count: float) -> tuple[float, int]:
        """Backpropagate the batch in loop.accumulation micro-batches, each loss divided by
        count (the batch's targets): (the batch's mean loss, computed tokens)."""
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        computed = 0
        amp = (
            torch.autocast(self.device.type, dtype=self.amp)
            if self.amp is not None
            else contextlib.nullcontext()
        )
        adversary = self.adversary
        parts = batch.split(self.loop.accumulation)
        for part, micro in enumerate(parts):
            if self.fault_hook is not None:
                self.fault_hook(self.loop.step + 1, micro.size)
            micro = micro.to(self.device)
            # across ranks (DDP) the gradients are averaged once a step, on its last part
            with no_sync(self.forward, part == len(parts) - 1):
                with amp:
                    if adversary is not None:
                        delta = adversary.delta(micro, self.loop.step + 1, part)
                    logits = self.forward(micro.input_ids, micro.attention_mask)
                    if adversary is not None:
                        adv_logits = adversary.logits(micro, delta)
                loss = loss_sum(self.task, logits, micro) / count
                if adversary is not None:
                    r = adversary.ratio
                    loss = (1 - r) * loss + r * loss_sum(self.task, adv_logits, micro) / count
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total += loss.detach()
            computed += micro.computed_tokens
        return float(total), computed
