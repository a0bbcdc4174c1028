"""Classifying texts with a trained run through a real engine and the CLI: the probabilities are
the model's own forward pass on exactly the tokens reported, a long text says how much was cut,
a fitted run predicts too, and bad input gets a clear error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from engine import protocol as P
from engine.models.service import TrainedRun, load_trained
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import features_config, three_config, three_splits
from workbench.cli.predict import cut_note, probability_bar

TEXTS = ["a great film number 3", "an awful dull film", "superb", "poor poor poor"]


def _trained(engine: RunningEngine, tmp_path: Path) -> str:
    three_splits(engine, tmp_path)
    out = wb(engine, "train", str(three_config(tmp_path)), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    return str(wb_json(engine, "runs", "list")[-1]["run_id"])


def _by_hand(home: Path, run_id: str, step: int, texts: list[str], max_length: int) -> list:  # type: ignore[type-arg]
    """(tokens, probabilities) of each text from the checkpoint's weights, without the
    engine's batching: one text at a time, its ids cut to max_length."""
    import torch
    from tokenizers import Tokenizer

    folder = home / "runs" / run_id
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    run = TrainedRun(
        run_id=run_id,
        folder=folder,
        checkpoint=folder / "checkpoints" / f"ckpt-{step}",
        arch="embedding-bag",
        params={"embed_dim": 8},
        tokenizer=tok,
        pad_id=tok.token_to_id("[PAD]"),
        labels=json.loads((folder / "labels.json").read_text()),
        description="by hand",
    )
    model = load_trained(run).model
    out = []
    with torch.inference_mode():
        for text in texts:
            enc = tok.encode(text)
            ids = torch.tensor([enc.ids[:max_length]])
            logits = model(ids, torch.ones_like(ids))
            out.append((enc.tokens[:max_length], torch.softmax(logits, -1)[0].tolist()))
    return out


def test_predictions_are_the_models_own_forward_pass(
    engine: RunningEngine, home, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_id = _trained(engine, tmp_path)
    res = wb_json(engine, "predict", "--run", run_id, *TEXTS)
    assert res["run_id"] == run_id and res["checkpoint"] == "best" and res["max_length"] == 16
    best = wb_json(engine, "runs", "show", run_id)["run"]["test_step"]  # the best checkpoint's
    assert res["step"] == best
    expected = _by_hand(home.data_dir, run_id, res["step"], TEXTS, 16)
    for pred, (tokens, proba) in zip(res["predictions"], expected, strict=True):
        assert pred["tokens"] == tokens
        assert pred["probabilities"] == pytest.approx(proba, abs=1e-6)
        assert sum(pred["probabilities"]) == pytest.approx(1.0, abs=1e-6)
        top = max(range(len(proba)), key=lambda i: proba[i])
        assert pred["label"] == res["labels"][top]
        assert not pred["truncated"] and pred["token_count"] == len(tokens)
    # each token's span is where it is in the text
    first = res["predictions"][0]
    for token, (a, b) in zip(first["tokens"], first["spans"], strict=True):
        if not token.startswith("["):
            assert TEXTS[0][a:b].lower() == token.removeprefix("##")
    # a text over max_length: cut, and said by how much
    long = " ".join(["great"] * 40)
    cut = wb_json(engine, "predict", "--run", run_id, long)["predictions"][0]
    assert cut["truncated"] and len(cut["tokens"]) == 16 and cut["token_count"] == 42
    shown = wb(engine, "predict", "--run", run_id, long).stdout
    assert "cut to 16 of its 42 tokens (max_length 16): the last 26 were not read" in shown
    assert "best checkpoint (step" in shown


def test_bad_input_gets_a_clear_error(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = _trained(engine, tmp_path)
    for args, says in [
        ([" "], "text 1 is empty: there is nothing to classify"),
        (["fine", ""], "text 2 is empty"),
        ([], "give a text to classify"),
    ]:
        out = wb(engine, "predict", "--run", run_id, *args, "--json")
        assert out.returncode == 1
        assert says in json.loads(out.stdout)["error"]["message"], out.stdout
    gone = wb(engine, "predict", "--run", "no-such-run", "fine", "--json")
    assert json.loads(gone.stdout)["error"]["code"] == "not_found"
    huge = wb(engine, "predict", "--run", run_id, "x" * 100_001, "--json")
    assert "over the 100,000 a prediction reads" in json.loads(huge.stdout)["error"]["message"]
    # the engine still answers
    assert wb_json(engine, "predict", "--run", run_id, "fine")["predictions"][0]["label"]


def test_a_run_without_a_checkpoint_says_so(engine: RunningEngine, tmp_path: Path) -> None:
    three_splits(engine, tmp_path)
    config = three_config(tmp_path, epochs=400)
    no_checkpoint = {
        "checkpoint_every = 5": "checkpoint_every = 100000",
        "eval_every = 5": "eval_every = 100000",
    }
    text = config.read_text()
    for was, now in no_checkpoint.items():  # an improved evaluation saves one too
        text = text.replace(was, now)
    config.write_text(text)
    run_id = wb_json(engine, "train", str(config))["run_id"]
    try:
        out = wb(engine, "predict", "--run", run_id, "fine", "--json")
        error = json.loads(out.stdout)["error"]
        assert error["code"] == "not_found" and "has no checkpoint yet" in error["message"]
        assert "checkpoint_every" in error["hint"]
    finally:
        wb(engine, "runs", "stop", run_id)


def test_a_fitted_run_predicts(engine: RunningEngine, tmp_path: Path) -> None:
    three_splits(engine, tmp_path)
    config = features_config(tmp_path)
    assert wb(engine, "train", str(config), "--follow").returncode == 0
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    res = wb_json(engine, "predict", "--run", run_id, "a lovely superb film", "awful dull")
    assert [p["label"] for p in res["predictions"]] == ["pos", "neg"]
    assert res["predictions"][0]["tokens"][0] == "[CLS]"


def test_bars_and_notes() -> None:
    assert probability_bar(0.0, 8) == "········"
    assert probability_bar(1.0, 8) == "████████"
    assert probability_bar(0.5, 8) == "████····"
    assert len(probability_bar(0.37, 20)) == 20
    whole = P.Prediction("a", [1.0], ["x"], [(0, 1)], token_count=1, truncated=False)
    assert cut_note(whole, 16) == ""
    cut = P.Prediction("a", [1.0], ["x"] * 16, [(0, 1)] * 16, token_count=20, truncated=True)
    assert cut_note(cut, 16) == (
        "cut to 16 of its 20 tokens (max_length 16): the last 4 were not read"
    )


def test_a_split_predicted_in_batch_scores_as_the_run_did(
    engine: RunningEngine, tmp_path: Path
) -> None:
    run_id = _trained(engine, tmp_path)
    run = wb_json(engine, "runs", "show", run_id)
    (test,) = [e for e in run["evals"] if e["split"] == "test"]
    out = tmp_path / "preds.csv"
    res = wb_json(engine, "predict", "--run", run_id, "--dataset", "three", "--out", str(out))
    assert res["rows"] == 20 and res["scored"] == 20 and res["out"] == str(out)
    assert res["step"] == run["run"]["test_step"]
    assert res["metrics"]["accuracy"] == pytest.approx(test["metrics"]["accuracy"])
    assert res["metrics"]["macro_f1"] == pytest.approx(test["metrics"]["macro_f1"])
    assert res["confusion"] == test["confusion"]
    wrong = sum(res["confusion"][i][j] for i in range(2) for j in range(2) if i != j)
    assert len(res["mistakes"]) == wrong
    sure = [m["probability"] for m in res["mistakes"]]
    assert sure == sorted(sure, reverse=True)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with out.open(newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == 20 and set(lines[0]) >= {"row", "text", "label", "predicted"}
    for line in lines:
        p = [float(line[f"p_{n}"]) for n in res["labels"]]
        assert sum(p) == pytest.approx(1.0, abs=1e-5)
        assert line["predicted"] == res["labels"][p.index(max(p))]
    right = sum(line["label"] == line["predicted"] for line in lines)
    assert right / 20 == pytest.approx(res["metrics"]["accuracy"])
    # the same texts one by one give the same probabilities
    one = wb_json(engine, "predict", "--run", run_id, lines[0]["text"])["predictions"][0]
    assert one["probabilities"] == pytest.approx(
        [float(lines[0][f"p_{n}"]) for n in res["labels"]], abs=1e-5
    )
    # the table says it too
    shown = wb(
        engine, "predict", "--run", run_id, "--dataset", "three", "--out", str(tmp_path / "b.jsonl")
    )
    assert shown.returncode == 0, shown.stderr
    assert f"accuracy {res['metrics']['accuracy']:.4f}" in shown.stdout
    assert len((tmp_path / "b.jsonl").read_text().splitlines()) == 20


def test_a_file_predicted_in_batch(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = _trained(engine, tmp_path)
    texts = tmp_path / "texts.csv"
    texts.write_text(
        "review,stars\n"
        'a great film,pos\nan awful dull film,neg\n"superb, superb",pos\nmeh,neutral\nfine,\n'
    )
    out = tmp_path / "out.jsonl"
    res = wb_json(
        engine, "predict", "--run", run_id, "--file", str(texts), "--text-column", "review",
        "--label-column", "stars", "--out", str(out),
    )  # fmt: skip
    assert res["rows"] == 5 and res["scored"] == 3 and res["unknown_labels"] == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["text"] for line in lines] == [
        "a great film", "an awful dull film", "superb, superb", "meh", "fine"
    ]  # fmt: skip
    assert lines[4]["label"] is None and set(lines[0]["probabilities"]) == set(res["labels"])
    # without labels: predicted, not scored
    plain = wb_json(
        engine, "predict", "--run", run_id, "--file", str(texts), "--text-column", "review",
        "--out", str(tmp_path / "plain.csv"),
    )  # fmt: skip
    assert plain["rows"] == 5 and plain["metrics"] == {} and plain["scored"] == 0


def test_batch_bad_input_gets_a_clear_error(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = _trained(engine, tmp_path)
    there = tmp_path / "there.csv"
    there.write_text("x")
    texts = tmp_path / "t.csv"
    texts.write_text("text\nfine\n")
    cases = [
        (["--dataset", "three", "--out", str(there)], "does not overwrite a file"),
        (["--dataset", "three", "--out", str(tmp_path / "p.txt")], "must end in .csv or .jsonl"),
        (["--dataset", "three", "--out", str(tmp_path / "no" / "p.csv")], "there is no folder"),
        (["--dataset", "three", "--split", "nope", "--out", str(tmp_path / "a.csv")], "nope"),
        (
            ["--file", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "b.csv")],
            "missing.csv",
        ),
        (["--file", str(texts), "--text-column", "body", "--out", str(tmp_path / "c.csv")], "body"),
        (["--dataset", "three"], "need --out"),
        (["fine", "--dataset", "three", "--out", str(tmp_path / "d.csv")], "not both"),
    ]
    for args, says in cases:
        got = wb(engine, "predict", "--run", run_id, *args, "--json")
        assert got.returncode != 0, args
        assert says in json.loads(got.stdout)["error"]["message"], (args, got.stdout)
    assert there.read_text() == "x"  # nothing overwritten
    assert not any(p.name.endswith(".part") for p in tmp_path.iterdir())


def test_two_runs_disagree_where_their_predictions_differ(
    engine: RunningEngine, tmp_path: Path
) -> None:
    run_a = _trained(engine, tmp_path)
    config = three_config(tmp_path, epochs=1, name="other")
    config.write_text(config.read_text().replace("seed = ", "seed = 1"))
    assert wb(engine, "train", str(config), "--follow").returncode == 0
    run_b = wb_json(engine, "runs", "list")[-1]["run_id"]
    res = wb_json(engine, "predict", "--run", run_a, "--against", run_b, "--split", "test")
    assert res["run_a"] == run_a and res["run_b"] == run_b and res["dataset"] == "three"
    assert res["rows"] - res["agreed"] == len(res["disagreements"])
    texts = [d["text"] for d in res["disagreements"]] or ["fine"]
    a = wb_json(engine, "predict", "--run", run_a, *texts)["predictions"]
    b = wb_json(engine, "predict", "--run", run_b, *texts)["predictions"]
    for d, pa, pb in zip(res["disagreements"], a, b, strict=False):
        assert (d["a_label"], d["b_label"]) == (pa["label"], pb["label"])
        assert d["a_probability"] == pytest.approx(max(pa["probabilities"]), abs=1e-6)
    tests = wb_json(
        engine,
        "predict",
        "--run",
        run_a,
        "--dataset",
        "three",
        "--split",
        "test",
        "--out",
        str(tmp_path / "a.csv"),
    )
    assert res["a_accuracy"] == pytest.approx(tests["metrics"]["accuracy"])
    same = wb(engine, "predict", "--run", run_a, "--against", run_a, "--json")
    assert "compare two different runs" in json.loads(same.stdout)["error"]["message"]
