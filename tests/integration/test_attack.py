"""Attacking a trained run through a real engine and the CLI: every successful adversarial text
really flips the run's prediction when predicted again from text, the summary table is what
its examples say, the CSV has TextAttack's columns, two runs compare side by side, and bad input
gets a clear error."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import features_config, three_config, three_splits
from workbench.attack_report import COLUMNS

RECIPES = {"fgsm", "pgd", "cw", "hotflip", "wordsub", "charedit"}


@pytest.fixture
def run_id(engine: RunningEngine, tmp_path: Path) -> str:
    three_splits(engine, tmp_path)
    out = wb(engine, "train", str(three_config(tmp_path, epochs=3)), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    return str(wb_json(engine, "runs", "list")[-1]["run_id"])


def _error(engine: RunningEngine, *args: str) -> dict:  # type: ignore[type-arg]
    out = wb(engine, *args, "--json")
    assert out.returncode != 0, out.stdout[-1000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])["error"]  # type: ignore[no-any-return]


def test_recipes_list_every_attack_with_its_settings(engine: RunningEngine) -> None:
    res = wb_json(engine, "attack", "recipes")
    names = {r["name"] for r in res["recipes"]}
    assert names == RECIPES
    for r in res["recipes"]:
        assert r["settings"], r["name"]
        assert r["needs_gradients"] == (r["kind"] != "black-box"), r["name"]
    text = wb(engine, "attack", "recipes")
    assert text.returncode == 0 and "charedit" in text.stdout and "epsilon" in text.stdout


@pytest.mark.parametrize("recipe", ["charedit", "pgd"])
def test_successful_attacks_flip_the_prediction_from_text(
    engine: RunningEngine, run_id: str, recipe: str, tmp_path: Path
) -> None:
    out_csv = tmp_path / "log.csv"
    res = wb_json(
        engine, "attack", "--run", run_id, "--recipe", recipe, "--n", "12", "--csv", str(out_csv)
    )
    s, examples = res["summary"], res["examples"]
    assert len(examples) == s["examples"] == 12
    assert s["successful"] + s["failed"] + s["skipped"] == 12
    assert res["dataset"] == "three" and res["split"] == "test"
    won = [e for e in examples if e["result_type"] == "Successful"]
    assert won, "the attack flipped nothing on a tiny model"
    again = wb_json(engine, "predict", "--run", run_id, *[e["perturbed_text"] for e in won])
    for e, pred in zip(won, again["predictions"], strict=True):
        assert pred["label"] == e["perturbed_output"] != e["ground_truth_output"]
        assert pred["probabilities"] == pytest.approx(e["perturbed_probabilities"], abs=1e-5)
        assert e["perturbed_text"] != e["original_text"]
    # the table, recomputed from the examples
    right = sum(e["original_output"] == e["ground_truth_output"] for e in examples)
    still = sum(e["perturbed_output"] == e["ground_truth_output"] for e in examples)
    attacked = [e for e in examples if e["result_type"] != "Skipped"]
    assert s["original_accuracy"] == pytest.approx(100 * right / 12, abs=0.01)
    assert s["accuracy_under_attack"] == pytest.approx(100 * still / 12, abs=0.01)
    assert s["attack_success_rate"] == pytest.approx(100 * len(won) / len(attacked), abs=0.01)
    queries = sum(e["num_queries"] for e in attacked) / len(attacked)
    assert s["avg_queries"] == pytest.approx(queries, abs=0.01)
    pct = [100 * e["perturbed_words"] / e["words"] for e in won]
    assert s["avg_perturbed_word_pct"] == pytest.approx(sum(pct) / len(pct), abs=0.01)
    if recipe == "pgd":
        assert s["norm"] and s["epsilon"] is not None
        assert s["snapped_flip_rate"] == s["attack_success_rate"]
        assert s["embedding_flip_rate"] is not None
    # the CSV: TextAttack's columns, one row per example
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == COLUMNS and len(rows) == 12
    assert [r["result_type"] for r in rows] == [e["result_type"] for e in examples]


def test_one_text_targeted_ensemble_and_side_by_side(
    engine: RunningEngine, run_id: str, tmp_path: Path
) -> None:
    res = wb_json(engine, "attack", "--run", run_id, "--recipe", "wordsub", "a great film number 3")
    (e,) = res["examples"]
    assert e["row"] == -1 and e["original_text"] == "a great film number 3"
    assert e["ground_truth_output"] == e["original_output"]  # no label: the model's own answer
    target = next(x for x in res["labels"] if x != e["original_output"])
    aimed = wb_json(
        engine,
        "attack",
        "--run",
        run_id,
        "--recipe",
        "charedit",
        "--target",
        target,
        "--n",
        "6",
    )
    for ex in aimed["examples"]:
        if ex["result_type"] == "Successful":
            assert ex["perturbed_output"] == target
    out = wb(engine, "train", str(three_config(tmp_path, epochs=1, name="other")), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    other = str(wb_json(engine, "runs", "list")[-1]["run_id"])
    both = wb_json(
        engine,
        "attack",
        "--run",
        run_id,
        "--recipe",
        "charedit",
        "--n",
        "4",
        "--against",
        other,
    )
    assert both["a"]["run_id"] == run_id and both["b"]["run_id"] == other
    assert both["a"]["summary"]["examples"] == both["b"]["summary"]["examples"] == 4
    e = _error(engine, "attack", "--run", run_id, "--recipe", "pgd", "--ensemble", other)
    assert "needs the model's gradients" in e["message"] and "charedit" in e["hint"]
    voted = wb_json(
        engine,
        "attack",
        "--run",
        run_id,
        "--recipe",
        "charedit",
        "--n",
        "4",
        "--ensemble",
        other,
    )
    assert voted["ensemble"] == [other] and "ensemble of 2" in voted["description"]
    text = wb(engine, "attack", "--run", run_id, "--recipe", "charedit", "--n", "4")
    assert text.returncode == 0, text.stderr[-1000:]
    assert "Attack success rate:" in text.stdout and "Avg num queries:" in text.stdout


def test_bad_attacks_are_refused_with_what_to_do(
    engine: RunningEngine, run_id: str, tmp_path: Path
) -> None:
    base = ("attack", "--run", run_id)
    kept = tmp_path / "kept.csv"
    kept.write_text("mine\n")
    e = _error(engine, *base, "--recipe", "charedit", "--csv", str(kept))
    assert "is there already" in e["message"] and kept.read_text() == "mine\n"
    e = _error(engine, *base, "--recipe", "nope")
    assert "no attack recipe 'nope'" in e["message"] and "charedit" in e["hint"]
    e = _error(engine, *base, "--recipe", "charedit", "--budget", "0")
    assert "budget" in e["message"]
    e = _error(engine, *base, "--recipe", "charedit", "--n", "0")
    assert "n must be from 1" in e["message"]
    e = _error(engine, *base, "--recipe", "pgd", "--set", "epsilon=-1")
    assert "epsilon" in e["message"]
    e = _error(engine, *base, "--recipe", "pgd", "--set", "steps=100000")
    assert "steps" in e["message"]
    e = _error(engine, *base, "--recipe", "charedit", "--set", "colour=blue")
    assert "no setting 'colour'" in e["message"]
    e = _error(engine, *base, "--recipe", "charedit", "--target", "maybe")
    assert "no class 'maybe'" in e["message"] and "pos" in e["hint"]
    e = _error(engine, *base, "--recipe", "charedit", "--split", "nosuch")
    assert "nosuch" in e["message"]
    e = _error(engine, *base, "--recipe", "pgd", "--ensemble", run_id)
    assert "named twice" in e["message"]
    e = _error(engine, *base, "--recipe", "charedit", "")
    assert "empty" in e["message"]
    # the engine is still there and still attacks
    ok = wb_json(engine, "attack", "--run", run_id, "--recipe", "charedit", "--n", "2")
    assert ok["summary"]["examples"] == 2


def test_black_box_recipes_attack_fitted_runs_and_folders(
    engine: RunningEngine, run_id: str, tmp_path: Path
) -> None:
    out = wb(engine, "train", str(features_config(tmp_path)), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    fitted = str(wb_json(engine, "runs", "list")[-1]["run_id"])
    res = wb_json(engine, "attack", "--run", fitted, "--recipe", "charedit", "--n", "4")
    assert res["summary"]["examples"] == 4 and "features-logreg" in res["description"]
    for e in res["examples"]:
        if e["result_type"] == "Successful":
            again = wb_json(engine, "predict", "--run", fitted, e["perturbed_text"])
            assert again["predictions"][0]["label"] == e["perturbed_output"]
    folder = tmp_path / "exported"
    assert wb(engine, "runs", "export", run_id, str(folder)).returncode == 0
    res = wb_json(
        engine,
        "attack",
        "--run",
        str(folder),
        "--recipe",
        "wordsub",
        "--n",
        "4",
        "--dataset",
        "three",
    )
    assert res["run_id"] == str(folder) and res["summary"]["examples"] == 4
    e = _error(engine, "attack", "--run", str(folder), "--recipe", "wordsub", "--n", "4")
    assert "no dataset of its own" in e["message"]
