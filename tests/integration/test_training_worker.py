"""Every run trains in its own worker process: killing it (as the kernel's OOM killer would)
ends that run, marked failed with the reason, and never the engine; the run resumes from its
last checkpoint; controls reach the worker; the engine's end takes its workers with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY


def endless(tmp: Path, every: int) -> Path:
    """A run that trains until it is stopped (a checkpoint every `every` steps)."""
    path = tmp / "endless.toml"
    text = TINY.format(steps=0, every=every).replace("max_steps = 0\n", "")
    path.write_text(text.replace("epochs = 1", "epochs = 1000000"))
    return path


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc."""
    out: dict[int, tuple[int, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[1]), fields[0])
    return out


def alive(pid: int) -> bool:
    found = processes().get(pid)
    return found is not None and found[1] != "Z"  # a zombie has ended


def training_worker(engine: RunningEngine) -> int:
    """The pid of the one process that trains: a child of the engine's forkserver."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        table = processes()
        children = {p for p, (parent, _) in table.items() if parent == engine.pid}
        workers = {p for p, (parent, st) in table.items() if parent in children and st != "Z"}
        if workers:
            assert len(workers) == 1, workers
            return workers.pop()
        time.sleep(0.05)
    raise AssertionError("no training worker process appeared")


def wait_step(engine: RunningEngine, run_id: str, step: int) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = wb_json(engine, "runs", "show", run_id)["run"]
        if run["step"] >= step or run["state"] not in ("queued", "running"):
            return run  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not reach step {step}")


def test_a_killed_worker_fails_its_run_and_never_the_engine(
    engine: RunningEngine, tmp_path: Path
) -> None:
    run_id = wb_json(engine, "train", str(endless(tmp_path, 20)))["run_id"]
    wait_step(engine, run_id, 25)  # a checkpoint (every 20) is behind it
    worker = training_worker(engine)
    assert worker != engine.pid
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = wb_json(engine, "runs", "show", run_id)["run"]
        if run["state"] != "running":
            break
        time.sleep(0.1)
    assert run["state"] == "failed", run
    assert "killed by SIGKILL" in run["message"] and "out of memory" in run["message"]
    assert engine.alive()
    assert wb_json(engine, "engine", "status")["pid"] == engine.pid  # the same engine answers
    # the run resumes from its last checkpoint, in a new worker, and is stopped through it
    wb_json(engine, "runs", "resume", run_id)
    again = wait_step(engine, run_id, 45)
    assert again["state"] == "running", again
    second = training_worker(engine)
    assert second != worker
    paused = wb_json(engine, "runs", "pause", run_id)
    assert paused["ok"].endswith("is paused"), paused
    step = wb_json(engine, "runs", "show", run_id)["run"]["step"]
    time.sleep(1.0)
    assert wb_json(engine, "runs", "show", run_id)["run"]["step"] <= step + 1  # it waits
    assert wb(engine, "runs", "continue", run_id).returncode == 0
    wait_step(engine, run_id, step + 5)
    assert wb(engine, "runs", "stop", run_id).returncode == 0
    deadline = time.monotonic() + 60
    while wb_json(engine, "runs", "show", run_id)["run"]["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    final = wb_json(engine, "runs", "show", run_id)["run"]
    assert final["state"] == "stopped", final


def test_the_engine_s_end_takes_its_workers_with_it(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        run_id = wb_json(engine, "train", str(endless(tmp_path, 50)))["run_id"]
        wait_step(engine, run_id, 5)
        worker = training_worker(engine)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker), "the worker outlived its engine"
    finally:
        stop_engine(proc)


def test_runs_train_side_by_side_on_free_devices_and_the_rest_wait(
    home,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Two devices (the CPU counted twice, as two GPUs would be): two runs train at once, each
    in its own worker; a third waits queued, saying why, and starts when one ends."""
    monkeypatch.setenv("WORKBENCH_CPU_RUNS", "2")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        config = str(endless(tmp_path, 1000))
        first, second, third = (wb_json(engine, "train", config)["run_id"] for _ in range(3))
        wait_step(engine, first, 3)
        wait_step(engine, second, 3)
        shown = {r: wb_json(engine, "runs", "show", r)["run"] for r in (first, second, third)}
        assert [shown[r]["state"] for r in (first, second, third)] == [
            "running",
            "running",
            "queued",
        ]
        waiting = [j for j in wb_json(engine, "jobs") if j["state"] == "queued"]
        assert [j["message"] for j in waiting] == ["waiting for a device: 2 of 2 in use"]
        assert shown[third]["message"] == "waiting for a device: 2 of 2 in use"  # its header
        assert wb(engine, "runs", "stop", first).returncode == 0
        third_run = wait_step(engine, third, 3)
        assert third_run["state"] == "running"
        assert wb_json(engine, "runs", "show", second)["run"]["state"] == "running"
        for run_id in (second, third):
            assert wb(engine, "runs", "stop", run_id).returncode == 0
    finally:
        stop_engine(proc)
