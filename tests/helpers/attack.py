"""Small trained victims for the attack tests: real Rotten Tomatoes snippets, the bundled MiniLM
WordPiece tokenizer, and a seeded model of a few families trained for a few seconds on the CPU,
each built once per test session."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from engine.attack.victim import Victim
from engine.models import registry
from engine.models.loading import TrainedModel, TrainedRun
from tests.helpers.models import minilm_or_skip
from tests.helpers.training import rotten_tomatoes

LABELS = ["rotten", "fresh"]
MAX_LEN = 64


@functools.cache
def tokenizer() -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_or_skip() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


@functools.cache
def data(n: int = 2400, seed: int = 0) -> tuple[list[str], list[int]]:
    """(texts, labels): the first n - 200 train the victims, the last 200 are attacked."""
    return rotten_tomatoes(n, seed)


def test_examples(n: int = 40) -> tuple[list[str], list[int]]:
    texts, labels = data()
    return texts[-200:][:n], labels[-200:][:n]


def _batch(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer().encode_batch(texts)
    width = min(MAX_LEN, max(len(e.ids) for e in enc))
    ids = torch.zeros((len(texts), width), dtype=torch.long)
    mask = torch.zeros((len(texts), width), dtype=torch.long)
    for row, e in enumerate(enc):
        n = min(width, len(e.ids))
        ids[row, :n] = torch.tensor(e.ids[:n])
        mask[row, :n] = 1
    return ids, mask


PARAMS: dict[str, dict[str, Any]] = {
    "embedding-bag": {"embed_dim": 32},
    "cnn": {"embed_dim": 32, "channels": 16, "kernel_sizes": [2, 3], "dropout": 0.1},
}


@functools.cache
def trained(arch: str = "embedding-bag", epochs: int = 6, seed: int = 0) -> TrainedModel:
    """A trained classifier of arch (test accuracy about 0.7 for the bag), in eval mode."""
    texts, labels = data()
    train_texts, train_labels = texts[:-200], torch.tensor(labels[:-200])
    torch.manual_seed(seed)
    config = registry.config_from_dict(arch, PARAMS[arch])
    model = registry.build_model(arch, config, tokenizer().get_vocab_size(), 2, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(train_texts), generator=g)
        model.train()
        for start in range(0, len(order), 64):
            pick = order[start : start + 64].tolist()
            ids, mask = _batch([train_texts[i] for i in pick])
            opt.zero_grad()
            F.cross_entropy(model(ids, mask), train_labels[pick]).backward()
            opt.step()
    model.eval()
    run = TrainedRun(
        run_id=f"test-{arch}",
        folder=Path("/nonexistent"),
        checkpoint=Path("/nonexistent/ckpt-0"),
        arch=arch,
        params=PARAMS[arch],
        tokenizer=tokenizer(),
        pad_id=0,
        labels=LABELS,
        description=f"run test-{arch} ({arch} on rotten tomatoes)",
    )
    return TrainedModel(run, model, registry.get_spec(arch), run.checkpoint, 0)


def victim(arch: str = "embedding-bag") -> Victim:
    """A fresh victim (its query count at 0) over the session's trained model."""
    model = trained(arch)
    return Victim([(model, MAX_LEN)], model.run.description)


def accuracy(v: Victim, texts: list[str], labels: list[int]) -> float:
    p = v.probabilities(texts)
    return float((p.argmax(axis=1) == labels).mean())
