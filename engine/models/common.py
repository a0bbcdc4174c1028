"""What the model families share: config checks that raise EngineError, padding-mask helpers,
and the embeddings door.

Every model takes input_ids and attention_mask of shape [B, T]; attention_mask is 1 for real
tokens and 0 for padding. The trainer pads on the right, but right_align makes the sequence
models indifferent to the side: real tokens are moved to the front, in order, before use.
right_align_embeddings does the same to vectors [B, T, D], in the same order.

The embeddings door (EmbeddingsDoor) is how attributions and embedding-space attacks reach any
model the same way: input_embeddings() is the token table, embed(ids) the vectors the model
reads for those ids (before positions, scaling or dropout), and forward_embeddings(embeds,
mask) the rest of the model, so that forward(ids, mask) == forward_embeddings(embed(ids), mask).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.core.errors import EngineError

# --- config checks: each names the field and the value, so a person can fix it


MAX_SIZE = 1 << 31  # no model setting is a count beyond this (a typo of extra digits is)


def check_int(name: str, value: object, low: int = 1, high: int = MAX_SIZE) -> None:
    """EngineError unless value is an int (not a bool) from `low` to `high`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = "a positive integer" if low == 1 else f"an integer of at least {low}"
        shown = repr(value) if isinstance(value, str) else str(value)
        raise EngineError(f"{name} must be {what}, got {shown[:40]}")
    if value > high:
        raise EngineError(
            f"{name} is {str(value)[:40]}, more than {high:,}: no model is that large",
            hint=f"set {name} to at most {high:,}",
            code="too_large",
        )


def check_dropout(name: str, value: object) -> None:
    """EngineError unless value is a probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise EngineError(f"{name} must be a number from 0 up to (not including) 1, got {value!r}")


def check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    """EngineError unless value is one of choices."""
    if value not in choices:
        raise EngineError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_bool(name: str, value: object) -> None:
    """EngineError unless value is True or False."""
    if not isinstance(value, bool):
        raise EngineError(f"{name} must be true or false, got {value!r}")


def check_build(vocab_size: int, num_classes: int, pad_id: int, task: str) -> None:
    """EngineError for build arguments no model can use."""
    check_int("vocab_size", vocab_size)
    if task == "classify":
        check_int("num_classes", num_classes, low=2)
    check_int("pad_id", pad_id, low=0)
    if pad_id >= vocab_size:
        raise EngineError(
            f"pad_id {pad_id} is outside the vocabulary of {vocab_size} tokens",
            hint="the tokenizer's padding token must be one of its ids",
        )


# --- padding


def align_order(attention_mask: Tensor) -> Tensor:
    """The order right_align reads positions in [B, W]: each row's real positions first, in
    their order, then its padding; W is the longest real length (at least 1)."""
    mask = attention_mask.bool()
    # a stable sort on "is padding" keeps real tokens in order and sends padding to the end
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    width = max(int(mask.sum(dim=1).max().item()) if mask.numel() else 0, 1)
    return order[:, :width]


def right_align(input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(ids, mask, order): real tokens moved to the front in their order, columns after the
    longest sequence dropped. ids[b, j] == input_ids[b, order[b, j]]. A no-op on right padding."""
    order = align_order(attention_mask)
    return input_ids.gather(1, order), attention_mask.bool().gather(1, order).long(), order


def right_align_embeddings(embeds: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """right_align for vectors [B, T, D]: (embeds [B, W, D], mask [B, W], order [B, W]), with
    embeds[b, j] == the input's embeds[b, order[b, j]], so that embedding right-aligned ids
    equals right-aligning their embeddings. Gradients flow back to the real positions."""
    order = align_order(attention_mask)
    index = order.unsqueeze(-1).expand(-1, -1, embeds.shape[-1])
    return embeds.gather(1, index), attention_mask.bool().gather(1, order).long(), order


def scatter_back(values: Tensor, order: Tensor, length: int) -> Tensor:
    """Undo right_align on per-position values [B, W, ...]: [B, length, ...], zeros elsewhere."""
    shape = (values.shape[0], length, *values.shape[2:])
    out = values.new_zeros(shape)
    index = order.view(*order.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return out.scatter(1, index, values)


def lengths_of(attention_mask: Tensor) -> Tensor:
    """Real tokens per row, as int64 on the CPU (what pack_padded_sequence wants), at least 1:
    an all-padding row reads one padding token rather than failing the batch."""
    return attention_mask.sum(dim=1).clamp(min=1).to(device="cpu", dtype=torch.int64)


def masked_pool(states: Tensor, attention_mask: Tensor, mode: str) -> Tensor:
    """Pool states [B, T, D] over real positions: mean, max or sum. All-padding rows give 0."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    if mode == "max":
        filled = states.masked_fill(mask == 0, float("-inf"))
        pooled = filled.max(dim=1).values
        return torch.where(torch.isinf(pooled), torch.zeros_like(pooled), pooled)
    total = (states * mask).sum(dim=1)
    if mode == "sum":
        return total
    return total / mask.sum(dim=1).clamp(min=1)


def make_embedding(vocab_size: int, dim: int, pad_id: int) -> nn.Embedding:
    """An embedding table whose padding row is zero and never trained."""
    return nn.Embedding(vocab_size, dim, padding_idx=pad_id)


# --- the embeddings door


class EmbeddingsDoor(nn.Module, abc.ABC):
    """The base of the families' nn.Module models: the three methods of the embeddings door,
    and forward(ids, mask) as forward_embeddings(embed(ids), mask).

    A family gives input_embeddings() (an nn.Embedding or nn.EmbeddingBag, .weight [V, D]) and
    forward_embeddings(embeds [B, T, D], attention_mask [B, T]) -> logits; embed(ids) looks the
    ids up in the table. Deriving from this class adds no parameters, buffers or submodules, so
    state_dict keys are the family's own."""

    @abc.abstractmethod
    def input_embeddings(self) -> nn.Module:
        """The token table: an nn.Embedding (or nn.EmbeddingBag) with .weight [V, D]."""

    def embed(self, input_ids: Tensor) -> Tensor:
        """The vectors [B, T, D] the model reads for input_ids, before positions, scaling or
        dropout: rows of input_embeddings().weight (the padding row's gradient stays zero)."""
        table = self.input_embeddings()
        if isinstance(table, nn.Embedding):
            return table(input_ids)
        assert isinstance(table, nn.EmbeddingBag), "a token table is an Embedding or EmbeddingBag"
        return F.embedding(input_ids, table.weight, padding_idx=table.padding_idx)

    @abc.abstractmethod
    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits from token vectors [B, T, D] (what embed gives, or anything of that shape)."""

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.forward_embeddings(self.embed(input_ids), attention_mask)
