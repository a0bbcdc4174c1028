"""Paths a caller names, checked before the engine opens anything.

A path must be absolute (the engine's folder is not the caller's: the CLI and the app send
absolute paths), exist, and be a regular file (or a folder where one is wanted): a FIFO, a
device or a socket would block the reader for ever. A file has a size limit that says what it
is, so an endless or huge file is refused with the numbers instead of read whole.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from engine.core.errors import EngineError

GB = 1024**3
MB = 1024**2


def _stat(path: str, what: str) -> tuple[Path, os.stat_result]:
    if not path or not path.strip():
        raise EngineError(f"no path given for the {what}", hint="name a file")
    where = Path(path).expanduser()
    if not where.is_absolute():
        raise EngineError(
            f"the {what} path '{path}' is relative, and the engine does not run in your folder",
            hint=f"give the full path, e.g. {Path.cwd() / path} if that is the one",
        )
    try:
        return where, os.stat(where)  # follows symlinks: what is read is what is checked
    except FileNotFoundError:
        raise EngineError(f"there is no {what} at {where}", code="not_found") from None
    except PermissionError:
        raise EngineError(f"the {what} {where} cannot be read: permission denied") from None
    except OSError as exc:
        shown = str(where) if len(str(where)) < 200 else str(where)[:200] + "…"
        if exc.errno == errno.ENAMETOOLONG:
            raise EngineError(
                f"the {what} path {shown} is longer than the file system allows",
                hint="use a shorter path",
            ) from None
        raise EngineError(f"the {what} {shown} cannot be used: {exc.strerror}") from None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (a pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def regular_file(path: str, what: str, limit: int) -> Path:
    """The absolute path of a regular file of at most limit bytes; EngineError otherwise."""
    where, st = _stat(path, what)
    if stat.S_ISDIR(st.st_mode):
        raise EngineError(f"the {what} {where} is a folder, not a file", hint="name the file")
    if not stat.S_ISREG(st.st_mode):
        raise EngineError(
            f"the {what} {where} is {_kind(st.st_mode)}; the engine reads regular files only",
            hint="save the data to a file first",
        )
    if st.st_size > limit:
        raise EngineError(
            f"the {what} {where} is {st.st_size:,} bytes; a {what} may be at most {limit:,}",
            hint="check it is the file you meant",
            code="too_large",
        )
    return where


def file_or_folder(path: str, what: str, limit: int) -> Path:
    """A regular file (as regular_file) or a folder; EngineError otherwise."""
    where, st = _stat(path, what)
    if stat.S_ISDIR(st.st_mode):
        return where
    return regular_file(str(where), what, limit)
