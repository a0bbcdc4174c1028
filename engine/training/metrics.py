"""Evaluation: loss, accuracy, macro-F1, per-class scores and confusion matrix, or perplexity.

Results are plain dataclasses of floats, ints and lists, so they go to JSON and the wire as they
are.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from engine.core.errors import EngineError
from engine.training.data import TextExamples, collate, split_to_budget
from engine.training.losses import loss_sum, target_count


@dataclass
class EvalResult:
    """One evaluation. Classifier fields are None for a language model and the reverse.

    per_class has one entry per class (label, precision, recall, f1, support); confusion[i][j]
    counts examples of class i predicted as j. macro_f1 averages over the classes present in the
    labels or the predictions (scikit-learn's rule).
    """

    task: str
    loss: float
    examples: int
    tokens: int
    seconds: float
    accuracy: float | None = None
    macro_f1: float | None = None
    perplexity: float | None = None
    per_class: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    def value(self, metric: str) -> float:
        """The named metric (accuracy, macro_f1, loss, perplexity)."""
        got = getattr(self, metric, None)
        if not isinstance(got, float):
            raise EngineError(f"metric {metric} is not measured for a {self.task} model")
        return got

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classification_scores(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    num_classes: int,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """accuracy, macro_f1, per_class and confusion for integer labels 0..num_classes-1."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(num_classes))
    names = list(label_names) if label_names else [str(i) for i in labels]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0.0)
    per_class = [
        {
            "label": names[i] if i < len(names) else str(i),
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i in labels
    ]
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0.0)),
        "per_class": per_class,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def perplexity(mean_token_loss: float) -> float:
    """exp of the mean loss per predicted token (inf when it overflows)."""
    return math.exp(mean_token_loss) if mean_token_loss < 700 else math.inf


def evaluate(
    model: torch.nn.Module,
    examples: TextExamples,
    device: torch.device,
    batch_size: int = 64,
    token_budget: int | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> EvalResult:
    """Run the model over every example (no gradients, eval mode) and score it."""
    task = examples.task
    started = time.perf_counter()
    order = np.argsort(-examples.lengths, kind="stable")  # alike lengths: little padding
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if token_budget is not None:
        chunks = [p for c in chunks for p in split_to_budget(c, examples.lengths, token_budget)]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    rows: list[np.ndarray] = []
    preds: list[torch.Tensor] = []
    outputs = 0
    amp = (
        torch.autocast(device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    try:
        with torch.inference_mode(), amp:
            for chunk in chunks:
                batch = collate(examples, chunk).to(device)
                logits = model(batch.input_ids, batch.attention_mask)
                total += float(loss_sum(task, logits, batch))
                count += target_count(task, batch)
                if task == "classify":
                    rows.append(batch.rows)
                    preds.append(logits.argmax(dim=-1).cpu())
                    outputs = int(logits.shape[-1])
    finally:
        model.train(was_training)
    loss = total / max(count, 1)
    result = EvalResult(
        task=task,
        loss=loss,
        examples=len(examples),
        tokens=int(examples.lengths.sum()),
        seconds=time.perf_counter() - started,
    )
    if task == "lm":
        result.perplexity = perplexity(loss)
        return result
    assert examples.labels is not None
    y_true = examples.labels[np.concatenate(rows)]
    y_pred = torch.cat(preds).numpy()
    classes = max(examples.num_classes, outputs)
    scores = classification_scores(y_true, y_pred, classes, examples.label_names)
    result.accuracy = scores["accuracy"]
    result.macro_f1 = scores["macro_f1"]
    result.per_class = scores["per_class"]
    result.confusion = scores["confusion"]
    return result
