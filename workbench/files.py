"""Reading a small text file the user names (a run config, a text to tokenize), on the app's
side: a regular file only (never /dev/zero, a FIFO or a folder) and never more than asked."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileProblem(Exception):
    """Why the file cannot be read, in words a person can act on."""


def read_text_file(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most max_bytes; FileProblem otherwise."""
    target = Path(path).expanduser()
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise FileProblem(f"cannot read {target}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise FileProblem(f"{target} is {kind}: give the path of a {what}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read {target}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileProblem(f"{target} is over {max_bytes:,} bytes: too big for a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"{target} is not UTF-8 text: a {what} is text") from None
