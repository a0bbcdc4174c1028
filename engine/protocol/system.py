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


class GpuInfo(Base):
    """One CUDA device as the engine's torch sees it."""

    index: int
    name: str
    capability: str  # compute capability, "9.0"
    memory_total: int  # bytes
    memory_free: int
    bf16: bool
    fp16: bool


class DoctorResult(Base, tag="system.doctor"):
    """What the engine's machine can train on, and what the engine would pick."""

    host: str
    python: str
    torch: str
    picked: str  # the device runs train on: cuda, mps or cpu
    picked_why: str
    cuda_available: bool
    cuda_version: str  # the CUDA torch was built with ("" for a CPU build)
    cudnn_version: str
    driver_version: str  # from NVML ("" where NVML is missing)
    nvml: str  # "available", or why not
    gpus: list[GpuInfo]
    mps_available: bool
    cpu_count: int
    threads: int  # torch's intra-op threads
    bf16_cpu: bool  # the CPU has native bf16 (avx512_bf16 or AMX)
    memory_total: int  # system RAM, bytes
    memory_available: int
    distributed: list[str]  # torch.distributed backends this build has (gloo, nccl, mpi)
    torchrun: str  # the torchrun beside the engine's python, "" when missing
    env: dict[str, str]  # the settings that change what runs where (CUDA_VISIBLE_DEVICES...)
    problems: list[str]  # what stands in the way, in words


class Doctor(Returns[DoctorResult], tag="system.doctor"):
    """The engine's machine and devices, for `workbench doctor`."""


class UploadResult(Base, tag="system.uploaded"):
    upload_id: str
    received: int  # bytes the engine holds of it
    path: str = ""  # where the file is on the engine's machine, once the final chunk is in


class FileUpload(Returns[UploadResult], tag="system.upload"):
    """A file from the client's machine to the engine's (which may be another machine), in
    chunks. The first chunk (no upload_id) names the file and its whole size; each chunk's
    data goes at offset, which must be what the engine holds so far (a resumed upload asks
    again with the offset the engine said); final closes it and the result gives the path on
    the engine's machine (paths in every other call mean that machine). discard drops an
    upload: a cancel, or the client done with it."""

    name: str = ""
    upload_id: str = ""
    offset: int = 0
    data: bytes = b""
    total: int = 0
    final: bool = False
    discard: bool = False


DOWNLOAD_CHUNK = 4 * 2**20  # bytes a download chunk asks for unless it says otherwise


class StagedFile(Base):
    """One file of a staged download: its path inside the download ("/" between folders),
    its size and its SHA-256 (hex), for the client to check what it wrote."""

    name: str
    size: int
    sha256: str


class DownloadReady(Base, tag="system.download_ready"):
    """A folder the engine staged for a client on another machine to fetch (system.download)."""

    download_id: str
    files: list[StagedFile]
    total: int  # bytes in all its files
    folder: str  # where it is staged, on the engine's machine (the message names it)
    message: str = ""  # what making it said (an export's "exported ckpt-4 to ...")


class DownloadChunk(Base, tag="system.downloaded"):
    download_id: str
    name: str = ""
    offset: int = 0
    data: bytes = b""  # shorter than asked only at the file's end
    size: int = 0  # the whole file's bytes


class FileDownload(Returns[DownloadChunk], tag="system.download"):
    """Bytes of one file of a staged download (DownloadReady), from the engine's machine to the
    client's: name is one of the files the download listed, size at most 16 MiB, any offset
    (a retried chunk is read again). release ends the download and the engine deletes its
    folder: when the client has every file, or gives up. A download no chunk is asked of for
    30 minutes is deleted too, and every staged folder when an engine starts."""

    download_id: str
    name: str = ""
    offset: int = 0
    size: int = DOWNLOAD_CHUNK
    release: bool = False


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
