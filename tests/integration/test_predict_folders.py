"""Predicting with a model folder instead of a run, through a real engine and the CLI: an
exported run's folder predicts what the run does, a Hugging Face sequence-classification
folder predicts and is explained (attention with eager attention too), and a folder that holds
no model, or a relative one, gets a clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import protocol as P
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.models import tiny_bert_folder
from tests.helpers.runs import three_config, three_splits
from workbench.engine.client import EngineClient, EngineError

TEXTS = ["a great film number 3", "an awful dull film"]


def test_an_exported_run_predicts_as_the_run_does(engine: RunningEngine, tmp_path: Path) -> None:
    three_splits(engine, tmp_path)
    assert wb(engine, "train", str(three_config(tmp_path)), "--follow").returncode == 0
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    folder = tmp_path / "exported"
    wb_json(engine, "runs", "export", run_id, str(folder))
    by_run = wb_json(engine, "predict", "--run", run_id, *TEXTS)
    by_folder = wb_json(engine, "predict", "--run", str(folder), *TEXTS)
    assert by_folder["checkpoint"] == "folder" and by_folder["run_id"] == str(folder)
    assert by_folder["labels"] == by_run["labels"]
    for a, b in zip(by_run["predictions"], by_folder["predictions"], strict=True):
        assert b["probabilities"] == pytest.approx(a["probabilities"], abs=1e-6)
        assert b["tokens"] == a["tokens"]
    shown = wb(engine, "predict", "--run", str(folder), TEXTS[0]).stdout
    assert f"the folder {folder}" in " ".join(shown.split())  # rich may wrap a long path
    # a batch over the run's dataset, with the folder
    res = wb_json(
        engine,
        "predict",
        "--run",
        str(folder),
        "--dataset",
        "three",
        "--split",
        "test",
        "--out",
        str(tmp_path / "p.csv"),
    )
    assert res["rows"] > 0 and "accuracy" in res["metrics"]


def test_a_hugging_face_folder_predicts_and_explains(engine: RunningEngine, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    folder = tmp_path / "hf"
    shutil.copytree(tiny_bert_folder(), folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1}
    )
    model.save_pretrained(str(folder))
    res = wb_json(
        engine, "predict", "--run", str(folder), "good fun movie", "--explain", "attention"
    )
    pred = res["predictions"][0]
    assert res["labels"] == ["bad", "good"] and pred["label"] in ("bad", "good")
    assert pred["tokens"][0] == "[CLS]"
    assert sum(pred["explanation"]["scores"]) == pytest.approx(1.0, abs=1e-5)
    ig = wb_json(engine, "predict", "--run", str(folder), "good fun movie", "--explain", "ig")
    assert ig["predictions"][0]["explanation"]["completeness"]["steps"] == 300


async def test_a_folder_without_a_model_or_a_relative_one_is_refused(
    client: EngineClient, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    for name, says in [
        (str(tmp_path / "empty"), "holds no model"),
        ("some/relative/folder", "is relative"),
        (str(tmp_path / "nowhere"), "there is no folder"),
    ]:
        with pytest.raises(EngineError) as err:
            await client.ask(P.RunPredict(run_id=name, texts=["fine"]))
        assert says in err.value.message
    # still answering
    assert (await client.ask(P.Ping())) is not None


def test_the_cli_sends_a_relative_folder_absolute(engine: RunningEngine, tmp_path: Path) -> None:
    out = wb(engine, "predict", "--run", "./no-such-folder/", "fine", "--json")
    error = json.loads(out.stdout)["error"]
    assert "there is no folder /" in error["message"]


def test_an_exported_fitted_run_predicts_as_the_run_does(
    engine: RunningEngine, tmp_path: Path
) -> None:
    from tests.helpers.runs import features_config

    three_splits(engine, tmp_path)
    assert wb(engine, "train", str(features_config(tmp_path)), "--follow").returncode == 0
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    folder = tmp_path / "fitted"
    wb_json(engine, "runs", "export", run_id, str(folder))
    by_run = wb_json(engine, "predict", "--run", run_id, *TEXTS)["predictions"]
    by_folder = wb_json(engine, "predict", "--run", str(folder), *TEXTS)["predictions"]
    for a, b in zip(by_run, by_folder, strict=True):
        assert b["probabilities"] == pytest.approx(a["probabilities"], abs=1e-6)
