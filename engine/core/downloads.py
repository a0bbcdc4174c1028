"""Folders the engine makes for a client on another machine to fetch (system.download): an
export is written into downloads/<id>/out under the data dir (folders 0700, files 0600), its
files listed with their sizes and SHA-256, and read back in chunks by a client that names the
download and one of those files.

Only the files listed when the folder was staged can be read: a name is looked up in that
list, never joined to a path as given, and each is opened one folder at a time without
following a link (a link in a staged folder refuses the whole download). A chunk is at most
CHUNK_MAX. The folder is deleted on release (the client has it all, or gave up), after IDLE
seconds with no chunk asked, and every staged folder when an engine starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import protocol as P
from engine.core.calls import CallTable
from engine.core.errors import EngineError

log = logging.getLogger("engine")

CHUNK_MAX = 16 * 2**20  # bytes in one chunk (a frame holds 64 MiB)
IDLE = 30 * 60.0  # seconds a staged download waits for its next chunk before it is deleted
FILES_MAX = 10_000  # files in one staged folder


@dataclass
class _Staged:
    folder: Path  # downloads/<id>/out
    sizes: dict[str, int]  # name inside the folder ("a/b.json") -> bytes
    touched: float  # time.monotonic() of its last chunk


class Downloads:
    """The staged downloads of one engine; calls may come from any pool thread."""

    def __init__(self, data_dir: Path, idle: float = IDLE) -> None:
        self.root = data_dir / "downloads"
        self.idle = idle
        self._lock = threading.Lock()
        self._open: dict[str, _Staged] = {}

    def sweep(self) -> int:
        """Delete every staged folder no download of this engine holds (at start: all of them,
        left by an engine that stopped before its clients released them); how many."""
        if not self.root.is_dir():
            return 0
        with self._lock:
            held = set(self._open)
        gone = 0
        for entry in self.root.iterdir():
            if entry.name not in held:
                _remove(entry)
                gone += 1
        return gone

    def stage(self, make: Callable[[Path], str]) -> P.DownloadReady:
        """make(folder) writes into a new private folder and says what it made; the download
        that lists its files."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        download_id = uuid.uuid4().hex[:16]
        top = self.root / download_id
        top.mkdir(mode=0o700)
        out = top / "out"
        try:
            message = make(out)
            files = _listing(out)
        except BaseException:
            _remove(top)
            raise
        with self._lock:
            self._open[download_id] = _Staged(
                out, {f.name: f.size for f in files}, time.monotonic()
            )
        self._expire_later(download_id, self.idle)
        log.info(
            "download %s staged: %d files, %d bytes",
            download_id,
            len(files),
            sum(f.size for f in files),
        )
        return P.DownloadReady(
            download_id=download_id,
            files=files,
            total=sum(f.size for f in files),
            folder=str(out.resolve()),
            message=message,
        )

    def handle(self, call: P.FileDownload) -> P.DownloadChunk:
        if call.release:
            return self._release(call.download_id)
        if not 0 < call.size <= CHUNK_MAX:
            raise EngineError(
                f"a download chunk is 1 byte to {CHUNK_MAX // 2**20} MiB; {call.size:,} bytes "
                "were asked for",
                hint=f"ask for at most {CHUNK_MAX:,} bytes a chunk",
            )
        if call.offset < 0:
            raise EngineError(f"a download offset is 0 or more, not {call.offset:,}")
        with self._lock:
            staged = self._known(call.download_id)
            size = staged.sizes.get(call.name)
            if size is None:
                raise EngineError(
                    f"'{call.name[:80]}' is not a file of download {call.download_id}",
                    hint="ask for one of the files the download listed",
                    code="not_found",
                )
            staged.touched = time.monotonic()
        try:
            data = _read(staged.folder, call.name, size, call.offset, call.size)
        except FileNotFoundError:
            raise EngineError(
                f"download {call.download_id} is gone", hint="export it again", code="not_found"
            ) from None
        return P.DownloadChunk(
            download_id=call.download_id, name=call.name, offset=call.offset, data=data, size=size
        )

    def _known(self, download_id: str) -> _Staged:
        found = self._open.get(download_id)
        if found is None:
            raise EngineError(
                f"no download '{download_id[:40]}' is open",
                hint="it was released, waited too long, or the engine restarted: export again",
                code="not_found",
            )
        return found

    def _release(self, download_id: str) -> P.DownloadChunk:
        with self._lock:
            staged = self._open.pop(download_id, None)
        if staged is None:
            raise EngineError(f"no download '{download_id[:40]}' is open", code="not_found")
        _remove(staged.folder.parent)
        log.info("download %s released: deleted", download_id)
        return P.DownloadChunk(download_id=download_id)

    def _expire_later(self, download_id: str, after: float) -> None:
        timer = threading.Timer(after, self._expire, (download_id,))
        timer.daemon = True
        timer.start()

    def _expire(self, download_id: str) -> None:
        with self._lock:
            staged = self._open.get(download_id)
            if staged is None:
                return
            left = staged.touched + self.idle - time.monotonic()
            if left <= 0:
                del self._open[download_id]
        if left > 0:
            self._expire_later(download_id, left)
            return
        log.info("download %s waited %.0f s for a chunk: deleted", download_id, self.idle)
        _remove(staged.folder.parent)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _listing(out: Path) -> list[P.StagedFile]:
    """Every file under out, sorted, each made private; a link or a device refuses them all."""
    if not out.is_dir() or out.is_symlink():
        raise EngineError("the export wrote no folder to send")
    files: list[P.StagedFile] = []
    os.chmod(out, 0o700)
    for folder, dirs, names in os.walk(out, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs + names):
            path = here / name
            mode = path.lstat().st_mode
            rel = path.relative_to(out).as_posix()
            if stat.S_ISDIR(mode):
                os.chmod(path, 0o700)
            elif stat.S_ISREG(mode):
                os.chmod(path, 0o600)
                files.append(P.StagedFile(name=rel, size=path.stat().st_size, sha256=_sha(path)))
            else:
                raise EngineError(
                    f"the export holds '{rel}', which is not a plain file or folder",
                    hint="only plain files are sent",
                )
            if len(files) > FILES_MAX:
                raise EngineError(f"the export holds more than {FILES_MAX:,} files")
    return sorted(files, key=lambda f: f.name)


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(2**20):
            digest.update(block)
    return digest.hexdigest()


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _read(folder: Path, name: str, size: int, offset: int, count: int) -> bytes:
    """count bytes at offset of folder/name, opened one part at a time with no link followed;
    the file must be the plain file of the size it was listed with."""
    parts = name.split("/")
    if any(p in ("", ".", "..") or "\x00" in p for p in parts):  # listed names never are
        raise EngineError(f"'{name[:80]}' is not a file of this download", code="not_found")
    fds: list[int] = []
    try:
        fds.append(os.open(folder, _DIR))
        for part in parts[:-1]:
            fds.append(os.open(part, _DIR, dir_fd=fds[-1]))
        fds.append(os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1]))
        info = os.fstat(fds[-1])
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            raise EngineError(
                f"'{name[:80]}' changed on the engine's machine after it was staged",
                hint="export again",
            )
        return os.pread(fds[-1], count, offset) if offset < size else b""
    except FileNotFoundError:
        raise
    except OSError as exc:  # a link put there since (ELOOP, ENOTDIR), no permission
        raise EngineError(
            f"'{name[:80]}' cannot be read: {exc.strerror}", hint="export again"
        ) from None
    finally:
        for fd in reversed(fds):
            os.close(fd)


# ------------------------------------------------------------------ the staged export


@dataclass
class StagedExports:
    """What training.export_staged needs: the downloads, and the export itself (the training
    service's: run id, folder -> what it wrote)."""

    downloads: Downloads
    export: Callable[[str, str], str]


calls: CallTable[StagedExports] = CallTable("training")


@calls.on(P.RunExportStaged)
def export_staged(exports: StagedExports, call: P.RunExportStaged) -> P.DownloadReady:
    return exports.downloads.stage(lambda out: exports.export(call.run_id, str(out)))
