"""The engine itself: liveness, status, shutdown, jobs, the device, and registry changes."""

from __future__ import annotations

from typing import Literal

from engine.protocol.base import Base, Ok, Returns, StartsJob

# --------------------------------------------------------------------- values


class DeviceInfo(Base):
    name: str
    kind: Literal["cuda", "mps", "cpu", "unknown"]
    memory_used: int = 0  # bytes; for cpu: system RAM in use
    memory_total: int = 0
    utilisation: float | None = None  # percent, where NVML (or /proc/stat) says
    detail: str = ""


JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class JobInfo(Base):
    job_id: str
    kind: str
    title: str
    state: JobState
    done: float = 0.0
    total: float = 0.0
    message: str = ""
    started: float = 0.0  # unix time: queued, then set again when it starts running
    ended: float = 0.0  # unix time (0 while it has not ended)


# --------------------------------------------------------------------- results


class Pong(Base, tag="system.pong"):
    payload: bytes = b""


class StatusResult(Base, tag="system.state"):
    session_id: str
    pid: int
    version: str
    started: float
    home: str
    data_dir: str
    socket: str
    log_path: str
    device: DeviceInfo
    jobs: list[JobInfo]
    clients: int


class JobList(Base, tag="jobs.listing"):
    jobs: list[JobInfo]


class LogTail(Base, tag="system.log_lines"):
    path: str  # the engine's log file, on the engine's machine
    lines: list[str]  # its last lines, oldest first
    size: int  # bytes in the file


# --------------------------------------------------------------------- calls


class Ping(Returns[Pong], tag="system.ping"):
    payload: bytes = b""


class Status(Returns[StatusResult], tag="system.status"):
    pass


class Shutdown(Returns[Ok], tag="system.shutdown"):
    pass


class StreamEvents(StartsJob[Ok], tag="system.stream_events"):
    """Diagnostics: a job that emits `rate` log events a second for `seconds`."""

    rate: int = 1000
    seconds: float = 1.0
    batch: bool = True  # False: report each event as a separate progress point


class Cancel(Returns[Ok], tag="jobs.cancel"):
    job_id: str


class Jobs(Returns[JobList], tag="jobs.list"):
    pass


class EngineLog(Returns[LogTail], tag="system.log"):
    """The last lines of the engine's log (1 to 2000), for an app far from its files."""

    lines: int = 200


# --------------------------------------------------------------------- events
# (JobEnded carries any result, so it is defined beside the Result union in __init__.)


class JobProgress(Base, tag="jobs.progress"):
    job: JobInfo


class JobLog(Base, tag="jobs.log"):
    job_id: str
    seq: int
    text: str


class DeviceUpdate(Base, tag="system.device"):
    device: DeviceInfo
    jobs_running: int = 0


CatalogKind = Literal["datasets", "tokenizers", "vectors", "runs", "models"]


class CatalogChanged(Base, tag="system.catalog"):
    """One registry changed: a dataset, tokenizer, vector source, run or trained model was
    added, updated (re-split, renamed, newly checkpointed) or deleted."""

    kind: CatalogKind
    name: str
    change: Literal["added", "updated", "deleted"]
