"""Files sent to the engine in chunks (system.upload), for a client on another machine: the
engine keeps each under its data dir, uploads/<id>/<name>, private to its user, and answers
with the path on its own machine for the call that reads it (an import, a tokenizer, vectors).

Every chunk is checked before a byte is written: the name is a plain file name, the offset is
what the engine holds (so a retried chunk is refused, never written twice), a chunk is at most
CHUNK_MAX, the whole file at most TOTAL_MAX and within the disk's free space.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

from engine import protocol as P
from engine.core.errors import EngineError

CHUNK_MAX = 16 * 2**20  # bytes in one chunk (a frame holds 64 MiB)
TOTAL_MAX = 64 * 2**30  # bytes in one uploaded file
SPARE = 2**30  # free disk left after an upload


def _clean_name(name: str) -> str:
    plain = name.strip()
    if (
        not plain
        or plain in (".", "..")
        or "/" in plain
        or "\\" in plain
        or "\x00" in plain
        or len(plain) > 200
    ):
        raise EngineError(
            f"'{name[:80]}' is not a file name an upload can have",
            hint="name the file alone (no folders), up to 200 characters",
        )
    return plain


class Uploads:
    """The uploads of one engine; calls may come from any pool thread."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "uploads"
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Path, int]] = {}  # id -> (file, whole size)

    def handle(self, call: P.FileUpload) -> P.UploadResult:
        if len(call.data) > CHUNK_MAX:
            raise EngineError(
                f"an upload chunk is at most {CHUNK_MAX // 2**20} MiB, got {len(call.data):,} "
                "bytes",
                hint="send the file in smaller chunks",
            )
        with self._lock:
            if call.discard:
                return self._discard(call.upload_id)
            if not call.upload_id:
                upload_id = self._begin(call)
            else:
                upload_id = call.upload_id
            return self._append(upload_id, call)

    def _begin(self, call: P.FileUpload) -> str:
        name = _clean_name(call.name)
        if isinstance(call.total, bool) or not 0 <= call.total <= TOTAL_MAX:
            raise EngineError(
                f"an uploaded file is at most {TOTAL_MAX // 2**30} GiB; this one says "
                f"{call.total:,} bytes"
            )
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        free = shutil.disk_usage(self.root).free
        if call.total + SPARE > free:
            raise EngineError(
                f"the engine's disk has {free / 2**30:.1f} GiB free: {call.total / 2**30:.1f} "
                "GiB would leave too little",
                hint="free space on the engine's machine, or copy a smaller file",
            )
        upload_id = uuid.uuid4().hex[:16]
        folder = self.root / upload_id
        folder.mkdir(mode=0o700)
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        self._open[upload_id] = (path, call.total)
        return upload_id

    def _known(self, upload_id: str) -> tuple[Path, int]:
        found = self._open.get(upload_id)
        if found is None:
            raise EngineError(
                f"no upload '{upload_id[:40]}' is open",
                hint="it ended, was discarded, or the engine restarted: send the file again",
                code="not_found",
            )
        return found

    def _append(self, upload_id: str, call: P.FileUpload) -> P.UploadResult:
        path, total = self._known(upload_id)
        size = path.stat().st_size
        if call.offset != size:
            raise EngineError(
                f"upload {upload_id} holds {size:,} bytes; this chunk starts at {call.offset:,}",
                hint=f"send from byte {size:,}",
            )
        if size + len(call.data) > total:
            raise EngineError(
                f"upload {upload_id} would grow past the {total:,} bytes it was opened for"
            )
        if call.data:
            with open(path, "ab") as fh:
                fh.write(call.data)
        received = size + len(call.data)
        if not call.final:
            return P.UploadResult(upload_id=upload_id, received=received)
        if received != total:
            raise EngineError(
                f"upload {upload_id} ends at {received:,} bytes, not the {total:,} it was "
                "opened for",
                hint="send the rest, or discard it",
            )
        del self._open[upload_id]
        return P.UploadResult(upload_id=upload_id, received=received, path=str(path))

    def _discard(self, upload_id: str) -> P.UploadResult:
        if not upload_id or "/" in upload_id or upload_id in (".", ".."):
            raise EngineError("name the upload to discard")
        self._open.pop(upload_id, None)
        folder = self.root / upload_id
        if not folder.is_dir():
            raise EngineError(f"no upload '{upload_id[:40]}'", code="not_found")
        shutil.rmtree(folder, ignore_errors=True)
        return P.UploadResult(upload_id=upload_id, received=0)
