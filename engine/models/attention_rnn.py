"""A recurrent encoder pooled by additive (Bahdanau) attention instead of its last state.

Each output h_t gets a score v . tanh(W h_t + b); padding scores are -inf, so the softmax over
positions gives padding zero weight; the weighted sum of the outputs goes to a linear layer.
The weights of the last forward pass stay in last_attention ([B, T], on the caller's positions,
detached) for the prediction console. Padding and packing behave as in rnn.py.

Embeddings door (engine.models.common): as in rnn.py, input_embeddings() is the encoder's
token table and forward_embeddings(embeds, mask) reads right-aligned vectors; last_attention
is kept on the caller's positions either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.models.common import EmbeddingsDoor, check_int, scatter_back
from engine.models.rnn import RecurrentEncoder, RNNConfig


@dataclass
class AttentionRNNConfig(RNNConfig):
    attention_size: int = 64  # width of the scoring layer W

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        super().validate()
        check_int("attention_size", self.attention_size)


class AdditiveAttention(nn.Module):
    """Masked additive attention pooling: (pooled [B, H], weights [B, W])."""

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__()
        self.project = nn.Linear(input_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        scores = self.score(torch.tanh(self.project(states))).squeeze(-1)  # [B, W]
        scores = scores.masked_fill(mask == 0, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        weights = torch.nan_to_num(weights, nan=0.0)  # an all-padding row has no weights
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights


class AttentionRNNClassifier(EmbeddingsDoor):
    """RNN outputs -> additive attention pooling -> dropout -> logits [B, C]."""

    task = "classify"
    max_len: int | None = None  # any length

    def __init__(
        self, config: AttentionRNNConfig, vocab_size: int, num_classes: int, pad_id: int
    ) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.encoder = RecurrentEncoder(config, vocab_size, pad_id)
        self.attention = AdditiveAttention(self.encoder.output_size, config.attention_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)
        self.last_attention: Tensor | None = None

    def input_embeddings(self) -> nn.Embedding:
        """The token table (the encoder's)."""
        return self.encoder.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, D] -> logits [B, C]; the weights go to last_attention."""
        outputs, _, order = self.encoder.forward_embeddings(embeds, attention_mask)
        mask = attention_mask.gather(1, order)
        pooled, weights = self.attention(outputs, mask)
        self.last_attention = scatter_back(weights.detach(), order, embeds.shape[1])
        return self.head(self.dropout(pooled))


def build(config: AttentionRNNConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """An AttentionRNNClassifier for the config."""
    return AttentionRNNClassifier(config, vocab_size, num_classes, pad_id)
