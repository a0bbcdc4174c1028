"""The classifiers trained from scratch, on tiny configs: logits [B, C], padding (right, left,
more of it) never changes a row's logits, each can memorise 16 examples, and the attention
RNN shows its weights."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from engine.models.attention_rnn import AttentionRNNClassifier
from tests.helpers.models import (
    PAD,
    assert_padding_free,
    build,
    overfit_classifier,
    tiny_batch,
)

RNN = {"embed_dim": 32, "hidden_size": 32, "num_layers": 2, "dropout": 0.1}
TRANSFORMER = {"d_model": 32, "num_heads": 2, "num_layers": 2, "ff_size": 64, "max_len": 16}

TINY: dict[str, tuple[str, dict[str, Any]]] = {
    "bag-mean": ("embedding-bag", {"embed_dim": 32, "mode": "mean"}),
    "bag-max": ("embedding-bag", {"embed_dim": 32, "mode": "max"}),
    "bag-sum": ("embedding-bag", {"embed_dim": 32, "mode": "sum", "hidden_size": 32}),
    "pool-mean": ("pooling", {"embed_dim": 32, "mode": "mean"}),
    "pool-max": ("pooling", {"embed_dim": 32, "mode": "max"}),
    "pool-sum": ("pooling", {"embed_dim": 32, "mode": "sum", "hidden_size": 32}),
    # kernels wider than the shortest rows (1 token) exercise the internal padding
    "cnn": ("cnn", {"embed_dim": 32, "kernel_sizes": [2, 3, 5], "channels": 16, "dropout": 0.1}),
    "rnn": ("rnn", RNN),
    "lstm-bi": ("lstm", {**RNN, "bidirectional": True}),
    "gru-bi": ("gru", {**RNN, "bidirectional": True}),
    "attention-gru": ("attention-rnn", {**RNN, "cell": "gru", "attention_size": 16}),
    "attention-lstm-bi": ("attention-rnn", {**RNN, "cell": "lstm", "bidirectional": True}),
    "transformer-cls-sinusoidal": ("transformer", {**TRANSFORMER, "pooling": "cls"}),
    "transformer-mean-learned": (
        "transformer",
        {**TRANSFORMER, "pooling": "mean", "positions": "learned"},
    ),
}
CASES = pytest.mark.parametrize("case", list(TINY))


@CASES
def test_logits_have_one_row_per_sequence_and_one_column_per_class(case: str) -> None:
    arch, params = TINY[case]
    model = build(arch, params, num_classes=3)
    ids, mask, _ = tiny_batch(n=5)
    out = model(ids, mask)
    assert model.task == "classify"
    assert out.shape == (5, 3) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@CASES
def test_padding_does_not_change_any_row(case: str) -> None:
    arch, params = TINY[case]
    ids, mask, _ = tiny_batch(n=6, seed=1)
    assert_padding_free(build(arch, params), ids, mask)


@CASES
def test_an_all_padding_row_gives_finite_logits(case: str) -> None:
    arch, params = TINY[case]
    ids, mask, _ = tiny_batch(n=3)
    ids[1], mask[1] = PAD, 0
    assert torch.isfinite(build(arch, params)(ids, mask)).all()


@CASES
def test_it_memorises_16_examples(case: str) -> None:
    arch, params = TINY[case]
    model = build(arch, params)
    ids, mask, labels = tiny_batch(n=16, seed=2)
    loss, acc, steps = overfit_classifier(model, ids, mask, labels)
    assert acc == 1.0 and loss < 0.05, f"{case}: loss {loss:.3f}, accuracy {acc} after {steps}"


def test_the_attention_rnn_keeps_its_weights_on_the_callers_positions() -> None:
    model = build("attention-rnn", TINY["attention-lstm-bi"][1])
    assert isinstance(model, AttentionRNNClassifier) and model.last_attention is None
    ids, mask, _ = tiny_batch(n=4, seed=3)
    mask[0, :3] = 0  # left padding on one row: weights must land on its real tokens
    model(ids, mask)
    weights = model.last_attention
    assert weights is not None and weights.shape == ids.shape
    assert not weights.requires_grad
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))
    assert (weights[mask == 0] == 0).all()
    assert (weights[mask == 1] > 0).all()


def test_the_cnn_reads_a_sequence_shorter_than_its_widest_kernel() -> None:
    model = build("cnn", {"embed_dim": 16, "kernel_sizes": [3, 7], "channels": 4})
    one = torch.tensor([[5]])
    out = model(one, torch.ones_like(one))
    assert out.shape == (1, 2)
    other = model(torch.tensor([[6]]), torch.ones_like(one))
    assert not torch.allclose(out, other)  # the one token is read, not only padding


def test_the_bag_implementations_agree_when_given_the_same_table() -> None:
    ids, mask, _ = tiny_batch(n=6, seed=4)
    for mode in ("mean", "max", "sum"):
        bag = build("embedding-bag", {"embed_dim": 8, "mode": mode})
        pooling = build("pooling", {"embed_dim": 8, "mode": mode})
        pooling.load_state_dict(bag.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(bag(ids, mask), pooling(ids, mask), atol=1e-6, rtol=0)


def test_the_order_of_words_matters_to_sequence_models_but_not_to_bags() -> None:
    ids = torch.tensor([[3, 4, 5, 6]])
    flipped = ids.flip(1)
    mask = torch.ones_like(ids)
    bag = build("pooling", {"embed_dim": 8})
    torch.testing.assert_close(bag(ids, mask), bag(flipped, mask))
    for arch, params in (TINY["lstm-bi"], TINY["transformer-mean-learned"]):
        model = build(arch, params)
        assert not torch.allclose(model(ids, mask), model(flipped, mask))
