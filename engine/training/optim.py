"""The optimizer and the learning-rate schedule a TrainConfig asks for."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from engine.training.config import TrainConfig


def build_optimizer(
    model: torch.nn.Module, config: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW (fused on CUDA and CPU) or SGD; matrices decay, biases and norm weights do not (nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    # fused: one kernel for every tensor instead of several small ops each; on a CPU it cut
    # MiniLM's optimizer step from 74 to 16 ms (bench/train_bench.py)
    fused = device.type in ("cuda", "cpu") and all(
        p.device.type == device.type and p.is_floating_point() for p in params
    )
    return torch.optim.AdamW(groups, lr=config.lr, fused=fused or None)


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """Warmup in steps, from warmup_steps or warmup_ratio of all steps."""
    if config.warmup_ratio > 0:
        return math.ceil(config.warmup_ratio * total_steps)
    return config.warmup_steps


def lr_factor(schedule: str, warmup: int, total_steps: int) -> Callable[[int], float]:
    """The multiplier of the peak learning rate for the optimizer step about to be taken."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR whose state (base lrs, step count) is plain JSON."""
    fn = lr_factor(config.schedule, warmup_steps(config, total_steps), total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)


def set_lr(scheduler: torch.optim.lr_scheduler.LambdaLR, lr: float) -> None:
    """Make lr the current learning rate; the rest of the schedule scales with it."""
    step = scheduler.last_epoch
    factor = scheduler.lr_lambdas[0](step)
    base = lr / factor if factor > 0 else lr
    scheduler.base_lrs = [base for _ in scheduler.base_lrs]
    for group in scheduler.optimizer.param_groups:
        group["lr"] = lr
    scheduler._last_lr = [lr for _ in scheduler.optimizer.param_groups]
