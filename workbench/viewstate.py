"""The app's view state - how the user left each screen (plot settings and overlays, the
tokenizer's text and comparison set, the builder's form) - in a small JSON file under the
user's config dir, one per engine home (or socket), so it comes back after a restart.

It is the app's own (the engine may be on another machine) and only a convenience: a missing,
unreadable or corrupt file starts empty and never stops the app. Writes are atomic and
private (0600), at most every SAVE_SECONDS, and never from an idle app.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, TypeVar

from engine.paths import config_dir

T = TypeVar("T")
MAX_BYTES = 1 << 20  # a bigger file is not ours to load: start empty
SAVE_SECONDS = 1.0


def view_state_path(where: str) -> Path:
    """The file for an engine endpoint described as `where` (Endpoint.describe())."""
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return config_dir() / "views" / f"{digest}.json"


class ViewState:
    """get(key, default) and set(key, value) of JSON values; save() writes when changed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.problem = ""  # why the file was not loaded ("" when it was, or was absent)
        self._data: dict[str, Any] = {}
        self._dirty = False
        self._saved_at = 0.0
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_BYTES:
                self.problem = f"{path} is over {MAX_BYTES:,} bytes; the view starts afresh"
                return
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.problem = f"{path}: {exc}; the view starts afresh"
            return
        if isinstance(data, dict):
            self._data = data
        else:
            self.problem = f"{path} holds no view state; the view starts afresh"

    def get(self, key: str, default: T) -> T:
        """The stored value when it has the default's type (else the default)."""
        value = self._data.get(key, default)
        if default is not None and not isinstance(value, type(default)):
            return default
        return value  # type: ignore[no-any-return]

    def set(self, key: str, value: Any) -> None:
        if self._data.get(key) == value:
            return
        self._data[key] = value
        self._dirty = True
        if time.monotonic() - self._saved_at > SAVE_SECONDS:
            self.save()

    def save(self) -> None:
        """Write the file now if anything changed (atomic, 0600); errors are swallowed."""
        if not self._dirty or self.path is None:
            return
        self._saved_at = time.monotonic()
        self._dirty = False
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._data, f)
            os.replace(tmp, path)
        except OSError as exc:
            self.problem = f"could not save the view to {path}: {exc}"
