"""Recurrent classifiers: an RNN, LSTM or GRU reads the embeddings; the last hidden state
(of both directions when bidirectional) goes to a linear layer.

Sequences are packed (pack_padded_sequence) so the recurrence stops at each sequence's last real
token and padding never enters the state. Packing assumes right padding, which is what the
trainer makes; left-padded batches are right-aligned first, so both sides give the same result.

Embeddings door (engine.models.common): input_embeddings() is the encoder's token table,
embed(ids) its rows, and forward_embeddings(embeds, mask) right-aligns the vectors
(right_align_embeddings), then dropout and the packed recurrence; forward(ids, mask) is
forward_embeddings(embed(ids), mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from engine.models.common import (
    EmbeddingsDoor,
    check_bool,
    check_choice,
    check_dropout,
    check_int,
    lengths_of,
    make_embedding,
    right_align_embeddings,
)

CELLS = ("rnn", "lstm", "gru")
_CELL_CLASSES: dict[str, type[nn.RNN] | type[nn.LSTM] | type[nn.GRU]] = {
    "rnn": nn.RNN,
    "lstm": nn.LSTM,
    "gru": nn.GRU,
}


@dataclass
class RNNConfig:
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    embed_dim: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0  # on the embeddings, between layers and before the output layer

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_choice("cell", self.cell, CELLS)
        check_int("embed_dim", self.embed_dim)
        check_int("hidden_size", self.hidden_size)
        check_int("num_layers", self.num_layers)
        check_bool("bidirectional", self.bidirectional)
        check_dropout("dropout", self.dropout)


class RecurrentEncoder(nn.Module):
    """Embeddings read by a packed RNN/LSTM/GRU.

    forward returns (outputs [B, W, H * directions], zero at padding, where W is the longest
    real length; final [B, H * directions], the top layer's last state of each direction) for
    the right-aligned batch, with the order right_align used to get there. forward_embeddings
    does the same from token vectors [B, T, D] instead of ids.
    """

    def __init__(self, config: RNNConfig, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        self.embedding = make_embedding(vocab_size, config.embed_dim, pad_id)
        self.dropout = nn.Dropout(config.dropout)
        self.directions = 2 if config.bidirectional else 1
        self.rnn = _CELL_CLASSES[config.cell](
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            batch_first=True,
            # PyTorch applies this only between layers and warns when there is one layer
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.output_size = config.hidden_size * self.directions

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.forward_embeddings(self.embedding(input_ids), attention_mask)

    def forward_embeddings(
        self, embeds: Tensor, attention_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(outputs, final, order), as forward, from token vectors [B, T, D]."""
        embeds, mask, order = right_align_embeddings(embeds, attention_mask)
        x = self.dropout(embeds)
        packed = pack_padded_sequence(x, lengths_of(mask), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        final = torch.cat(list(h_n[-self.directions :]), dim=1)  # top layer, each direction
        outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=embeds.shape[1])
        return outputs, final, order


class RNNClassifier(EmbeddingsDoor):
    """Last hidden state -> dropout -> logits [B, C]."""

    task = "classify"
    max_len: int | None = None  # any length

    def __init__(self, config: RNNConfig, vocab_size: int, num_classes: int, pad_id: int) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.encoder = RecurrentEncoder(config, vocab_size, pad_id)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def input_embeddings(self) -> nn.Embedding:
        """The token table (the encoder's)."""
        return self.encoder.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, D] -> logits [B, C]."""
        _, final, _ = self.encoder.forward_embeddings(embeds, attention_mask)
        return self.head(self.dropout(final))


def build(config: RNNConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """An RNNClassifier for the config."""
    return RNNClassifier(config, vocab_size, num_classes, pad_id)
