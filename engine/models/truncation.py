"""How a text longer than max_length is read: which of its tokens the model sees.

    head        the first max_length tokens (what every run did before this setting)
    tail        the template's leading specials ([CLS]), the last tokens, its trailing ones
    head+tail   the specials, the first head_tokens tokens and the last ones (Sun et al., 2019:
                the start and the end of a long review say the most)
    windows     windows of max_length tokens (specials in each), a new one every stride
                tokens, until the text's end; each is read, and their logits are pooled
                (mean or max) into the text's prediction. Training reads the first window.

A text that fits is read whole by every strategy, so they agree on short texts. pick()
returns positions into the encoding (ids, tokens and offsets can all be cut with them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import protocol as P
from engine.core.errors import EngineError
from engine.core.reading import MAX_WINDOWS, pick_positions

STRATEGIES = P.TRUNCATIONS
POOLS = P.POOLS
__all__ = ["MAX_WINDOWS", "POOLS", "STRATEGIES", "Truncation"]


@dataclass(frozen=True)
class Truncation:
    how: str = "head"
    head_tokens: int = 0  # head+tail: tokens from the start; 0: a quarter of what fits
    stride: int = 0  # windows: tokens between two windows' starts; 0: half of what fits
    pool: str = "mean"  # windows: of the logits

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Truncation:
        """From a config's [data] table; EngineError naming what is wrong."""
        t = cls(
            how=data.get("truncation", "head"),
            head_tokens=data.get("head_tokens", 0),
            stride=data.get("stride", 0),
            pool=data.get("pool", "mean"),
        )
        t.validate()
        return t

    def validate(self, max_length: int | None = None) -> None:
        if self.how not in STRATEGIES:
            raise EngineError(
                f"data.truncation must be one of {', '.join(STRATEGIES)}, got {self.how!r}"
            )
        if self.pool not in POOLS:
            raise EngineError(f"data.pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        for name in ("head_tokens", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EngineError(f"data.{name} must be a whole number of 0 or more, got {value!r}")
        if max_length is not None and self.head_tokens >= max_length:
            raise EngineError(
                f"data.head_tokens ({self.head_tokens}) must be less than max_length "
                f"({max_length}): the tail needs room too"
            )
        if max_length is not None and self.stride > max_length:
            raise EngineError(
                f"data.stride ({self.stride}) must be at most max_length ({max_length}), or "
                "windows would skip tokens"
            )

    def to_data(self) -> dict[str, Any]:
        """The [data] keys that differ from the defaults."""
        out: dict[str, Any] = {}
        if self.how != "head":
            out["truncation"] = self.how
        if self.head_tokens:
            out["head_tokens"] = self.head_tokens
        if self.stride:
            out["stride"] = self.stride
        if self.pool != "mean":
            out["pool"] = self.pool
        return out

    def pick(self, special_mask: list[int], max_length: int) -> list[list[int]]:
        """Positions of the encoding the model reads: one list, or one per window."""
        return pick_positions(self.how, self.head_tokens, self.stride, special_mask, max_length)
