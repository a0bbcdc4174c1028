"""The device queue: jobs take the devices they ask for, first come first served."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from engine import protocol as P
from engine.core.errors import EngineError
from engine.core.jobs import Job, JobManager
from engine.core.slots import CPU_RUNS_ENV, DevicePool, cpu_runs, visible_gpus


def manager(devices: list[str]) -> tuple[JobManager, list[Job]]:
    ended: list[Job] = []
    return JobManager(on_end=ended.append, devices=DevicePool(lambda: devices)), ended


def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def holding(gate: threading.Event, seen: list[str | None]) -> Callable[[Job], P.Result | None]:
    def work(job: Job) -> P.Result | None:
        seen.append(job.visible_gpus)
        gate.wait(30)
        return P.Ok()

    return work


def test_two_one_gpu_jobs_run_at_once_each_on_its_own_gpu() -> None:
    jobs, _ = manager(["cuda:0", "cuda:1"])
    both = threading.Barrier(2, timeout=10)  # broken unless the two run at the same time
    seen: list[str | None] = []

    def work(job: Job) -> P.Result | None:
        seen.append(job.visible_gpus)
        both.wait()
        return P.Ok()

    a = jobs.submit("train", "a", work, devices=1)
    b = jobs.submit("train", "b", work, devices=1)
    until(lambda: a.state == b.state == "done")
    assert sorted(seen) == ["0", "1"]
    assert jobs.devices.busy() == []
    jobs.shutdown()


def test_a_job_asking_for_more_than_are_free_waits_and_later_ones_wait_behind_it() -> None:
    jobs, _ = manager(["cuda:0", "cuda:1"])
    first, second = threading.Event(), threading.Event()
    seen: list[str | None] = []
    a = jobs.submit("train", "a", holding(first, seen), devices=1)
    until(lambda: a.state == "running")
    big = jobs.submit("train", "big", holding(second, seen), devices=2)
    small = jobs.submit("train", "small", holding(second, seen), devices=1)
    until(lambda: big.message != "" and small.message != "")
    time.sleep(0.3)  # one GPU is free, yet neither starts: big is first in line and needs two
    assert (big.state, small.state) == ("queued", "queued")
    assert big.message == "waiting for 2 devices: 1 of 2 in use"
    assert small.message == "waiting for a device: 1 job ahead"
    first.set()
    until(lambda: big.state == "running")
    assert seen == ["0", "0,1"] and small.state == "queued"
    second.set()
    until(lambda: small.state == "done" and big.state == "done")
    assert jobs.devices.busy() == []
    jobs.shutdown()


def test_a_cancelled_waiting_job_gives_up_its_place() -> None:
    jobs, ended = manager(["cpu:0"])
    gate = threading.Event()
    a = jobs.submit("train", "a", holding(gate, []))
    until(lambda: a.state == "running")
    waiting = jobs.submit("train", "waiting", holding(gate, []))
    after = jobs.submit("train", "after", holding(gate, []))
    jobs.cancel(waiting.id)
    until(lambda: waiting.state == "cancelled")
    assert waiting in ended and waiting.devices == []
    gate.set()
    until(lambda: after.state == "done")
    assert jobs.devices.busy() == []
    jobs.shutdown()


def test_a_failed_job_frees_its_devices() -> None:
    jobs, _ = manager(["cuda:0"])

    def boom(job: Job) -> P.Result | None:
        raise EngineError("it broke")

    a = jobs.submit("train", "a", boom)
    b = jobs.submit("train", "b", lambda job: P.Ok())
    until(lambda: b.state == "done")
    assert a.state == "failed" and jobs.devices.busy() == []
    jobs.shutdown()


def test_the_io_lane_never_waits_for_a_device() -> None:
    jobs, _ = manager(["cpu:0"])
    gate = threading.Event()
    a = jobs.submit("train", "a", holding(gate, []))
    until(lambda: a.state == "running")
    io = jobs.submit("import", "io", lambda job: P.Ok(), lane="io")
    until(lambda: io.state == "done")
    assert a.state == "running" and io.devices == []  # done while the one device was held
    gate.set()
    jobs.shutdown()


def test_need_refuses_more_gpus_than_the_machine_has_and_fits_the_cpu() -> None:
    gpus = DevicePool(lambda: ["cuda:0", "cuda:1"])
    assert (gpus.need(1), gpus.need(2), gpus.need(0)) == (1, 2, 1)
    with pytest.raises(EngineError) as err:
        gpus.need(4)
    assert "asks for 4 devices" in err.value.message and "has 2" in err.value.message
    assert "at most 2" in (err.value.hint or "")
    cpu = DevicePool(lambda: ["cpu:0"])
    assert cpu.need(2) == 1  # two gloo processes share the one CPU


def test_cpu_runs_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, want in [("", 1), ("3", 3), ("0", 1), ("-2", 1), ("many", 1), ("1000", 64)]:
        monkeypatch.setenv(CPU_RUNS_ENV, raw)
        assert cpu_runs() == want
    assert visible_gpus(["cuda:1", "cuda:3"]) == "1,3"
    assert visible_gpus(["cpu:0"]) is None
