"""features-logreg: frozen MiniLM features and a logistic regression fitted by fit(), answering
like the other classifiers; the regression saves as tensors, never pickled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from engine.core.errors import Cancelled, EngineError
from engine.models import registry
from engine.models.features import FeatureClassifier, FeaturesConfig
from tests.helpers.jobs import Recorder
from tests.helpers.models import minilm_encoder, minilm_or_skip

SPORT = [
    "The striker scored twice in the final minutes of the match",
    "Our team won the championship after a tense penalty shootout",
    "The goalkeeper saved a penalty in the second half",
    "She ran the marathon in under three hours",
    "The tennis player served an ace to win the set",
    "Fans cheered as the home side took the league title",
]
COOKING = [
    "Simmer the tomato sauce with garlic and fresh basil",
    "Whisk the eggs and sugar before folding in the flour",
    "Roast the chicken with lemon, thyme and olive oil",
    "Knead the bread dough and let it rise for an hour",
    "Season the soup with salt, pepper and a little cream",
    "Bake the cake until a skewer comes out clean",
]
UNSEEN = ["The referee showed a red card to the defender", "Chop the onions and fry them in butter"]


def classifier(pooling: str = "mean", num_classes: int = 2) -> FeatureClassifier:
    """A feature classifier on the session's one MiniLM encoder."""
    folder = minilm_or_skip()
    return FeatureClassifier(FeaturesConfig(pooling=pooling), num_classes, minilm_encoder(), folder)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_it_fits_a_small_separable_set_and_generalises(pooling: str) -> None:
    model = classifier(pooling)
    report = model.fit(SPORT + COOKING, [0] * 6 + [1] * 6)
    assert report.train_accuracy == 1.0 and report.converged
    assert (report.examples, report.features, report.classes) == (12, 384, 2)
    assert model.predict(UNSEEN) == [0, 1]
    proba = model.predict_proba(UNSEEN)
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5


def test_called_with_ids_it_answers_like_the_other_classifiers() -> None:
    model = classifier()
    model.fit(SPORT + COOKING, [0] * 6 + [1] * 6)
    assert model.task == "classify"
    tok = Tokenizer.from_file(str(model.tokenizer_path))
    tok.no_padding()
    encoded = [tok.encode(t).ids for t in UNSEEN]
    width = max(map(len, encoded))
    ids = torch.zeros((2, width), dtype=torch.long)
    mask = torch.zeros((2, width), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, : len(e)], mask[row, : len(e)] = torch.tensor(e), 1
    logits = model(ids, mask)
    assert logits.shape == (2, 2)
    expected = torch.from_numpy(model.predict_proba(UNSEEN)).float()
    torch.testing.assert_close(logits.softmax(dim=1), expected, atol=1e-5, rtol=0)
    # padding does not move a row's features: the short text alone equals it in the batch
    short = int(mask.sum(dim=1).argmin())
    n = int(mask[short].sum())
    alone = model.features_from_ids(ids[short : short + 1, :n], mask[short : short + 1, :n])
    batch = model.features_from_ids(ids, mask)
    np.testing.assert_allclose(alone[0], batch[short], atol=1e-5)


def test_fit_reports_progress_and_can_be_cancelled() -> None:
    model = classifier()
    model.config.batch_size = 5
    recorder = Recorder()
    model.fit(SPORT + COOKING, [0] * 6 + [1] * 6, recorder)
    assert [(done, total) for done, total, _ in recorder.reports] == [(5, 12), (10, 12), (12, 12)]
    with pytest.raises(Cancelled):
        model.fit(SPORT + COOKING, [0] * 6 + [1] * 6, Recorder(cancel_after=1))


def test_classes_missing_from_the_fit_get_zero_probability() -> None:
    model = classifier(num_classes=3)
    model.fit(SPORT + COOKING, [0] * 6 + [2] * 6)
    proba = model.predict_proba(UNSEEN)
    assert proba.shape == (2, 3) and (proba[:, 1] == 0).all()
    assert model.predict(UNSEEN) == [0, 2]


def test_the_fitted_regression_round_trips_through_tensors() -> None:
    model = classifier()
    model.fit(SPORT + COOKING, [0] * 6 + [1] * 6)
    tensors = model.head_tensors()
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    fresh = classifier()
    fresh.load_head(tensors)
    np.testing.assert_allclose(fresh.predict_proba(UNSEEN), model.predict_proba(UNSEEN))


def test_what_fit_and_predict_refuse() -> None:
    model = classifier()
    with pytest.raises(EngineError, match="has not been fitted"):
        model.predict(UNSEEN)
    with pytest.raises(EngineError, match="at least two classes"):
        model.fit(SPORT, [0] * 6)
    with pytest.raises(EngineError, match="12 texts but 11 labels"):
        model.fit(SPORT + COOKING, [0] * 11)
    with pytest.raises(EngineError, match="labels must be class ids from 0 to 1"):
        model.fit(SPORT + COOKING, [0] * 6 + [2] * 6)


def test_the_registry_builds_counts_and_describes_it() -> None:
    minilm_or_skip()
    config = registry.config_from_dict("features-logreg", {"pooling": "cls", "batch_size": 4})
    model = registry.build_model("features-logreg", config, 30522, 2, 0)
    assert isinstance(model, FeatureClassifier)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    frozen = sum(p.numel() for p in model.encoder.parameters())
    assert registry.param_counts(model) == (385, frozen)  # 384 weights and a bias
    rows = registry.describe(model, max_depth=1)
    assert rows[0] == (0, "", "FeatureClassifier", 385, frozen)
    assert rows[1][:3] == (1, "encoder", "BertModel") and rows[-1][1] == "classifier"
    parts = registry.memory_parts(model, 4, 32)
    assert parts["gradients"] == parts["optimizer"] == 0 and parts["weights"] == 4 * frozen
