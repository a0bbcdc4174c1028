"""Explanations through a real engine and the CLI: `predict --explain` gives one score per token
the model read, integrated gradients with their completeness, occlusion for a fitted
(features + logistic regression) run too, and clear errors for a method a model cannot give,
an unknown class and too many texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import features_config, three_config, three_splits


def _trained(engine: RunningEngine, tmp_path: Path) -> str:
    three_splits(engine, tmp_path)
    out = wb(engine, "train", str(three_config(tmp_path)), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    return str(wb_json(engine, "runs", "list")[-1]["run_id"])


def test_explanations_score_every_token_the_model_read(
    engine: RunningEngine, tmp_path: Path
) -> None:
    run_id = _trained(engine, tmp_path)
    text = "a great film number 3"
    plain = wb_json(engine, "predict", "--run", run_id, text)["predictions"][0]
    assert plain["explanation"] is None
    for method in ("ig", "ixg", "occlusion"):
        res = wb_json(engine, "predict", "--run", run_id, text, "--explain", method)
        pred = res["predictions"][0]
        ex = pred["explanation"]
        assert ex["method"] == method and ex["target"] == pred["label"]
        assert len(ex["scores"]) == len(pred["tokens"])
        assert pred["probabilities"] == pytest.approx(plain["probabilities"])
        in_text = [s for s, (a, b) in zip(ex["scores"], pred["spans"], strict=True) if b > a]
        assert sum(w["score"] for w in ex["words"]) == pytest.approx(sum(in_text), abs=1e-6)
    ig = wb_json(
        engine,
        "predict",
        "--run",
        run_id,
        text,
        "--explain",
        "ig",
        "--steps",
        "500",
        "--target",
        "neg",
    )["predictions"][0]["explanation"]
    c = ig["completeness"]
    assert ig["target"] == "neg" and c["steps"] == 500
    assert c["attributions_sum"] == pytest.approx(c["f_input"] - c["f_baseline"], abs=1e-3)
    shown = wb(engine, "predict", "--run", run_id, text, "--explain", "ig", "--words").stdout
    assert "ig for" in shown and "completeness: attributions sum" in shown


def test_explanation_bad_input_gets_a_clear_error(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = _trained(engine, tmp_path)
    for args, says, hint in [
        (
            ["fine", "--explain", "attention"],
            "a embedding-bag model cannot give 'attention'",
            "methods that apply to it: ig, ixg, occlusion",
        ),
        (
            ["fine", "--explain", "ig", "--target", "meh"],
            f"run {run_id} has no class 'meh'",
            "its classes: neg, pos",
        ),
        (["fine", "--explain", "ig", "--steps", "5000"], "steps must be from 1 to 2,000", None),
        (["t"] * 17 + ["--explain", "occlusion"], "explain up to 16 texts at a time", None),
    ]:
        out = wb(engine, "predict", "--run", run_id, *args, "--json")
        assert out.returncode == 1, out.stdout
        error = json.loads(out.stdout)["error"]
        assert says in error["message"], error
        if hint:
            assert error["hint"] == hint
    # the engine still answers
    assert wb_json(engine, "predict", "--run", run_id, "fine", "--explain", "ixg")["predictions"]


def test_a_fitted_run_is_explained_by_occlusion(engine: RunningEngine, tmp_path: Path) -> None:
    three_splits(engine, tmp_path)
    assert wb(engine, "train", str(features_config(tmp_path)), "--follow").returncode == 0
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    res = wb_json(
        engine, "predict", "--run", run_id, "a lovely superb film", "--explain", "occlusion"
    )
    pred = res["predictions"][0]
    ex = pred["explanation"]
    assert pred["tokens"][0] == "[CLS]" and len(ex["scores"]) == len(pred["tokens"])
    assert ex["scores"][0] == 0.0 and ex["scores"][-1] == 0.0  # [CLS] and [SEP] stay
    assert any(s != 0 for s in ex["scores"][1:-1])
