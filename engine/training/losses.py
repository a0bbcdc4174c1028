"""The loss of a batch, summed over its targets, for each task.

Sums (not means) so that micro-batches of one optimizer step add up to exactly the loss of the
whole batch, however the batch was cut after running out of memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.core.errors import EngineError
from engine.models import service as models
from engine.training.data import Batch

IGNORE = -100


def target_count(task: str, batch: Batch) -> int:
    """Examples (classify), predicted tokens (lm: every real token but each row's first) or
    target tokens (seq2seq: each row's target and its EOS)."""
    if task == "seq2seq":
        return int(
            (models.pair_targets(batch.input_ids, batch.attention_mask, IGNORE) != IGNORE).sum()
        )
    return batch.size if task == "classify" else batch.real_tokens - batch.size


def loss_sum(task: str, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy summed over the batch's targets, in float32; padding never counts.

    classify: logits [B, C] against the labels. lm: logits [B, T, V], position t predicts
    token t+1 (shifted here). seq2seq: laid out as lm, only the target tokens and EOS count.
    """
    if task == "classify":
        if logits.dim() != 2 or logits.shape[0] != batch.size or batch.labels is None:
            raise EngineError(
                f"a classifier must return logits of shape [batch, classes]; got "
                f"{list(logits.shape)} for a batch of {batch.size}",
                hint="check the model's task and output",
            )
        return F.cross_entropy(logits.float(), batch.labels, reduction="sum")
    if logits.dim() != 3 or tuple(logits.shape[:2]) != tuple(batch.input_ids.shape):
        raise EngineError(
            f"a language model must return logits of shape [batch, tokens, vocab]; got "
            f"{list(logits.shape)} for input {list(batch.input_ids.shape)}",
            hint="check the model's task and output",
        )
    if task == "seq2seq":
        targets = models.pair_targets(batch.input_ids, batch.attention_mask, IGNORE)
    else:
        targets = batch.input_ids[:, 1:].masked_fill(batch.attention_mask[:, 1:] == 0, IGNORE)
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
