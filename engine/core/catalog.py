"""What every registry (datasets, tokenizers, vector sources, runs) shares: the name rule, a
load-once cache, and how a change is announced (one CatalogChanged event per change)."""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from engine import protocol as P
from engine.core.errors import EngineError

log = logging.getLogger("engine.catalog")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
K = TypeVar("K")
V = TypeVar("V")


def check_new_name(kind: str, name: str, taken: bool) -> None:
    """Raise EngineError unless name is a usable name for a kind of thing and not taken."""
    if not NAME.match(name):
        raise EngineError(
            f"'{name}' is not a usable {kind} name",
            "use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
        )
    if taken:
        raise EngineError(
            f"a {kind} named '{name}' already exists",
            "choose another name, or delete the old one first",
            "exists",
        )


def sweep_orphans(folder: Path, registered: set[str], kind: str) -> list[str]:
    """Remove what a crash left in a registry's folder: half-written `.tmp-*` folders, folders
    set aside as `.orphan-*`, and folders no registry row names. Says so in the log; returns the
    names removed."""
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for path in sorted(folder.iterdir()):
        leftover = path.name.startswith((".tmp-", ".orphan-"))
        unregistered = NAME.match(path.name) is not None and path.name not in registered
        if path.is_dir() and (leftover or unregistered):
            why = "unfinished" if path.name.startswith(".tmp-") else "unregistered"
            log.info("removing an %s %s folder left by a crash: %s", why, kind, path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


class LoadOnce(Generic[K, V]):
    """A thread-safe cache where two callers asking for one key at once load it once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[K, V] = {}
        self._gates: dict[K, threading.Lock] = {}

    def get(self, key: K, load: Callable[[K], V]) -> V:
        with self._lock:
            if key in self._items:
                return self._items[key]
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = load(key)
            with self._lock:
                self._items[key] = value
            return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def peek(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)


class Changes:
    """Announces the changes of one registry: each call publishes one CatalogChanged."""

    def __init__(self, kind: P.CatalogKind, publish: Callable[[P.Event], None]) -> None:
        self.kind: P.CatalogKind = kind
        self._publish = publish

    def added(self, name: str) -> None:
        self._publish(P.CatalogChanged(kind=self.kind, name=name, change="added"))

    def updated(self, name: str) -> None:
        self._publish(P.CatalogChanged(kind=self.kind, name=name, change="updated"))

    def deleted(self, name: str) -> None:
        self._publish(P.CatalogChanged(kind=self.kind, name=name, change="deleted"))


def quiet(kind: P.CatalogKind) -> Changes:
    """Changes that go nowhere (tests and tools that run a service without an engine)."""
    return Changes(kind, lambda _event: None)
