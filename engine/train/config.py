"""TrainConfig: every knob of a training run, checked before any work starts.

Torch-free, so that the CLI or a config file check can use it without loading torch.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, fields
from typing import Any

from engine.data.errors import DataError

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
METRICS = ("accuracy", "macro_f1", "loss", "perplexity")
PRECISIONS = ("fp32", "bf16", "fp16")
LOWER_IS_BETTER = frozenset({"loss", "perplexity"})
TASK_METRICS = {
    "classify": ("accuracy", "macro_f1", "loss"),
    "lm": ("loss", "perplexity"),
}


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, batching, evaluation, checkpoints, precision."""

    optimizer: str = "adamw"
    lr: float = 5e-4
    weight_decay: float = 0.01
    momentum: float = 0.9  # sgd only
    schedule: str = "linear"
    warmup_steps: int = 0
    warmup_ratio: float = 0.0  # a share of all steps; set this or warmup_steps
    batch_size: int = 32
    token_budget: int | None = None  # most padded tokens (rows x longest row) in one batch
    epochs: int = 3
    max_steps: int | None = None
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    early_stopping_patience: int = 0  # evaluations without improvement; 0 = off
    metric: str = "loss"  # decides the best checkpoint and early stopping
    seed: int = 0
    precision: str = "fp32"
    eval_every: int = 0  # steps; 0 = at the end of each epoch
    checkpoint_every: int = 0  # steps; 0 = at the end of each epoch
    keep_checkpoints: int = 2  # most recent ones kept, besides the best
    compile: bool = False
    bucketing: bool = True

    def validate(
        self,
        device_type: str | None = None,
        task: str | None = None,
        has_validation: bool = True,
    ) -> None:
        """Raise DataError naming every invalid value; device and task add their own rules."""
        problems = _problems(self)
        if device_type is not None and self.precision == "fp16" and device_type != "cuda":
            problems.append(
                f"fp16 needs a CUDA GPU and this device is {device_type}: use bf16 or fp32"
            )
        if task is not None:
            allowed = TASK_METRICS.get(task)
            if allowed is None:
                problems.append(f"task must be classify or lm, got {task!r}")
            elif self.metric in METRICS and self.metric not in allowed:
                kind = "a classifier" if task == "classify" else "a language model"
                problems.append(
                    f"metric {self.metric} does not apply to {kind}; "
                    f"use one of: {', '.join(allowed)}"
                )
        if not has_validation and self.early_stopping_patience > 0:
            problems.append("early stopping needs validation data; set its patience to 0")
        if problems:
            raise DataError("; ".join(problems), hint="fix the training settings")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of the chosen metric is an improvement."""
        return self.metric not in LOWER_IS_BETTER

    def to_dict(self) -> dict[str, Any]:
        """Plain values for TOML/JSON; unset optional values are left out (TOML has no null)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from parsed TOML/JSON; unknown keys and wrong types raise DataError."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise DataError(
                f"unknown training setting{'s' if len(unknown) > 1 else ''}: "
                f"{', '.join(unknown)}; valid settings are: {', '.join(valid)}",
                hint="check the spelling in the config file",
            )
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _coerce(name, value, hints[name])
        return cls(**values)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for kind in options:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    wanted = " or ".join("nothing" if k is type(None) else k.__name__ for k in options)
    raise DataError(
        f"setting {name} must be {wanted}, got {value!r}", hint="fix the training settings"
    )


def _problems(c: TrainConfig) -> list[str]:
    hints = typing.get_type_hints(TrainConfig)
    out: list[str] = []
    for f in fields(c):
        try:
            _coerce(f.name, getattr(c, f.name), hints[f.name])
        except DataError as exc:
            out.append(exc.message)
    if out:  # the value checks below assume the right types
        return out

    def one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            out.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    def at_least(name: str, value: float | None, low: float, optional: bool = False) -> None:
        if value is None and optional:
            return
        if value is None or not math.isfinite(value) or value < low:
            out.append(f"{name} must be at least {low:g}, got {value}")

    one_of("optimizer", c.optimizer, OPTIMIZERS)
    if not (math.isfinite(c.lr) and c.lr > 0):
        out.append(f"learning rate must be above 0, got {c.lr}")
    at_least("weight decay", c.weight_decay, 0)
    if not (0 <= c.momentum < 1):
        out.append(f"momentum must be from 0 up to (not including) 1, got {c.momentum}")
    one_of("schedule", c.schedule, SCHEDULES)
    at_least("warmup steps", c.warmup_steps, 0)
    if not (0 <= c.warmup_ratio < 1):
        out.append(f"warmup ratio must be from 0 up to (not including) 1, got {c.warmup_ratio}")
    if c.warmup_steps > 0 and c.warmup_ratio > 0:
        out.append("set warmup steps or warmup ratio, not both")
    at_least("batch size", c.batch_size, 1)
    at_least("token budget", c.token_budget, 1, optional=True)
    at_least("epochs", c.epochs, 1)
    at_least("max steps", c.max_steps, 1, optional=True)
    at_least("gradient clipping norm", c.grad_clip, 0)
    at_least("early stopping patience", c.early_stopping_patience, 0)
    one_of("metric", c.metric, METRICS)
    if not (0 <= c.seed < 2**63):
        out.append(f"seed must be from 0 to 2**63 - 1, got {c.seed}")
    one_of("precision", c.precision, PRECISIONS)
    at_least("eval every (steps)", c.eval_every, 0)
    at_least("checkpoint every (steps)", c.checkpoint_every, 0)
    at_least("checkpoints kept", c.keep_checkpoints, 1)
    return out
