"""Explanations on tiny models: one score per token for every method a family can give,
integrated gradients complete within a stated tolerance on a trained model, occlusion equal to
leaving each token out by hand, attention rows that sum to one, per-word sums, and a clear
refusal of a method a model cannot give."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from engine.core.errors import EngineError
from engine.models import explain
from tests.helpers.models import PAD, build, overfit_classifier, tiny_batch, tiny_bert_folder

RNN = {"embed_dim": 16, "hidden_size": 16, "num_layers": 1}
TRANSFORMER = {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_size": 32, "max_len": 16}
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "bag": ("embedding-bag", {"embed_dim": 16}),
    "cnn": ("cnn", {"embed_dim": 16, "kernel_sizes": [2, 3], "channels": 4}),
    "gru": ("gru", RNN),
    "attention-rnn": ("attention-rnn", {**RNN, "attention_size": 8}),
    "transformer-cls": ("transformer", {**TRANSFORMER, "pooling": "cls"}),
    "transformer-mean": ("transformer", TRANSFORMER),
}
IDS = [3, 7, 5, 9, 11, 4]
SPECIAL = [0] * len(IDS)
TEXT = "aa bb cc dd ee ff"
SPANS = [(i * 3, i * 3 + 2) for i in range(len(IDS))]


def _explain(model: Any, arch: str, method: str, target: int = 1, steps: int = 0) -> Any:
    return explain.explain(
        model, arch, IDS, SPECIAL, SPANS, TEXT, target, "pos", method, PAD, steps
    )


def _trained(arch: str, params: dict[str, Any]) -> Any:
    model = build(arch, params)
    ids, mask, labels = tiny_batch(n=16, seed=3, max_len=8)
    overfit_classifier(model, ids, mask, labels, steps=150)
    return model.eval()


@pytest.mark.parametrize("case", list(FAMILIES))
def test_every_method_a_family_gives_has_one_score_per_token(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, params)
    usable = explain.methods_for(model, arch)
    assert usable[:3] == ["ig", "ixg", "occlusion"]
    assert ("attention" in usable) == (arch in ("attention-rnn", "transformer"))
    for method in usable:
        ex = _explain(model, arch, method, steps=20)
        assert len(ex.scores) == len(IDS), method
        assert all(s == s for s in ex.scores), method  # no NaN
        assert [(w.start, w.end) for w in ex.words] == SPANS
        assert [w.score for w in ex.words] == pytest.approx(ex.scores)
        assert ex.method == method and ex.target == "pos"


@pytest.mark.parametrize("case", ["transformer-cls", "gru", "bag"])
def test_integrated_gradients_are_complete_on_a_trained_model(case: str) -> None:
    """The attributions' sum equals f(x) - f(baseline) within 5% (LARGE_GAP) at the default
    steps, and within 0.5% at 1,000."""
    arch, params = FAMILIES[case]
    model = _trained(arch, params)
    ex = _explain(model, arch, "ig")
    c = ex.completeness
    assert c is not None and c.steps == explain.DEFAULT_STEPS
    assert c.attributions_sum == pytest.approx(sum(ex.scores), abs=1e-4)
    assert c.gap == pytest.approx(c.attributions_sum - (c.f_input - c.f_baseline), abs=1e-4)
    assert (
        abs(c.f_input - c.f_baseline) > 0.1
    )  # the text moves the logit: the check means something
    assert c.relative_gap < explain.LARGE_GAP
    more = _explain(model, arch, "ig", steps=1000).completeness
    assert more is not None and more.relative_gap < 0.005
    with torch.no_grad():  # f(x) is the model's own logit for the text
        logits = model(torch.tensor([IDS]), torch.ones(1, len(IDS), dtype=torch.long))
    assert c.f_input == pytest.approx(float(logits[0, 1]), abs=1e-5)
    assert not ex.note


def test_few_steps_say_the_gap_is_large() -> None:
    arch, params = FAMILIES["transformer-cls"]
    ex = _explain(_trained(arch, params), arch, "ig", steps=2)
    assert ex.completeness is not None and ex.completeness.steps == 2
    if ex.completeness.relative_gap > explain.LARGE_GAP:
        assert "raise steps" in ex.note


@pytest.mark.parametrize("case", ["transformer-cls", "cnn", "attention-rnn"])
def test_occlusion_equals_leaving_each_token_out_by_hand(case: str) -> None:
    arch, params = FAMILIES[case]
    model = _trained(arch, params)
    ex = _explain(model, arch, "occlusion")

    def p(ids: list[int]) -> float:
        x = torch.tensor([ids])
        with torch.no_grad():
            return float(torch.softmax(model(x, torch.ones_like(x)), -1)[0, 1])

    full = p(IDS)
    by_hand = [full - p(IDS[:i] + IDS[i + 1 :]) for i in range(len(IDS))]
    assert ex.scores == pytest.approx(by_hand, abs=1e-5)


def test_occlusion_never_scores_a_special_token() -> None:
    arch, params = FAMILIES["gru"]
    special = [1, 0, 0, 0, 0, 1]
    ex = explain.explain(
        build(arch, params), arch, IDS, special, SPANS, TEXT, 0, "neg", "occlusion", PAD
    )
    assert ex.scores[0] == 0.0 and ex.scores[-1] == 0.0


@pytest.mark.parametrize("case", ["attention-rnn", "transformer-cls", "transformer-mean"])
def test_attention_rows_sum_to_one(case: str) -> None:
    arch, params = FAMILIES[case]
    ex = _explain(build(arch, params), arch, "attention")
    assert sum(ex.scores) == pytest.approx(1.0, abs=1e-5)
    assert all(s >= 0 for s in ex.scores)
    for row in ex.attention:
        assert sum(row) == pytest.approx(1.0, abs=1e-5)
    layers = 1 if arch == "attention-rnn" else TRANSFORMER["num_layers"]
    assert len(ex.layers) == layers and ex.layers[-1] == pytest.approx(ex.scores)
    if arch == "transformer":
        assert len(ex.attention) == len(IDS)


def test_a_bert_family_model_gives_attention_with_eager_attention_for_the_call() -> None:
    from engine.models import registry

    torch.manual_seed(0)
    config = registry.config_from_dict("bert-finetune", {"folder": str(tiny_bert_folder())})
    model = registry.build_model("bert-finetune", config, 14, 2, 0).eval()
    before = model.model.config._attn_implementation
    ids = [2, 5, 6, 7, 3]
    spans = [(0, 0), (0, 4), (5, 9), (10, 14), (0, 0)]
    ex = explain.explain(
        model, "bert-finetune", ids, [1, 0, 0, 0, 1], spans, "good bad fun", 0, "a", "attention", 0
    )
    assert len(ex.scores) == len(ids) and sum(ex.scores) == pytest.approx(1.0, abs=1e-5)
    assert len(ex.layers) == 2 and all(sum(r) == pytest.approx(1.0, abs=1e-5) for r in ex.attention)
    assert model.model.config._attn_implementation == before  # put back
    ig = explain.explain(
        model, "bert-finetune", ids, [1, 0, 0, 0, 1], spans, "good bad fun", 0, "a", "ig", 0
    )
    assert ig.completeness is not None and ig.completeness.relative_gap < 0.05


def test_a_method_a_model_cannot_give_names_those_it_can() -> None:
    arch, params = FAMILIES["bag"]
    with pytest.raises(EngineError) as err:
        _explain(build(arch, params), arch, "attention")
    assert "cannot give 'attention'" in str(err.value)
    assert err.value.hint == "methods that apply to it: ig, ixg, occlusion"
    with pytest.raises(EngineError, match="no explanation method 'shap'"):
        _explain(build(arch, params), arch, "shap")
    with pytest.raises(EngineError, match="steps must be from 1"):
        _explain(build(arch, params), arch, "ig", steps=-3)


def test_word_scores_sum_subwords_and_skip_specials() -> None:
    text = "unbelievable film!"
    spans = [(0, 0), (0, 2), (2, 7), (7, 12), (13, 17), (17, 18), (0, 0)]
    scores = [9.0, 0.5, 0.25, 0.25, -1.0, 0.125, 9.0]
    words = explain.word_scores(text, spans, scores)
    assert [(w.start, w.end, w.score) for w in words] == [
        (0, 12, 1.0),
        (13, 17, -1.0),
        (17, 18, 0.125),
    ]
