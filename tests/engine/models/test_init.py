"""Starting a token table from static vectors, with a fake lookup standing in for GloVe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.core.errors import EngineError
from engine.models.init import VectorLookup, init_embedding
from tests.helpers.models import VOCAB, build

KNOWN = {"the": 1.0, "cat": 2.0, "sat": 3.0, "<PAD>": 9.0}
WORDS = ["<PAD>", "<UNK>", "the", "cat", "zzyzx", "sat"]


def fake_lookup(dim: int) -> tuple[list[list[str]], VectorLookup]:
    calls: list[list[str]] = []

    def lookup(words: list[str]) -> tuple[np.ndarray, list[bool]]:
        calls.append(words)
        vectors = np.zeros((len(words), dim), dtype=np.float32)
        found = [w in KNOWN for w in words]
        for i, w in enumerate(words):
            if w in KNOWN:
                vectors[i] = KNOWN[w] + np.arange(dim)
        return vectors, found

    return calls, lookup


def test_found_rows_are_copied_and_the_rest_left_alone() -> None:
    torch.manual_seed(0)
    table = nn.Embedding(len(WORDS), 4, padding_idx=0)
    before = table.weight.detach().clone()
    calls, lookup = fake_lookup(4)
    found = init_embedding(table, WORDS, lookup, freeze=False)
    assert calls == [WORDS]
    assert found == 3  # the, cat, sat; the padding row stays zero although <PAD> is "known"
    w = table.weight.detach()
    for word, value in KNOWN.items():
        if word != "<PAD>":
            row = WORDS.index(word)
            torch.testing.assert_close(w[row], value + torch.arange(4.0))
    assert (w[0] == 0).all()
    torch.testing.assert_close(w[1], before[1])  # <UNK> and zzyzx keep their random values
    torch.testing.assert_close(w[4], before[4])
    assert table.weight.requires_grad


def test_freeze_stops_the_table_from_training() -> None:
    table = nn.Embedding(len(WORDS), 4)
    _, lookup = fake_lookup(4)
    assert init_embedding(table, WORDS, lookup, freeze=True) == 4
    assert not table.weight.requires_grad


@pytest.mark.parametrize(
    ("arch", "params"),
    [
        ("embedding-bag", {"embed_dim": 6}),
        ("pooling", {"embed_dim": 6}),
        ("cnn", {"embed_dim": 6, "channels": 2}),
        ("lstm", {"embed_dim": 6, "hidden_size": 4}),
        ("gru", {"embed_dim": 6, "hidden_size": 4}),
        ("attention-rnn", {"embed_dim": 6, "hidden_size": 4}),
        ("transformer", {"d_model": 6, "num_heads": 2, "ff_size": 8}),
        ("lstm-lm", {"embed_dim": 6, "hidden_size": 4}),
        ("transformer-lm", {"d_model": 6, "num_heads": 2, "ff_size": 8}),
    ],
)
def test_every_model_with_its_own_vocabulary_exposes_its_table(
    arch: str, params: dict[str, int]
) -> None:
    model = build(arch, params)
    vocab = WORDS + [f"w{i}" for i in range(VOCAB - len(WORDS))]
    _, lookup = fake_lookup(6)
    table = model.input_embeddings()  # the embeddings door's token table
    assert init_embedding(table, vocab, lookup, freeze=True) == 3
    torch.testing.assert_close(table.weight[3].detach(), 2.0 + torch.arange(6.0))
    assert not table.weight.requires_grad
    # the table the model reads: embed gives the copied row for its id
    torch.testing.assert_close(model.embed(torch.tensor([[3]]))[0, 0], 2.0 + torch.arange(6.0))


def test_mismatched_sizes_are_refused_with_the_fix() -> None:
    table = nn.Embedding(len(WORDS), 8)
    _, lookup = fake_lookup(4)
    with pytest.raises(EngineError, match="the vectors have 4 dimensions but the embedding has 8"):
        init_embedding(table, WORDS, lookup, freeze=False)
    with pytest.raises(EngineError, match="the vocabulary has 5 tokens but the embedding has 6"):
        init_embedding(table, WORDS[:5], lookup, freeze=False)
