"""Errors a person can act on, cancellation, and the context long data jobs report to."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Protocol, runtime_checkable


class EngineError(Exception):
    """A problem with the data or the request, said so that a person can fix it.

    code is one of: not_found, bad_input, exists, offline, empty, too_large, disk_full,
    permission, unsupported (and cancelled, internal in replies).
    """

    def __init__(self, message: str, hint: str = "", code: str = "bad_input") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[type[EngineError], tuple[str, str, str]]:
        # whole across processes (a training worker's errors): hint and code included
        return (EngineError, (self.message, self.hint, self.code))


def from_os_error(exc: OSError, data_dir: Path | None = None) -> EngineError | None:
    """The EngineError a file-system failure really is (a full disk, a name too long, no
    permission), or None for one that is a bug."""
    where = exc.filename or (str(data_dir) if data_dir else "")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = ""
        if data_dir is not None:
            try:
                free = f"; {shutil.disk_usage(data_dir).free / 2**20:,.0f} MiB are free there"
            except OSError:
                pass
        return EngineError(
            f"the disk is full: writing {where} failed{free}",
            hint="free some space on that disk (or move the home with WORKBENCH_HOME) and try "
            "again; nothing half-written was kept",
            code="disk_full",
        )
    if exc.errno == errno.ENAMETOOLONG:
        shown = where if len(where) < 120 else where[:120] + "…"
        return EngineError(
            f"the name {shown} is longer than the file system allows",
            hint="use a shorter name or path",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return EngineError(
            f"permission denied: {where}",
            hint="check the folder's owner and permissions",
            code="permission",
        )
    return None


class Cancelled(Exception):
    """The job was cancelled; whatever it was writing must be thrown away."""


@runtime_checkable
class JobContext(Protocol):
    """What a long data job reports progress to and asks whether to stop."""

    def progress(self, done: float, total: float, message: str = "") -> None:
        """Report that `done` of `total` units of work are finished."""
        ...

    def check_cancelled(self) -> None:
        """Raise Cancelled if the job should stop now."""
        ...


class NullContext:
    """A JobContext that records nothing and never cancels (tests, sync callers)."""

    def progress(self, done: float, total: float, message: str = "") -> None:
        return None

    def check_cancelled(self) -> None:
        return None
