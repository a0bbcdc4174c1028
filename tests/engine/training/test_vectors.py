"""A run's `vectors`: init_from_vectors starts the model's token table (its embeddings door's)
from a static table, for every family with a table of its own, and refuses the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from engine.core.errors import EngineError
from engine.models import registry
from engine.training.job import init_from_vectors
from tests.helpers.models import VOCAB, build, tiny_bert_folder

DIM = 6
KNOWN = {"w3": 3.0, "w5": 5.0, "w0": 9.0}  # w0 is the padding token: its row stays zero


class WordTokenizer:
    """Enough of a tokenizers.Tokenizer: w0 .. w(VOCAB-1)."""

    def get_vocab_size(self) -> int:
        return VOCAB

    def get_vocab(self) -> dict[str, int]:
        return {f"w{i}": i for i in range(VOCAB)}


class FakeTable:
    """Enough of a StaticTable: a vector for each word of KNOWN."""

    dim = DIM

    def vector(self, word: str) -> np.ndarray | None:
        value = KNOWN.get(word)
        return None if value is None else value + np.arange(DIM, dtype=np.float32)


@pytest.mark.parametrize(
    ("arch", "params"),
    [
        ("embedding-bag", {"embed_dim": DIM}),
        ("cnn", {"embed_dim": DIM, "channels": 2}),
        ("gru", {"embed_dim": DIM, "hidden_size": 4}),
        ("attention-rnn", {"embed_dim": DIM, "hidden_size": 4}),
        ("transformer", {"d_model": DIM, "num_heads": 2, "ff_size": 8}),
        ("transformer-lm", {"d_model": DIM, "num_heads": 2, "ff_size": 8}),
    ],
)
@pytest.mark.parametrize("freeze", [True, False])
def test_the_known_rows_of_the_doors_table_are_copied(
    arch: str, params: dict[str, Any], freeze: bool
) -> None:
    model = build(arch, params)
    before = model.input_embeddings().weight.detach().clone()
    found = init_from_vectors(model, registry.get_spec(arch), WordTokenizer(), FakeTable(), freeze)
    assert found == 2  # w3 and w5; the padding row is left alone
    weight = model.input_embeddings().weight
    torch.testing.assert_close(weight[3].detach(), 3.0 + torch.arange(float(DIM)))
    torch.testing.assert_close(weight[5].detach(), 5.0 + torch.arange(float(DIM)))
    assert (weight[0] == 0).all()
    torch.testing.assert_close(weight[4].detach(), before[4])
    assert weight.requires_grad is not freeze
    # what the model reads for those ids
    torch.testing.assert_close(model.embed(torch.tensor([[5]]))[0, 0], weight[5].detach())


def test_a_pretrained_family_has_no_table_to_initialise() -> None:
    config = registry.config_from_dict("bert-finetune", {"folder": str(tiny_bert_folder())})
    model = registry.build_model("bert-finetune", config, 14, 2, 0)
    with pytest.raises(EngineError, match="a bert-finetune model has no embedding table"):
        init_from_vectors(
            model, registry.get_spec("bert-finetune"), WordTokenizer(), FakeTable(), True
        )
