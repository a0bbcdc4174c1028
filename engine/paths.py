"""Where an engine keeps its data and its socket, kept private to the user. Torch-free: both sides
use it.

One engine per home. By default the data dir and runtime dir come from platformdirs; `--home DIR`
or WORKBENCH_HOME puts both under DIR. Every folder is the user's own and 0700, every file 0600;
the socket lives in a folder only the user owns, checked before it is used (a folder another
user made first, or a file in its place, is refused with what to do about it).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "nlp-workbench"
_SOCK_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class HomeError(Exception):
    """A home's folder cannot be trusted or made: someone else's, not a folder, not writable."""


def private_dir(path: Path, what: str = "folder") -> Path:
    """Make path a folder only this user can enter (0700), or check the one there is.

    A folder owned by another user, a symlink, or anything that is not a folder is refused with
    a HomeError saying what is wrong; a folder of ours that others may enter is closed (0700).
    Parents are created as needed (private too, when this call creates them)."""
    try:
        os.makedirs(path.parent, mode=PRIVATE_DIR, exist_ok=True)
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        pass
    except OSError as exc:
        raise HomeError(f"cannot make the {what} {path}: {exc.strerror}") from None
    check_private_dir(path, what)
    return path


def check_private_dir(path: Path, what: str = "folder") -> None:
    """HomeError unless path is a real folder (not a symlink) of this user, closed to others
    (a folder of ours that others may enter is closed on the way)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise HomeError(f"the {what} {path} does not exist") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a folder"
        raise HomeError(
            f"the {what} {path} is {kind}; the workbench keeps its socket and data only in a "
            "folder of your own"
        )
    if st.st_uid != os.getuid():
        raise HomeError(
            f"the {what} {path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): "
            "another user may be trying to intercept the workbench; remove it, or set "
            "WORKBENCH_HOME to a folder of your own"
        )
    if st.st_mode & 0o077:
        os.chmod(path, PRIVATE_DIR)


@dataclass(frozen=True)
class Home:
    """The data and runtime locations of one engine."""

    root: str  # what identifies this home ("default" or the --home path)
    data_dir: Path
    runtime_dir: Path

    @property
    def socket_dir(self) -> Path:
        """The folder holding the socket: the runtime dir, or, when that path is too long for a
        socket, a short folder of this user's in the temp dir (checked like the others)."""
        if len(str(self.runtime_dir / "engine.sock")) <= _SOCK_MAX:
            return self.runtime_dir
        return Path(tempfile.gettempdir()) / f"wb-{os.getuid()}"

    @property
    def socket(self) -> Path:
        if self.socket_dir == self.runtime_dir:
            return self.runtime_dir / "engine.sock"
        # a deep home overflows sun_path: a short name, one per home, in the private short dir
        digest = hashlib.sha1(str(self.runtime_dir).encode()).hexdigest()[:16]
        return self.socket_dir / f"{digest}.sock"

    @property
    def lock(self) -> Path:
        return self.runtime_dir / "engine.lock"

    @property
    def pidfile(self) -> Path:
        return self.runtime_dir / "engine.pid"

    @property
    def log(self) -> Path:
        return self.data_dir / "engine.log"

    @property
    def db(self) -> Path:
        return self.data_dir / "workbench.sqlite3"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "config.toml"

    def ensure(self) -> None:
        """Make (or check) the home's folders: all private to the user (0700)."""
        private_dir(self.data_dir, "data folder")
        private_dir(self.datasets_dir, "datasets folder")
        private_dir(self.runtime_dir, "runtime folder")
        if self.socket_dir != self.runtime_dir:
            private_dir(self.socket_dir, "socket folder")

    def check_socket_dir(self) -> None:
        """HomeError unless the socket's folder is this user's own (before connecting to it)."""
        check_private_dir(self.socket_dir, "socket folder")


def open_private(path: Path, mode: str = "a") -> int:
    """A file descriptor for path, created 0600 when new ("a": append, "w": truncate)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # an older file may have been readable by others
    return fd


def resolve_home(home: str | os.PathLike[str] | None = None) -> Home:
    """The Home for an explicit path, else WORKBENCH_HOME, else the platform dirs."""
    chosen = home if home is not None else os.environ.get("WORKBENCH_HOME") or None
    if chosen is not None:
        root = Path(chosen).expanduser().resolve()
        return Home(str(root), root, root / "run")
    data = Path(platformdirs.user_data_dir(APP, appauthor=False))
    with warnings.catch_warnings():
        # without XDG_RUNTIME_DIR platformdirs warns on every command; the check below decides
        warnings.simplefilter("ignore", UserWarning)
        runtime = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
    if not _usable_runtime_parent(runtime.parent):
        # No /run/user/UID (containers, root over SSH): a folder of ours in tmp, checked.
        runtime = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    return Home("default", data, runtime)


def _usable_runtime_parent(parent: Path) -> bool:
    """Whether the platform's runtime folder (/run/user/UID) exists and is ours."""
    try:
        st = os.stat(parent)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and os.access(parent, os.W_OK)


def absolute_source(source: str) -> str:
    """A source as the engine needs it: a path made absolute in the caller's folder, or a hub
    name (owner/name, no extension, not a file here) left as it is. The front calls this: the
    engine does not know the caller's folder."""
    name = source.strip()
    if not name:
        return source
    looks_like_path = (
        os.path.exists(name)
        or name.startswith((".", "/", "~"))
        or "\\" in name
        or "." in Path(name).name
    )
    return str(Path(name).expanduser().absolute()) if looks_like_path else source


def absolute_path(path: str) -> str:
    """A file path made absolute in the caller's folder ("" stays "")."""
    return str(Path(path).expanduser().absolute()) if path.strip() else path


def config_dir() -> Path:
    """User configuration (key bindings) lives here, shared by every home."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))
