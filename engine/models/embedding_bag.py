"""Bag-of-embeddings classifiers: average (or max, or sum) the token vectors, then a linear layer.

Two implementations of the same idea. impl="embedding_bag" uses nn.EmbeddingBag, which pools
without materialising [B, T, D]: mean and max read only the real tokens, flattened with
offsets; sum weights each token by its mask value (per_sample_weights). impl="pooling" looks up
nn.Embedding and pools by hand with the padding mask, which is easier to read and to inspect.
Word order is ignored, so either padding side gives the same result.

Embeddings door (engine.models.common): input_embeddings() is the nn.EmbeddingBag or
nn.Embedding, embed(ids) its rows for the ids, and forward_embeddings(embeds, mask) pools the
vectors by hand (masked_pool, the "pooling" path) before the head, which matches the
EmbeddingBag forward for mean, max and sum (to float rounding) as long as no real token is the
padding id (EmbeddingBag leaves those out of the bag). forward keeps EmbeddingBag's fast
path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from engine.models.common import (
    EmbeddingsDoor,
    check_choice,
    check_dropout,
    check_int,
    make_embedding,
    masked_pool,
)

IMPLS = ("embedding_bag", "pooling")
MODES = ("mean", "max", "sum")


@dataclass
class EmbeddingBagConfig:
    embed_dim: int = 64
    mode: Literal["mean", "max", "sum"] = "mean"
    impl: Literal["embedding_bag", "pooling"] = "embedding_bag"
    hidden_size: int = 0  # 0: the pooled vector goes straight to the output layer
    dropout: float = 0.0

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_int("embed_dim", self.embed_dim)
        check_choice("mode", self.mode, MODES)
        check_choice("impl", self.impl, IMPLS)
        check_int("hidden_size", self.hidden_size, low=0)
        check_dropout("dropout", self.dropout)


class BagClassifier(EmbeddingsDoor):
    """Pooled token embeddings -> (optional hidden layer) -> class logits [B, C]."""

    task = "classify"
    max_len: int | None = None  # any length

    def __init__(
        self, config: EmbeddingBagConfig, vocab_size: int, num_classes: int, pad_id: int
    ) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.embedding: nn.Embedding | nn.EmbeddingBag
        if config.impl == "embedding_bag":
            self.embedding = nn.EmbeddingBag(
                vocab_size, config.embed_dim, mode=config.mode, padding_idx=pad_id
            )
        else:
            self.embedding = make_embedding(vocab_size, config.embed_dim, pad_id)
        self.dropout = nn.Dropout(config.dropout)
        width = config.embed_dim
        layers: list[nn.Module] = []
        if config.hidden_size:
            layers += [nn.Linear(width, config.hidden_size), nn.ReLU(), nn.Dropout(config.dropout)]
            width = config.hidden_size
        layers.append(nn.Linear(width, num_classes))
        self.head = nn.Sequential(*layers)

    def pooled(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The bag vector of each sequence [B, D]; an all-padding row gives zeros."""
        if isinstance(self.embedding, nn.EmbeddingBag):
            if self.config.mode == "sum":
                weights = attention_mask.to(self.embedding.weight.dtype)
                return self.embedding(input_ids, per_sample_weights=weights)
            mask = attention_mask.bool()
            flat = input_ids[mask]  # real tokens of every row, one after another
            counts = mask.sum(dim=1)
            offsets = torch.cumsum(counts, dim=0) - counts
            return self.embedding(flat, offsets)
        return masked_pool(self.embedding(input_ids), attention_mask, self.config.mode)

    def input_embeddings(self) -> nn.Embedding | nn.EmbeddingBag:
        """The token table (an nn.EmbeddingBag for impl "embedding_bag")."""
        return self.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, D] pooled over the real positions -> logits [B, C]."""
        pooled = masked_pool(embeds, attention_mask, self.config.mode)
        return self.head(self.dropout(pooled))

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        if isinstance(self.embedding, nn.EmbeddingBag):  # the fast path: no [B, T, D]
            return self.head(self.dropout(self.pooled(input_ids, attention_mask)))
        return self.forward_embeddings(self.embed(input_ids), attention_mask)


def build(config: EmbeddingBagConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """A BagClassifier for the config."""
    return BagClassifier(config, vocab_size, num_classes, pad_id)
