"""Evaluation metrics against scikit-learn and hand-computed values; LM loss and perplexity."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score
from torch import nn

from engine.training.data import TextExamples, collate
from engine.training.losses import loss_sum, target_count
from engine.training.metrics import classification_scores, evaluate
from tests.helpers.training import BigramLM, UniformLM

CPU = torch.device("cpu")


def test_scores_match_hand_counts_and_sklearn() -> None:
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0]
    y_pred = [0, 1, 0, 1, 2, 2, 2, 0, 2, 0]
    s = classification_scores(y_true, y_pred, 3, ["neg", "neu", "pos"])
    assert s["accuracy"] == pytest.approx(0.7)
    # class 0: tp 3, predicted 4, actual 4; class 1: tp 1, predicted 2, actual 2;
    # class 2: tp 3, predicted 4, actual 4
    assert s["confusion"] == [[3, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert [c["precision"] for c in s["per_class"]] == pytest.approx([0.75, 0.5, 0.75])
    assert [c["recall"] for c in s["per_class"]] == pytest.approx([0.75, 0.5, 0.75])
    assert [c["support"] for c in s["per_class"]] == [4, 2, 4]
    assert [c["label"] for c in s["per_class"]] == ["neg", "neu", "pos"]
    assert s["macro_f1"] == pytest.approx((0.75 + 0.5 + 0.75) / 3)
    assert s["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert s["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert s["confusion"] == confusion_matrix(y_true, y_pred).tolist()
    json.dumps(s)  # plain values only


def test_classes_never_predicted_score_zero_without_warnings() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(y_true == 3, 0, y_true)  # class 3 never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = classification_scores(y_true, y_pred, 4)
    assert s["per_class"][3]["precision"] == 0.0 and s["per_class"][3]["recall"] == 0.0
    want = precision_score(y_true, y_pred, average=None, zero_division=0)
    assert [c["precision"] for c in s["per_class"]] == pytest.approx(list(want))
    assert s["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )


class FixedClassifier(nn.Module):
    """Predicts class (first token id mod classes) with a fixed margin."""

    task = "classify"

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.classes = classes
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hot = nn.functional.one_hot(input_ids[:, 0] % self.classes, self.classes).float()
        return hot * 2.0 * self.w


def test_evaluate_classifier_matches_sklearn_on_its_predictions() -> None:
    rng = np.random.default_rng(1)
    ids = [rng.integers(1, 30, rng.integers(1, 12)).tolist() for _ in range(101)]
    labels = rng.integers(0, 3, 101)
    ex = TextExamples(ids, labels)
    ev = evaluate(FixedClassifier(3), ex, CPU, batch_size=8)
    pred = np.array([row[0] % 3 for row in ids])
    assert ev.accuracy == pytest.approx(accuracy_score(labels, pred))
    assert ev.macro_f1 == pytest.approx(f1_score(labels, pred, average="macro"))
    assert ev.confusion == confusion_matrix(labels, pred, labels=[0, 1, 2]).tolist()
    # loss: each example has logit 2 on one class and 0 on the others
    right = math.log(1 + 2 * math.exp(-2.0))
    wrong = -math.log(math.exp(0.0) / (math.exp(2.0) + 2))
    want = np.where(pred == labels, right, wrong).mean()
    assert ev.loss == pytest.approx(want, rel=1e-5)
    assert ev.perplexity is None
    json.dumps(ev.to_dict())


def test_uniform_lm_has_perplexity_equal_to_its_vocabulary() -> None:
    ex = TextExamples([[1, 2, 3, 4], [5, 6], [7, 8, 9]])
    ev = evaluate(UniformLM(vocab=37), ex, CPU, batch_size=2)
    assert ev.loss == pytest.approx(math.log(37), rel=1e-6)
    assert ev.perplexity == pytest.approx(37.0, rel=1e-5)
    assert ev.accuracy is None and ev.value("perplexity") == ev.perplexity


def test_lm_loss_ignores_padding_and_counts_only_predicted_tokens() -> None:
    torch.manual_seed(0)
    model = BigramLM(vocab=20).eval()
    ex = TextExamples([[1, 2, 3, 4, 5, 6], [7, 8], [9, 10, 11]])
    batch = collate(ex, np.arange(3))
    assert target_count("lm", batch) == 5 + 1 + 2
    with torch.no_grad():
        padded = loss_sum("lm", model(batch.input_ids, batch.attention_mask), batch)
        alone = 0.0
        for i in range(3):
            one = collate(ex, np.array([i]))
            logits = model(one.input_ids, one.attention_mask)[0, :-1]
            alone += float(
                nn.functional.cross_entropy(logits, one.input_ids[0, 1:], reduction="sum")
            )
    assert float(padded) == pytest.approx(alone, rel=1e-5)


def test_classifier_loss_is_a_sum_over_examples() -> None:
    ex = TextExamples([[1, 2], [3]], [0, 1])
    batch = collate(ex, np.arange(2))
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    assert float(loss_sum("classify", logits, batch)) == pytest.approx(2 * math.log(2))
