"""A run on two nodes, both on 127.0.0.1 with gloo: the engine's machine is node 0, a second
torchrun joins with `workbench join` from the run's join.json (its ranks reach the engine over
TCP and work in a folder of their own, as on another machine). The curve is the one-process
run's at the same global batch; a resume sends the joined node its checkpoint; a joined node
killed mid-run ends the run with that reason, and the engine goes on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import ROOT, wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.integration.test_training_ddp import config

pytestmark = pytest.mark.skipif(
    not Path(sys.executable).with_name("torchrun").is_file(), reason="no torchrun beside python"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_nodes(tmp: Path, name: str, steps: int = 20, endless: bool = False) -> Path:
    path = config(tmp, name, 1, steps=steps, endless=endless)
    text = path.read_text().replace(
        "devices = 1", f'devices = 1\nnodes = 2\nrdzv_endpoint = "127.0.0.1:{free_port()}"'
    )
    path.write_text(text)
    return path


def join_file(engine: RunningEngine, run_id: str) -> Path:
    path = Path(engine.home.data_dir) / "runs" / run_id / "join.json"
    deadline = time.monotonic() + 60
    while not path.is_file():
        assert time.monotonic() < deadline, "the run wrote no join.json"
        time.sleep(0.1)
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the run's key
    return path


def join(path: Path, *extra: str) -> subprocess.Popen[str]:
    copy = path.with_name("copy-of-join.json")  # as copied to another machine
    copy.write_bytes(path.read_bytes())
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "join", str(copy), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def descendants(pid: int) -> list[int]:
    """Every process below pid (torchrun starts its ranks in sessions of their own)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        kids = [p for p, parent in parents.items() if parent == here]
        found += kids
        todo += kids
    return found


def wait_state(engine: RunningEngine, run_id: str, seconds: float = 180) -> dict:
    deadline = time.monotonic() + seconds
    while (run := wb_json(engine, "runs", "show", run_id)["run"])["state"] in ("running", "queued"):
        assert time.monotonic() < deadline, f"the run is still {run['state']}: {run['message']}"
        time.sleep(0.3)
    return run


def test_two_nodes_train_as_one_process_does_and_resume(
    engine: RunningEngine, tmp_path: Path
) -> None:
    one = wb(engine, "train", str(config(tmp_path, "one", 1)), "--follow")
    assert one.returncode == 0, one.stderr[-1500:]
    run_id = wb_json(engine, "train", str(two_nodes(tmp_path, "two")))["run_id"]
    path = join_file(engine, run_id)
    deadline = time.monotonic() + 30
    while f"copy {path} to each" not in str(wb_json(engine, "runs", "show", run_id)):
        assert time.monotonic() < deadline, "the run does not say how to join it"
        time.sleep(0.2)
    node = join(path)
    said, _ = node.communicate(timeout=180)
    assert node.returncode == 0, said[-2000:]
    assert f"joined run {run_id} as node 1 of 2" in said
    run = wait_state(engine, run_id)
    assert run["state"] == "finished", run["message"]
    assert run["step"] == 20
    runs = {r["name"]: r["run_id"] for r in wb_json(engine, "runs", "list")}
    a = wb_json(engine, "runs", "show", runs["one"])["series"]["train_loss"]
    b = wb_json(engine, "runs", "show", run_id)["series"]["train_loss"]
    assert [s for s, _ in b] == list(range(1, 21))  # rank 0 alone reports: once per step
    assert [v for _, v in b] == pytest.approx([v for _, v in a], abs=1e-3)
    assert not (Path(engine.home.data_dir) / "runs" / run_id / "join.json").exists()

    # stopped partway, resumed on two nodes again: the joined node is sent the checkpoint
    long_id = wb_json(engine, "train", str(two_nodes(tmp_path, "long", endless=True)))["run_id"]
    node = join(join_file(engine, long_id))
    deadline = time.monotonic() + 120
    while wb_json(engine, "runs", "show", long_id)["run"]["step"] < 12:
        assert time.monotonic() < deadline, "the two nodes did not train"
        time.sleep(0.2)
    assert wb(engine, "runs", "stop", long_id).returncode == 0
    run = wait_state(engine, long_id)
    assert run["state"] == "stopped", run["message"]
    node.communicate(timeout=60)
    stopped_at = run["step"]
    wb_json(engine, "runs", "resume", long_id)
    node = join(join_file(engine, long_id), "--node-rank", "1")
    while wb_json(engine, "runs", "show", long_id)["run"]["step"] < stopped_at + 8:
        assert time.monotonic() < deadline + 90, "the resumed nodes did not train"
        time.sleep(0.2)
    assert wb(engine, "runs", "stop", long_id).returncode == 0
    assert wait_state(engine, long_id)["state"] == "stopped"
    said, _ = node.communicate(timeout=60)
    assert node.returncode == 0, said[-2000:]
    steps = [s for s, _ in wb_json(engine, "runs", "show", long_id)["series"]["train_loss"]]
    assert steps == sorted(set(steps)) and steps[0] == 1  # one line through the resume


def test_a_lost_node_ends_the_run_with_the_reason(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = wb_json(engine, "train", str(two_nodes(tmp_path, "lost", endless=True)))["run_id"]
    path = join_file(engine, run_id)
    wrong = path.with_name("wrong.json")
    info = json.loads(path.read_text())
    wrong.write_text(json.dumps({**info, "key": "ab" * 32}))  # another run's key
    bad = subprocess.run(
        [sys.executable, "-m", "workbench", "join", str(wrong)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "refused the key" in bad.stderr, bad.stderr
    taken = subprocess.run(
        [sys.executable, "-m", "workbench", "join", str(path), "--node-rank", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 1 and "node rank 5 is not free" in taken.stderr, taken.stderr
    node = join(path)
    deadline = time.monotonic() + 120
    while wb_json(engine, "runs", "show", run_id)["run"]["step"] < 5:
        assert time.monotonic() < deadline, "the two nodes did not train"
        time.sleep(0.2)
    for pid in [*descendants(node.pid), node.pid]:  # the other machine gone, its ranks too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.communicate(timeout=30)
    run = wait_state(engine, run_id, 120)
    assert run["state"] == "failed"
    assert "rank 1 (node 1) lost its link to the engine" in run["message"], run["message"]
    assert engine.proc.poll() is None  # the engine goes on
    assert run_id in [r["run_id"] for r in wb_json(engine, "runs", "list")]


def test_a_run_waiting_for_its_nodes_stops(engine: RunningEngine, tmp_path: Path) -> None:
    run_id = wb_json(engine, "train", str(two_nodes(tmp_path, "alone", endless=True)))["run_id"]
    path = join_file(engine, run_id)
    assert wb(engine, "runs", "stop", run_id).returncode == 0
    run = wait_state(engine, run_id, 60)
    assert run["state"] == "stopped", run["message"]
    assert "stopped while waiting for its 2 ranks to connect" in run["message"]
    assert not path.exists()  # the key is gone with the wait
