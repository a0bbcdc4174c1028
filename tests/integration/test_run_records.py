"""What a run records beside its curves, through a real engine: the test score of its best
checkpoint, a confusion cell's examples, time trained apart from wall time, epochs of
evaluations, rename and delete, and a fitted run's checkpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from engine import protocol as P
from engine.training.checkpoint import list_checkpoints, resolve_checkpoint
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import features_config
from tests.helpers.runs import three_config as _config
from tests.helpers.runs import three_splits as _dataset
from workbench.engine.client import EngineClient, EngineError


async def _ask(engine: RunningEngine, call: P.Returns[object]) -> object:
    client = EngineClient(engine.home)
    await client.connect(start=False)
    try:
        return await client.ask(call, timeout=30)
    finally:
        await client.close()


def test_best_checkpoint_scored_on_test_and_cells_list_examples(
    engine: RunningEngine, tmp_path: Path
) -> None:
    _dataset(engine, tmp_path)
    out = wb(engine, "train", str(_config(tmp_path)), "--follow")
    assert out.returncode == 0, out.stderr[-2000:]
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    hist = wb_json(engine, "runs", "show", run_id)
    run = hist["run"]
    tests = [e for e in hist["evals"] if e["split"] == "test"]
    vals = [e for e in hist["evals"] if e["split"] == "validation"]
    assert len(tests) == 1 and len(vals) >= 2
    (test,) = tests
    assert sum(map(sum, test["confusion"])) == 20  # every test row, once
    assert run["test"] == test["metrics"] and run["test_step"] == test["step"]
    best = max(vals, key=lambda e: (e["metrics"]["accuracy"], -e["step"]))
    assert test["step"] == best["step"]  # the best checkpoint, not the last
    assert "summary" in run and "lr 0.05" in run["summary"] and "batch 8" in run["summary"]
    # an evaluation is recorded at the epoch the steps reached, not one behind
    epochs = dict((s, v) for s, v in hist["series"]["epoch"])
    for e in vals:
        assert e["epoch"] == pytest.approx(epochs[e["step"]])
    assert vals[-1]["epoch"] == pytest.approx(2.0)
    # a confusion cell lists exactly the examples it counts
    labels = best["labels"]
    total = 0
    for t, true in enumerate(labels):
        for p, predicted in enumerate(labels):
            cell = wb_json(
                engine, "runs", "examples", run_id, "--label", true, "--predicted", predicted
            )
            assert cell["total"] == best["confusion"][t][p], (true, predicted)
            assert cell["step"] == best["step"]
            for ex in cell["examples"]:
                assert ex["label"] == true and ex["predicted"] == predicted
                assert 0.0 <= ex["true_probability"] <= 1.0
                assert ex["probability"] >= 0.5 - 1e-9  # two classes: the likelier one
            total += cell["total"]
    assert total == 20
    shown = wb(engine, "runs", "show", run_id)
    assert f"test (best checkpoint, step {test['step']:,})" in shown.stdout
    assert f"accuracy {test['metrics']['accuracy']:.4f}" in shown.stdout


def test_rename_and_delete(engine: RunningEngine, home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _dataset(engine, tmp_path)
    assert wb(engine, "train", str(_config(tmp_path, epochs=1)), "--follow").returncode == 0
    run_id = wb_json(engine, "runs", "list")[-1]["run_id"]
    renamed = wb_json(engine, "runs", "rename", run_id, "  baseline bag  ")
    assert "baseline bag" in renamed["ok"]
    assert wb_json(engine, "runs", "show", run_id)["run"]["name"] == "baseline bag"
    bad = wb(engine, "runs", "rename", run_id, "two\nlines")
    assert bad.returncode == 1 and "one line" in bad.stderr
    folder = home.data_dir / "runs" / run_id
    assert folder.is_dir()
    gone = wb_json(engine, "runs", "delete", run_id)
    assert run_id in gone["ok"]
    assert not folder.exists()
    assert run_id not in [r["run_id"] for r in wb_json(engine, "runs", "list")]
    again = wb(engine, "runs", "show", run_id)
    assert again.returncode == 1 and "no run" in again.stderr.lower()


def test_a_training_run_is_not_deleted(engine: RunningEngine, tmp_path: Path) -> None:
    _dataset(engine, tmp_path)
    run_id = wb_json(engine, "train", str(_config(tmp_path, epochs=100_000)))["run_id"]
    deadline = time.monotonic() + 60
    while wb_json(engine, "runs", "show", run_id)["run"]["step"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    refused = wb(engine, "runs", "delete", run_id)
    assert refused.returncode == 1 and "stop it first" in refused.stderr
    for lr in (float("inf"), float("nan"), 0.0, -1.0):
        with pytest.raises(EngineError) as err:
            asyncio.run(_ask(engine, P.RunControl(run_id=run_id, action="set_lr", lr=lr)))
        assert "finite number above 0" in err.value.message
    assert wb(engine, "runs", "stop", run_id).returncode == 0


def test_time_trained_and_first_start_survive_a_kill_and_resume(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        _dataset(engine, tmp_path)
        run_id = wb_json(engine, "train", str(_config(tmp_path, epochs=400)))["run_id"]
        ckpts = home.data_dir / "runs" / run_id / "checkpoints"
        deadline = time.monotonic() + 120
        while len(list_checkpoints(ckpts)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.5)  # past a store of the run's step and time trained
        before = wb_json(engine, "runs", "show", run_id)["run"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_engine(proc)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        stored = wb_json(engine, "runs", "show", run_id)["run"]
        assert stored["state"] == "interrupted"
        assert stored["active"] > 0 and stored["started"] == before["started"]
        time.sleep(1.1)
        wb_json(engine, "runs", "resume", run_id)
        while wb_json(engine, "runs", "show", run_id)["run"]["state"] in ("queued",):
            time.sleep(0.05)
        wb(engine, "runs", "stop", run_id)
        deadline = time.monotonic() + 60
        while (run := wb_json(engine, "runs", "show", run_id)["run"])["state"] != "stopped":
            assert time.monotonic() < deadline, run
            time.sleep(0.1)
        assert run["started"] == before["started"]  # wall time counts from the first start
        assert run["resumed"] >= before["started"] + 1  # this session started later
        wall = run["ended"] - run["started"]
        assert 0 < stored["active"] <= run["active"] < wall  # the dead time is not training
        hist = wb_json(engine, "runs", "show", run_id)
        times = hist["times"]
        assert [s for s, _ in times] == sorted({s for s, _ in times})  # one time per step
        assert times[0][1] >= run["started"] - 1 and times[-1][1] <= run["ended"] + 1
    finally:
        stop_engine(proc)


def test_a_fitted_run_has_a_checkpoint_and_a_test_score(
    engine: RunningEngine, home, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _dataset(engine, tmp_path)
    config = features_config(tmp_path)
    assert wb(engine, "train", str(config), "--follow").returncode == 0
    run = wb_json(engine, "runs", "list")[-1]
    assert run["metric"] == "accuracy" and run["test"]["accuracy"] > 0.8, run
    ckpts = home.data_dir / "runs" / run["run_id"] / "checkpoints"
    assert resolve_checkpoint(ckpts, "best").name == "ckpt-1"
    cell = wb_json(engine, "runs", "examples", run["run_id"], "--split", "test")
    assert cell["total"] == 20 and cell["step"] == 1
    exported = wb_json(engine, "runs", "export", run["run_id"], str(tmp_path / "out"))
    assert "exported ckpt-1" in exported["ok"]
