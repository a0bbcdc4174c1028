"""Training runs through a real engine: CLI, history, SIGKILL then resume, refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from engine.training.checkpoint import list_checkpoints
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import ROOT, RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY, write


def test_train_follow_json_lines_and_history(engine: RunningEngine, tmp_path: Path) -> None:
    out = wb(engine, "train", str(write(tmp_path)), "--follow", "--json")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    assert any(x.get("series") == "train_loss" for x in lines)
    final = [x for x in lines if x.get("type") == "training.update"][-1]["run"]
    assert final["state"] == "finished" and final["step"] == 30
    runs = wb_json(engine, "runs", "list")
    hist = wb_json(engine, "runs", "show", runs[-1]["run_id"])
    steps = [s for s, _ in hist["series"]["train_loss"]]
    assert steps == list(range(1, 31))  # every point stored, once
    assert len(hist["evals"]) >= 3
    last = hist["evals"][-1]
    assert len(last["confusion"]) == 8 and set(last["metrics"]) >= {"accuracy", "macro_f1"}
    assert 'arch = "embedding-bag"' in hist["config_toml"]


def test_invalid_config_is_refused_before_work(engine: RunningEngine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.format(steps=10, every=5).replace("lr = 1e-2", "lr = -1"))
    out = wb(engine, "train", str(bad), "--follow")
    assert out.returncode == 1 and "learning rate must be above 0" in out.stderr
    assert wb_json(engine, "runs", "list") == []  # refused before a run existed
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(TINY.format(steps=10, every=5).replace("embed_dim", "embed_dims"))
    out = wb(engine, "train", str(unknown), "--follow")
    assert out.returncode == 1 and "embed_dims" in out.stderr


def test_sigkill_mid_run_then_resume(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        started = wb_json(engine, "train", str(write(tmp_path, steps=400, every=40)))
        run_id = started["run_id"]
        ckpts = home.data_dir / "runs" / run_id / "checkpoints"
        deadline = time.monotonic() + 120
        while not list_checkpoints(ckpts) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list_checkpoints(ckpts), "no complete checkpoint appeared"
        # kill well past the checkpoint, so that points after it were already stored
        first = list_checkpoints(ckpts)[0][0]
        while time.monotonic() < deadline:
            with sqlite3.connect(home.db) as db:
                (last,) = db.execute(
                    "SELECT max(step) FROM metrics WHERE series = 'train_loss'"
                ).fetchone()
            if last is not None and last >= first + 25:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_engine(proc)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        listed = {r["run_id"]: r for r in wb_json(engine, "runs", "list")}
        assert listed[run_id]["state"] == "interrupted"
        out = wb(engine, "runs", "resume", run_id, "--follow", "--json")
        assert out.returncode == 0, out.stderr[-2000:]
        hist = wb_json(engine, "runs", "show", run_id)
        run = hist["run"]
        assert run["state"] == "finished", run["message"]
        assert run["step"] == run["total_steps"] == 172  # 1 epoch
        for name in ("train_loss", "lr", "epoch"):
            steps = [s for s, _ in hist["series"][name]]
            assert steps == list(range(1, 173)), name  # one line: no repeats, no gaps
        eval_steps = [e["step"] for e in hist["evals"]]
        assert eval_steps == sorted(set(eval_steps))  # no evaluation stored twice
    finally:
        stop_engine(proc)
    assert ROOT.exists()


def test_trained_embedding_layer_becomes_a_vector_source(
    engine: RunningEngine, tmp_path: Path
) -> None:
    out = wb(engine, "train", str(write(tmp_path, steps=20, every=10)), "--follow")
    assert out.returncode == 0, out.stderr[-1500:]
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    src = wb_json(engine, "vectors", "from-run", run_id, "bag-emb")
    assert src["vocab_size"] == 30522 and src["dim"] == 16 and run_id in src["source"]
    near = wb_json(engine, "neighbours", "oil", "--source", "bag-emb", "--k", "5")
    assert len(near["neighbours"]) == 5 and "oil" not in [n["word"] for n in near["neighbours"]]
    again = wb(engine, "vectors", "from-run", run_id, "bag-emb")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_glove_initialises_a_frozen_embedding_layer(engine: RunningEngine, tmp_path: Path) -> None:
    config = tmp_path / "glove.toml"
    text = TINY.format(steps=12, every=6).replace(
        "embed_dim = 16", 'embed_dim = 50\nvectors = "glove-6b-50d"\nfreeze_vectors = true'
    )
    config.write_text(text)
    out = wb(engine, "train", str(config), "--follow")
    assert out.returncode == 0, out.stderr[-1500:]
    run = wb_json(engine, "runs", "list")[-1]
    assert run["frozen"] == 30522 * 50  # the whole table, frozen
    assert run["trainable"] < 30522 * 50
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(text.replace("embed_dim = 50", "embed_dim = 16"))
    refused = wb(engine, "train", str(wrong))
    assert refused.returncode == 1 and "set embed_dim = 50" in refused.stderr


def test_features_logreg_is_fitted_as_a_run(engine: RunningEngine, tmp_path: Path) -> None:
    words = {"pos": "great lovely superb fine", "neg": "awful dull boring poor"}
    rows = [
        {
            "text": f"a {words[lab].split()[i % 4]} film number {i}",
            "label": lab,
            "split": "validation" if i % 5 == 0 else "train",
        }
        for i in range(40)
        for lab in ("pos", "neg")
    ]
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    wb_json(engine, "datasets", "import", str(data), "--name", "tiny", "--split-column", "split")
    made = wb_json(engine, "datasets", "show", "tiny")
    assert made["splits"]["validation"] == 16, made
    config = tmp_path / "features.toml"
    config.write_text(
        'name = "feat"\n[data]\ndataset = "tiny"\ntokenizer = "minilm-wordpiece"\n'
        '[model]\narch = "features-logreg"\nmax_len = 16\nbatch_size = 16\n'
    )
    out = wb(engine, "train", str(config), "--follow", "--json")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    run = wb_json(engine, "runs", "list")[-1]
    assert run["state"] == "finished" and "fitted on 64 texts" in run["message"], run
    hist = wb_json(engine, "runs", "show", run["run_id"])
    assert hist["evals"] and hist["evals"][-1]["metrics"]["accuracy"] > 0.9


def _long(tmp_path: Path, name: str, epochs: int = 1_000_000) -> Path:
    path = tmp_path / f"{name}.toml"
    text = TINY.format(steps=0, every=50).replace("max_steps = 0\n", "")
    path.write_text(text.replace("epochs = 1", f"epochs = {epochs}").replace("tiny-bag", name))
    return path


def _state(engine: RunningEngine, run_id: str) -> dict[str, object]:
    return wb_json(engine, "runs", "show", run_id)["run"]  # type: ignore[no-any-return]


def _until(
    engine: RunningEngine, run_id: str, test: object, seconds: float = 60
) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        run = _state(engine, run_id)
        if test(run) or time.monotonic() > deadline:  # type: ignore[operator]
            return run
        time.sleep(0.2)


def test_a_million_epochs_start_at_once_and_stop(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = wb_json(engine, "train", str(_long(tmp_path, "huge")))["run_id"]
    run = _until(engine, run_id, lambda r: r["step"] > 0)
    assert run["step"] > 0 and run["total_steps"] == 172 * 1_000_000  # counted, not planned
    assert wb(engine, "runs", "stop", run_id).returncode == 0
    assert _until(engine, run_id, lambda r: r["state"] == "stopped")["state"] == "stopped"


def test_a_queued_run_and_one_in_set_up_stop_too(engine: RunningEngine, tmp_path: Path) -> None:
    first = wb_json(engine, "train", str(_long(tmp_path, "first")))["run_id"]
    second = wb_json(engine, "train", str(_long(tmp_path, "second")))["run_id"]
    assert _state(engine, second)["state"] == "queued"  # the device lane runs one at a time
    assert wb(engine, "runs", "stop", second).returncode == 0
    assert wb(engine, "runs", "stop", first).returncode == 0  # at once, set-up or not
    assert _until(engine, first, lambda r: r["state"] == "stopped")["state"] == "stopped"
    done = _until(engine, second, lambda r: r["state"] == "stopped")
    assert done["state"] == "stopped" and done["message"] == "stopped while queued"
    assert done["step"] == 0
