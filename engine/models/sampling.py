"""Choosing the next token from a language model's logits: greedy, or a draw from the tempered
distribution cut to the top_k most likely tokens and then to the nucleus (top_p), in that order
(the order Hugging Face's generate applies them in)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.core.errors import EngineError


@dataclass(frozen=True)
class Sampling:
    """greedy: the most likely token (the rest unused); else softmax(logits / temperature), the
    top_k most likely kept (0: all), then the smallest set whose probability reaches top_p."""

    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


def check_top_p(top_p: float) -> None:
    """EngineError unless 0 < top_p <= 1."""
    if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise EngineError(
            f"top_p must be above 0 and at most 1, got {top_p!r}",
            hint="1 keeps every token; 0.9 keeps the most likely tokens that make up 90%",
        )


def distribution(logits: Tensor, sampling: Sampling) -> Tensor:
    """The probabilities [V] (float32) a token is drawn from; for greedy softmax(logits)."""
    logits = logits.float()
    if sampling.greedy:
        return torch.softmax(logits, dim=-1)
    logits = logits / sampling.temperature
    if 0 < sampling.top_k < logits.numel():
        kth = torch.topk(logits, sampling.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if sampling.top_p < 1:
        ordered, order = torch.sort(probs, descending=True)
        before = torch.cumsum(ordered, dim=0) - ordered  # the mass of the likelier tokens
        drop = before >= sampling.top_p
        drop[0] = False  # the most likely token always stays
        probs = probs.index_fill(0, order[drop], 0.0)
        probs = probs / probs.sum()
    return probs


def pick(probs: Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    """The next token: argmax for greedy, else a draw from probs with generator."""
    if sampling.greedy:
        return int(probs.argmax().item())
    return int(torch.multinomial(probs, 1, generator=generator).item())


def top_candidates(probs: Tensor, k: int) -> list[tuple[int, float]]:
    """The k most likely (token id, probability), most likely first; tokens of probability 0
    (cut by top_k or top_p) are left out."""
    if k <= 0:
        return []
    values, ids = torch.topk(probs, min(k, probs.numel()))
    return [(i, p) for i, p in zip(ids.tolist(), values.tolist(), strict=True) if p > 0]
