"""Checks before a run starts: a run that cannot work is refused before any training step."""

from __future__ import annotations

import numpy as np
import torch

from engine.core.errors import EngineError
from engine.training.config import TrainConfig
from engine.training.data import TextExamples, check_token_budget, collate
from engine.training.losses import loss_sum

_KIND = {"classify": "classifier", "lm": "language model", "seq2seq": "sequence-to-sequence model"}


def check_setup(
    model: torch.nn.Module,
    train: TextExamples,
    val: TextExamples | None,
    config: TrainConfig,
    device: torch.device,
) -> None:
    """Raise EngineError for an invalid config, a device that cannot run it, a model whose task
    or output does not fit the data, or texts longer than the token budget."""
    task = str(getattr(model, "task", ""))
    config.validate(device.type, task or "?", has_validation=val is not None)
    if train.task != task:
        raise EngineError(
            f"the model is a {_KIND[task]} but the training data is for a {_KIND[train.task]}",
            hint="give labels for a classifier, none for a language model, source and target "
            "pairs for a sequence-to-sequence model",
        )
    if val is not None and val.task != task:
        raise EngineError(
            f"the validation data is for a {_KIND[val.task]}, the model is a {_KIND[task]}"
        )
    if config.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise EngineError("this GPU has no bf16 support", hint="use fp16 or fp32")
    for data in (train, val):
        if data is not None and config.token_budget is not None:
            check_token_budget(data.lengths, config.token_budget)
    _probe(model, task, train, device)


def _probe(model: torch.nn.Module, task: str, train: TextExamples, device: torch.device) -> None:
    """One short example through the model (eval mode: no randomness used) to check shapes."""
    shortest = np.argsort(train.lengths, kind="stable")[:1]
    batch = collate(train, shortest).to(device)
    was_training = model.training
    model.to(device).eval()
    try:
        with torch.inference_mode():
            logits = model(batch.input_ids, batch.attention_mask)
    finally:
        model.train(was_training)
    loss_sum(task, logits, batch)  # raises on the wrong shape
    if task == "classify" and train.num_classes > logits.shape[-1]:
        raise EngineError(
            f"the data has {train.num_classes} classes but the model predicts {logits.shape[-1]}",
            hint="build the model with as many outputs as classes",
        )
