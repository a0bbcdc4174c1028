"""TextCNN (Kim, 2014): parallel 1-D convolutions of several widths over the token embeddings,
ReLU, max over time, concatenated, dropout, then a linear layer.

Padding never reaches a window: padded embeddings are zeroed, and a window counts only when it
starts on a real token. Windows that run past a sequence's end see zeros, as if every sequence
were followed by (largest kernel - 1) padding vectors, which is also how a sequence shorter than
the largest kernel still gets windows. Either padding side gives the same result.

Embeddings door (engine.models.common): input_embeddings() is the token table, embed(ids) its
rows, and forward_embeddings(embeds, mask) right-aligns the vectors (right_align_embeddings)
and runs the convolutions; forward(ids, mask) is forward_embeddings(embed(ids), mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models.common import (
    EmbeddingsDoor,
    check_dropout,
    check_int,
    make_embedding,
    right_align_embeddings,
)


@dataclass
class CNNConfig:
    embed_dim: int = 64
    kernel_sizes: tuple[int, ...] = (3, 4, 5)
    channels: int = 64  # filters per kernel size
    dropout: float = 0.5

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_int("embed_dim", self.embed_dim)
        sizes = self.kernel_sizes
        if not isinstance(sizes, tuple | list) or not sizes:
            raise EngineError(f"kernel_sizes must be a list of positive integers, got {sizes!r}")
        for size in sizes:
            check_int("each kernel size", size)
        check_int("channels", self.channels)
        check_dropout("dropout", self.dropout)


class TextCNN(EmbeddingsDoor):
    """Convolutions over embeddings, max-pooled over real positions -> logits [B, C]."""

    task = "classify"
    max_len: int | None = None  # any length

    def __init__(self, config: CNNConfig, vocab_size: int, num_classes: int, pad_id: int) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.kernel_sizes = tuple(config.kernel_sizes)
        self.embedding = make_embedding(vocab_size, config.embed_dim, pad_id)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embed_dim, config.channels, k) for k in self.kernel_sizes
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.channels * len(self.kernel_sizes), num_classes)

    def input_embeddings(self) -> nn.Embedding:
        """The token table."""
        return self.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, D] -> logits [B, C]."""
        embeds, mask, _ = right_align_embeddings(embeds, attention_mask)
        x = embeds * mask.unsqueeze(-1)  # [B, W, D], padding zeroed
        x = F.pad(x.transpose(1, 2), (0, max(self.kernel_sizes) - 1))  # [B, D, W + k - 1]
        starts = mask.bool().unsqueeze(1)  # [B, 1, W]: windows that start on a real token
        pooled = []
        for conv in self.convs:
            width = embeds.shape[1]
            h = F.relu(conv(x))[:, :, :width]  # window j covers tokens j .. j + k - 1
            # ReLU outputs are >= 0, so filling the other windows with 0 leaves the max alone
            pooled.append(h.masked_fill(~starts, 0.0).max(dim=2).values)
        return self.head(self.dropout(torch.cat(pooled, dim=1)))


def build(config: CNNConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """A TextCNN for the config."""
    return TextCNN(config, vocab_size, num_classes, pad_id)
