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
from engine.models import service as models
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
    # seq2seq: teacher-forced next-token accuracy over target tokens and EOS; the decoded
    # outputs' share equal to their targets, and their corpus BLEU (0-100, sacrebleu) over the
    # model's tokens (characters or words)
    token_accuracy: float | None = None
    exact_match: float | None = None
    bleu: float | None = None
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


def token_bleu(hypotheses: Sequence[Sequence[int]], references: Sequence[Sequence[int]]) -> float:
    """Corpus BLEU (sacrebleu, 0-100) with each token id a word: BLEU over the model's own
    tokens, characters for a char-level model, words for a word-level one."""
    import sacrebleu

    hyp = [" ".join(map(str, h)) for h in hypotheses]
    ref = [" ".join(map(str, r)) for r in references]
    if not hyp:
        return 0.0
    return float(sacrebleu.corpus_bleu(hyp, [ref], tokenize="none").score)


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
    right = targets = 0
    decoded: list[list[int]] = []
    wanted: list[list[int]] = []
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
                if task == "seq2seq":
                    r, n = models.token_accuracy(logits, batch.input_ids, batch.attention_mask)
                    right, targets = right + r, targets + n
                    srcs, tgts = models.sources_of(batch.input_ids, batch.attention_mask)
                    src, src_mask = models.source_batch(srcs, device)
                    decoded += [d.tokens for d in model.decode(src, src_mask)]  # type: ignore[operator]
                    wanted += tgts
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
    if task == "seq2seq":
        result.token_accuracy = right / max(targets, 1)
        result.exact_match = sum(d == w for d, w in zip(decoded, wanted, strict=True)) / max(
            len(wanted), 1
        )
        result.bleu = token_bleu(decoded, wanted)
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
