"""The engine's own calls: status, shutdown, jobs and cancelling them, and an event-rate probe."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import __version__
from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.core.device import DeviceMonitor
from engine.core.downloads import Downloads
from engine.core.errors import EngineError
from engine.core.jobs import Job, JobManager
from engine.core.limits import within
from engine.core.uploads import Uploads
from engine.paths import Home


@dataclass
class SystemService:
    """What the system calls read: who the engine is, its device, its jobs, its clients."""

    home: Home
    session_id: str
    started: float
    device: DeviceMonitor
    jobs: JobManager
    clients: Callable[[], int]  # how many clients are attached now
    stop: Callable[[], None]  # asks the engine to stop soon (thread-safe)
    uploads: Uploads = field(init=False)
    downloads: Downloads = field(init=False)

    def __post_init__(self) -> None:
        self.uploads = Uploads(self.home.data_dir)
        self.downloads = Downloads(self.home.data_dir)

    def status(self) -> P.StatusResult:
        return P.StatusResult(
            session_id=self.session_id,
            pid=os.getpid(),
            version=__version__,
            started=self.started,
            home=self.home.root,
            data_dir=str(self.home.data_dir),
            socket=str(self.home.socket),
            log_path=str(self.home.log),
            device=self.device.sample(),
            jobs=self.jobs.infos(),
            clients=self.clients(),
        )


calls: CallTable[SystemService] = CallTable("system")


@calls.on(P.Ping, run="loop")
def ping(_: SystemService, call: P.Ping) -> P.Pong:
    return P.Pong(payload=call.payload)


@calls.on(P.Status, run="loop")
def status(system: SystemService, _: P.Status) -> P.StatusResult:
    return system.status()


@calls.on(P.Shutdown, run="loop")
def shutdown(system: SystemService, _: P.Shutdown) -> P.Ok:
    system.stop()
    return P.Ok(message=f"engine {os.getpid()} stopping")


@calls.on(P.Cancel, run="loop")
def cancel(system: SystemService, call: P.Cancel) -> P.Ok:
    job = system.jobs.cancel(call.job_id)
    if job is None:
        raise EngineError(f"no job '{call.job_id}'", "list jobs with: workbench jobs", "not_found")
    if job.state not in ("queued", "running"):
        return P.Ok(message=f"job {job.id} already {job.state}")
    return P.Ok(message=f"cancelling job {job.id}")


@calls.on(P.Jobs, run="loop")
def jobs(system: SystemService, _: P.Jobs) -> P.JobList:
    return P.JobList(jobs=system.jobs.infos())


@calls.job(P.StreamEvents, kind="diagnostic", title=lambda c: f"stream {c.rate}/s")
def stream_events(_: SystemService, call: P.StreamEvents) -> JobWork:
    if call.rate <= 0 or call.seconds <= 0:
        raise EngineError("rate and seconds must be positive")
    within("rate", call.rate, 1, 1_000_000)
    within("seconds", call.seconds, 0, 600)

    def run(job: Job) -> P.Result | None:
        total = int(call.rate * call.seconds)
        t0 = time.perf_counter()
        for i in range(total):
            due = t0 + i / call.rate
            if (i & 255) == 0 or call.rate < 1000:  # a slow stream stops at once too
                job.check_cancelled()
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            job.log(f"event {i}")
            if not call.batch:
                job.progress(i + 1, total)
        return P.Ok(message=f"{total} events")

    return run


@calls.on(P.Doctor)
def doctor(_: SystemService, __: P.Doctor) -> P.DoctorResult:
    from engine.core.doctor import diagnose

    return diagnose()


@calls.on(P.FileUpload)
def upload(system: SystemService, call: P.FileUpload) -> P.UploadResult:
    return system.uploads.handle(call)


@calls.on(P.FileDownload)
def download(system: SystemService, call: P.FileDownload) -> P.DownloadChunk:
    return system.downloads.handle(call)


LOG_TAIL_BYTES = 1 << 20  # the most of the log's end read for EngineLog


@calls.on(P.EngineLog)
def engine_log(system: SystemService, call: P.EngineLog) -> P.LogTail:
    within("lines", call.lines, 1, 2000)
    path = system.home.log
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - LOG_TAIL_BYTES))
            data = f.read()
    except FileNotFoundError:
        return P.LogTail(path=str(path), lines=[], size=0)
    lines = data.decode("utf-8", "replace").splitlines()
    if size > LOG_TAIL_BYTES:
        lines = lines[1:]  # the first may be cut
    return P.LogTail(path=str(path), lines=lines[-call.lines :], size=size)
