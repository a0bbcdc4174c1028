"""A run with devices = 2 through the engine: torchrun's two ranks (gloo on the CPU) train it,
rank 0 alone reports (one point per step, none twice), the curve is the one-process run's at
the same global batch, stop reaches both ranks, and the run resumes on one device."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import TINY

pytestmark = pytest.mark.skipif(
    not Path(sys.executable).with_name("torchrun").is_file(), reason="no torchrun beside python"
)


def config(tmp: Path, name: str, devices: int, steps: int = 20, endless: bool = False) -> Path:
    text = TINY.format(steps=steps, every=10).replace("tiny-bag", name)
    text = text.replace("seed = 3", f"seed = 3\ndevices = {devices}")
    if endless:
        text = text.replace(f"max_steps = {steps}\n", "").replace("epochs = 1", "epochs = 1000")
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


def test_two_devices_train_as_one_process_does(engine: RunningEngine, tmp_path: Path) -> None:
    one = wb(engine, "train", str(config(tmp_path, "one", 1)), "--follow")
    assert one.returncode == 0, one.stderr[-1500:]
    two = wb(engine, "train", str(config(tmp_path, "two", 2)), "--follow", "--json")
    assert two.returncode == 0, two.stdout[-1500:] + two.stderr[-1500:]
    runs = {r["name"]: r for r in wb_json(engine, "runs", "list")}
    assert runs["two"]["state"] == "finished", runs["two"]["message"]
    assert runs["two"]["step"] == 20
    a = wb_json(engine, "runs", "show", runs["one"]["run_id"])["series"]["train_loss"]
    b = wb_json(engine, "runs", "show", runs["two"]["run_id"])["series"]["train_loss"]
    assert [s for s, _ in b] == list(range(1, 21))  # rank 0 alone: once per step
    assert [v for _, v in b] == pytest.approx([v for _, v in a], abs=1e-3)


def test_a_stop_reaches_both_ranks_and_the_run_resumes_on_one(
    engine: RunningEngine, tmp_path: Path
) -> None:
    run_id = wb_json(engine, "train", str(config(tmp_path, "long", 2, endless=True)))["run_id"]
    deadline = time.monotonic() + 120
    while wb_json(engine, "runs", "show", run_id)["run"]["step"] < 15:
        assert time.monotonic() < deadline, "the two ranks did not train"
        time.sleep(0.2)
    assert wb(engine, "runs", "stop", run_id).returncode == 0
    while (run := wb_json(engine, "runs", "show", run_id)["run"])["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert run["state"] == "stopped", run["message"]
    stopped_at = run["step"]
    wb_json(engine, "runs", "resume", run_id, "--devices", "1")  # onto another number
    while wb_json(engine, "runs", "show", run_id)["run"]["step"] < stopped_at + 10:
        assert time.monotonic() < deadline + 60, "the resumed ranks did not train"
        time.sleep(0.2)
    assert wb(engine, "runs", "stop", run_id).returncode == 0
    series = wb_json(engine, "runs", "show", run_id)["series"]["train_loss"]
    steps = [s for s, _ in series]
    assert steps == sorted(set(steps)) and steps[0] == 1  # one line, no repeats
