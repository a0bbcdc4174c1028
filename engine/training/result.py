"""TrainResult: how a training run ended, with its losses, evaluations and throughput."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainResult:
    """How a run ended. state: completed, stopped, early_stopped, cancelled or 'failed: why'."""

    state: str
    step: int  # optimizer steps taken in all (resumed runs count from the start)
    epoch: int  # the epoch the next batch would come from (= epochs done when at a boundary)
    start_step: int  # the step this fit() started from (0, or the resumed checkpoint's)
    losses: list[float] = field(default_factory=list)  # one per step from start_step on
    metric: str = "loss"
    best_value: float | None = None
    best_step: int | None = None
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None
    evals: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of fit()
    train_seconds: float = 0.0  # time in training steps (data wait included; evals, pauses not)
    samples: int = 0
    real_tokens: int = 0
    computed_tokens: int = 0

    @property
    def padded_share(self) -> float:
        return 1 - self.real_tokens / self.computed_tokens if self.computed_tokens else 0.0

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Real (non-pad) tokens per second of training."""
        return self.real_tokens / self.train_seconds if self.train_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            padded_share=self.padded_share,
            samples_per_s=self.samples_per_s,
            tokens_per_s=self.tokens_per_s,
        )
        return out
