"""Jobs: long work with an id, progress, cancellation and one end state.

Work runs off the asyncio loop. A job on the "device" lane (training, batch
attacks: GPU-heavy work) waits, queued and in order, until the devices it asks
for are free (engine.core.slots: one at a time on a CPU or one GPU, one run per
GPU beside each other on several); the "io" lane runs imports and other
disk-bound work beside it. A job's progress only marks it
dirty; the server's flusher reads dirty jobs a few tens of times a second, so
a job reporting a million steps costs the clients a few events. The manager
needs no event loop: a job's end is handed to on_end in the job's own thread
(the engine publishes it on its thread-safe event bus).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from engine import protocol as P
from engine.core.errors import Cancelled, EngineError, from_os_error
from engine.core.slots import DevicePool, visible_gpus

log = logging.getLogger("engine.jobs")

Lane = Literal["device", "io"]
JobFn = Callable[["Job"], "P.Result | None"]
_LOG_LIMIT = 100_000  # log lines kept per job between flushes; older ones are dropped
KEEP_ENDED = 200  # ended jobs remembered for status and `workbench jobs`; older ones are let go
DEVICE_THREADS = 32  # device-lane jobs started at once (most wait for a device)


class Job:
    """One unit of long work; also the JobContext handed to the work itself."""

    def __init__(self, job_id: str, kind: str, title: str, lane: Lane) -> None:
        self.id = job_id
        self.kind = kind
        self.title = title
        self.lane = lane
        self.state: P.JobState = "queued"
        self.done = 0.0
        self.total = 0.0
        self.message = ""
        self.started = time.time()
        self.ended = 0.0
        self.error: P.ErrorInfo | None = None
        self.result: P.Result | None = None
        self.dirty = True
        self._cancel = threading.Event()
        self._logs: deque[P.JobLog] = deque(maxlen=_LOG_LIMIT)
        self._log_seq = itertools.count()
        self.logs_dropped = 0
        self.devices: list[str] = []  # the devices it holds while it runs (device lane)

    # --- JobContext, called from the worker thread
    def progress(self, done: float, total: float, message: str = "") -> None:
        self.done, self.total = float(done), float(total)
        if message:
            self.message = message
        self.dirty = True

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def log(self, text: str) -> None:
        if len(self._logs) == _LOG_LIMIT:
            self.logs_dropped += 1
        self._logs.append(P.JobLog(job_id=self.id, seq=next(self._log_seq), text=text))

    # --- the engine's side
    @property
    def visible_gpus(self) -> str | None:
        """CUDA_VISIBLE_DEVICES for the processes it starts; None off a GPU."""
        return visible_gpus(self.devices)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def take_logs(self) -> list[P.JobLog]:
        out: list[P.JobLog] = []
        logs = self._logs
        while logs:
            out.append(logs.popleft())
        return out

    def info(self) -> P.JobInfo:
        return P.JobInfo(
            job_id=self.id,
            kind=self.kind,
            title=self.title,
            state=self.state,
            done=self.done,
            total=self.total,
            message=self.message,
            started=self.started,
            ended=self.ended,
        )


class JobManager:
    """Starts jobs on their lane and reports their end to on_end."""

    def __init__(
        self,
        on_end: Callable[[Job], None],
        data_dir: Path | None = None,
        devices: DevicePool | None = None,
    ) -> None:
        self._on_end = on_end  # called in the job's thread when it ends
        self.data_dir = data_dir  # where a full disk is reported
        self.devices = devices or DevicePool()
        self._ids = itertools.count(1)
        self.jobs: dict[str, Job] = {}
        self._lanes: dict[Lane, ThreadPoolExecutor] = {
            "device": ThreadPoolExecutor(DEVICE_THREADS, thread_name_prefix="device-lane"),
            "io": ThreadPoolExecutor(2, thread_name_prefix="io-lane"),
        }

    def submit(
        self,
        kind: str,
        title: str,
        fn: JobFn,
        lane: Lane = "device",
        on_done: Callable[[Job], None] | None = None,
        devices: int = 1,
        on_wait: Callable[[str], None] | None = None,
    ) -> Job:
        """Run fn(job) on its lane; on the device lane once `devices` devices are free (the
        caller checked the count with self.devices.need), telling on_wait why it waits."""
        job = Job(f"j{next(self._ids)}", kind, title, lane)
        self._prune()
        self.jobs[job.id] = job
        ticket = self.devices.ticket() if lane == "device" else 0
        self._lanes[lane].submit(self._run, job, fn, on_done, ticket, devices, on_wait)
        log.info("job %s queued: %s (%s lane)", job.id, title, lane)
        return job

    def _run(
        self,
        job: Job,
        fn: JobFn,
        on_done: Callable[[Job], None] | None,
        ticket: int = 0,
        devices: int = 1,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if ticket:
            try:
                job.devices = self.devices.acquire(
                    ticket, devices, lambda: job.cancel_requested, self._waiting(job, on_wait)
                )
                log.info("job %s has %s", job.id, ", ".join(job.devices))
            except Cancelled:
                pass
            except Exception as exc:  # never: the pool's own failure ends only this job
                log.exception("job %s: no device", job.id)
                job.error = P.error("internal", f"{job.title}: no device: {exc}")
                job.cancel()
        try:
            self._work(job, fn, on_done)
        finally:
            if job.devices:
                self.devices.release(job.devices)
            elif ticket:
                self.devices.forget(ticket)

    @staticmethod
    def _waiting(job: Job, on_wait: Callable[[str], None] | None) -> Callable[[str], None]:
        def say(message: str) -> None:
            job.message = message
            job.dirty = True
            if on_wait is not None:
                try:
                    on_wait(message)
                except Exception:
                    log.exception("job %s: telling why it waits failed", job.id)

        return say

    def _work(self, job: Job, fn: JobFn, on_done: Callable[[Job], None] | None) -> None:
        if job.cancel_requested:
            job.state = "cancelled"
        else:
            job.message = ""
            job.state = "running"
            job.started = time.time()
            job.dirty = True
            try:
                job.result = fn(job)
                job.state = "done"
            except Cancelled:
                job.state = "cancelled"
                job.error = P.error("cancelled", f"{job.title}: cancelled")
            except EngineError as exc:
                job.state = "failed"
                job.error = P.error(exc.code, exc.message, exc.hint)
            except OSError as exc:
                typed = from_os_error(exc, self.data_dir)
                if typed is None:
                    log.error("job %s failed:\n%s", job.id, traceback.format_exc())
                job.state = "failed"
                job.error = (
                    P.error(typed.code, typed.message, typed.hint)
                    if typed is not None
                    else P.error(
                        "internal",
                        f"{job.title} failed: {type(exc).__name__}: {exc}",
                        "the engine log has the details: workbench engine logs",
                    )
                )
            except MemoryError:
                job.state = "failed"
                job.error = P.error(
                    "out_of_memory",
                    f"{job.title}: ran out of memory",
                    "close other work or use a smaller input",
                )
            except Exception as exc:  # a bug: keep the engine up and say where to look
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
                job.state = "failed"
                job.error = P.error(
                    "internal",
                    f"{job.title} failed: {type(exc).__name__}: {exc}",
                    "the engine log has the details: workbench engine logs",
                )
        if on_done is not None:
            try:
                on_done(job)
            except Exception:
                log.exception("job %s: completion hook failed", job.id)
        job.ended = time.time()
        job.dirty = True
        log.info("job %s ended: %s", job.id, job.state)
        try:
            self._on_end(job)
        except Exception:
            log.exception("job %s: reporting its end failed", job.id)

    def _prune(self) -> None:
        """Forget the oldest ended jobs beyond KEEP_ENDED (dicts keep insertion order)."""
        ended = [j.id for j in list(self.jobs.values()) if j.state not in ("queued", "running")]
        for job_id in ended[: max(0, len(ended) - KEEP_ENDED)]:
            self.jobs.pop(job_id, None)

    def cancel(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is not None and job.state in ("queued", "running"):
            job.cancel()
        return job

    def active(self) -> list[Job]:
        return [j for j in list(self.jobs.values()) if j.state in ("queued", "running")]

    def infos(self) -> list[P.JobInfo]:
        return [j.info() for j in list(self.jobs.values())]

    def shutdown(self) -> None:
        for job in self.active():
            job.cancel()
        for pool in self._lanes.values():
            pool.shutdown(wait=False, cancel_futures=True)
