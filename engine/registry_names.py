"""Shared by every registry (datasets, tokenizers, vector sources): names and loading once."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from engine.data.errors import DataError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
K = TypeVar("K")
V = TypeVar("V")


def check_new_name(kind: str, name: str, taken: bool) -> None:
    """Raise DataError unless name is a usable name for a kind of thing and not taken."""
    if not NAME.match(name):
        raise DataError(
            f"'{name}' is not a usable {kind} name",
            "use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
        )
    if taken:
        raise DataError(
            f"a {kind} named '{name}' already exists",
            "choose another name, or delete the old one first",
            "exists",
        )


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
