"""Where an engine keeps its data and its socket. Torch-free: both sides use it.

One engine per home. By default the data dir and runtime dir come from
platformdirs; `--home DIR` or WORKBENCH_HOME puts both under DIR.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "nlp-workbench"
_SOCK_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


@dataclass(frozen=True)
class Home:
    """The data and runtime locations of one engine."""

    root: str  # what identifies this home ("default" or the --home path)
    data_dir: Path
    runtime_dir: Path

    @property
    def socket(self) -> Path:
        path = self.runtime_dir / "engine.sock"
        if len(str(path)) <= _SOCK_MAX:
            return path
        # Deep temporary homes overflow sun_path: use a short, home-specific name.
        digest = hashlib.sha1(str(self.runtime_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"wb-{os.getuid()}-{digest}.sock"

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
        """Create the folders: data readable by the user, runtime private (0700)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.datasets_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.runtime_dir, 0o700)


def resolve_home(home: str | os.PathLike[str] | None = None) -> Home:
    """The Home for an explicit path, else WORKBENCH_HOME, else the platform dirs."""
    chosen = home if home is not None else os.environ.get("WORKBENCH_HOME") or None
    if chosen is not None:
        root = Path(chosen).expanduser().resolve()
        return Home(str(root), root, root / "run")
    data = Path(platformdirs.user_data_dir(APP, appauthor=False))
    runtime = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
    try:
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        # No /run/user/UID (containers, root over SSH): a private dir in tmp.
        runtime = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    return Home("default", data, runtime)


def config_dir() -> Path:
    """User configuration (key bindings) lives here, shared by every home."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))
