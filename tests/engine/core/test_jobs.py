"""Jobs: lanes, one end state each, and a bounded memory of ended jobs."""

from __future__ import annotations

import threading

from engine import protocol as P
from engine.core.jobs import KEEP_ENDED, Job, JobManager
from engine.core.slots import DevicePool


def test_ended_jobs_are_pruned_but_running_ones_kept() -> None:
    ended: list[Job] = []
    done = threading.Event()
    manager = JobManager(
        on_end=lambda job: (ended.append(job), done.set()),
        devices=DevicePool(lambda: ["cpu:0"]),
    )
    gate = threading.Event()
    slow = manager.submit("test", "slow", lambda job: gate.wait(30) and None, lane="device")
    for i in range(KEEP_ENDED + 50):
        done.clear()
        manager.submit("test", f"quick {i}", lambda job: P.Ok(), lane="io")
        assert done.wait(10)
    manager.submit("test", "one more", lambda job: P.Ok(), lane="io")  # prunes before adding
    kept = manager.infos()
    assert slow.id in manager.jobs and slow.state == "running"
    assert len([j for j in kept if j.state == "done"]) <= KEEP_ENDED + 1
    assert manager.jobs[kept[-1].job_id].title == "one more"
    gate.set()
    manager.shutdown()
