"""A Transformer encoder classifier built from nn.TransformerEncoder (pre-LayerNorm).

Token embeddings (scaled by sqrt(d_model)) plus sinusoidal or learned positions, then the
encoder with src_key_padding_mask so no real token attends to padding, then pooling: "cls"
takes the first position (the tokenizer's [CLS] when it adds one, else the first token) and
"mean" averages the real positions. Left-padded batches are right-aligned first, so positions
count from each sequence's first real token either way. Sequences may hold up to max_len tokens.
The encoder stack is engine.models.blocks.pre_ln_encoder, with its own final LayerNorm.

Embeddings door (engine.models.common): input_embeddings() is the token table (embed.tokens),
embed(ids) its rows (unscaled, without positions), and forward_embeddings(embeds, mask)
right-aligns the vectors (right_align_embeddings), scales them, adds positions and runs the
encoder; forward(ids, mask) is forward_embeddings(embed(ids), mask). The PositionalEmbedding
module keeps its registered name "embed" (saved checkpoints hold embed.tokens.weight) and is
reached as `positional`, since embed() is the door's method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models.blocks import pre_ln_encoder
from engine.models.common import (
    EmbeddingsDoor,
    check_choice,
    check_dropout,
    check_int,
    make_embedding,
    masked_pool,
    right_align_embeddings,
)

POSITIONS = ("sinusoidal", "learned")
POOLINGS = ("cls", "mean")


@dataclass
class TransformerConfig:
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_size: int = 128
    dropout: float = 0.1
    positions: Literal["sinusoidal", "learned"] = "sinusoidal"
    pooling: Literal["cls", "mean"] = "mean"
    max_len: int = 512

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_int("d_model", self.d_model)
        check_int("num_heads", self.num_heads)
        if self.d_model % self.num_heads:
            raise EngineError(
                f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})",
                hint=f"try num_heads={math.gcd(self.d_model, self.num_heads)}",
            )
        check_int("num_layers", self.num_layers)
        check_int("ff_size", self.ff_size)
        check_dropout("dropout", self.dropout)
        check_choice("positions", self.positions, POSITIONS)
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("max_len", self.max_len)


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """The fixed position table of "Attention Is All You Need" [max_len, d_model]."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
    return table


class PositionalEmbedding(nn.Module):
    """Token embeddings * sqrt(d_model) + position vectors, then dropout."""

    table: Tensor | None  # the sinusoidal buffer, when positions are not learned

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        max_len: int,
        positions: str,
        dropout: float,
        pad_id: int,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.scale = math.sqrt(d_model)
        self.tokens = make_embedding(vocab_size, d_model, pad_id)
        self.learned = nn.Embedding(max_len, d_model) if positions == "learned" else None
        table = sinusoidal_table(max_len, d_model) if self.learned is None else None
        # not saved: it is the same for every model of this size
        self.register_buffer("table", table, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: Tensor) -> Tensor:
        return self.add_positions(self.tokens(ids))

    def add_positions(self, vectors: Tensor) -> Tensor:
        """Token vectors [B, T, d_model] * sqrt(d_model) + position vectors, then dropout;
        EngineError when T is past max_len."""
        length = vectors.shape[1]
        if length > self.max_len:
            raise EngineError(
                f"a sequence of {length} tokens is longer than the model's max_len of "
                f"{self.max_len}",
                hint=f"truncate the encoding to {self.max_len} tokens or raise max_len",
            )
        table = self.learned.weight if self.learned is not None else self.table
        assert table is not None  # one of the two exists, by construction
        pos = table[:length]
        return self.dropout(vectors * self.scale + pos)


class TransformerClassifier(EmbeddingsDoor):
    """Embeddings + positions -> TransformerEncoder -> cls/mean pooling -> logits [B, C]."""

    task = "classify"

    def __init__(
        self, config: TransformerConfig, vocab_size: int, num_classes: int, pad_id: int
    ) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.max_len = config.max_len
        positional = PositionalEmbedding(
            vocab_size, config.d_model, config.max_len, config.positions, config.dropout, pad_id
        )
        # registered as "embed", the name saved checkpoints use, and reached as self.positional:
        # self.embed is the embeddings door's method (add_module refuses a name the class has)
        nn.Module.__setattr__(self, "embed", positional)
        self.encoder = pre_ln_encoder(
            config.d_model,
            config.num_heads,
            config.ff_size,
            config.dropout,
            config.num_layers,
            final_norm=True,
        )
        self.head = nn.Linear(config.d_model, num_classes)

    @property
    def positional(self) -> PositionalEmbedding:
        """The token table with its positions (the submodule named "embed")."""
        module = dict(self.named_children())["embed"]
        assert isinstance(module, PositionalEmbedding)
        return module

    def input_embeddings(self) -> nn.Embedding:
        """The token table (embed.tokens)."""
        return self.positional.tokens

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, d_model], unscaled -> logits [B, C]."""
        embeds, mask, _ = right_align_embeddings(embeds, attention_mask)
        padding = mask == 0
        padding[:, 0] = False  # an all-padding row attends to one position rather than NaN
        x = self.positional.add_positions(embeds)
        states = self.encoder(x, src_key_padding_mask=padding)
        if self.config.pooling == "cls":
            pooled = states[:, 0]
        else:
            pooled = masked_pool(states, mask, "mean")
        return self.head(pooled)


def build(config: TransformerConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """A TransformerClassifier for the config."""
    return TransformerClassifier(config, vocab_size, num_classes, pad_id)
