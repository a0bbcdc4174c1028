"""The lists every screen chooses from, kept once for the whole app and kept current.

Datasets, tokenizers, vector sources and runs are asked for when the engine is ready, and again
(only the list that changed) whenever the engine says a registry changed (CatalogChanged), so a
tokenizer trained on screen 2 is at once a choice on screen 4.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from engine import protocol as P
from workbench.engine.client import EngineError

log = logging.getLogger("workbench.catalog")
Ask = Callable[[Any], Any]  # link.ask: a call -> an awaitable of its result
KINDS: tuple[P.CatalogKind, ...] = ("datasets", "tokenizers", "vectors", "runs")


class Catalog:
    """Registry lists, refreshed by kind; listeners hear which kind changed."""

    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self.datasets: list[P.DatasetInfo] = []
        self.tokenizers: list[P.TokenizerInfo] = []
        self.vectors: list[P.VectorSourceInfo] = []
        self.runs: list[P.RunInfo] = []
        self.loaded: set[str] = set()  # kinds fetched at least once
        self._listeners: list[Callable[[str], None]] = []
        self._fetching: dict[str, asyncio.Task[None]] = {}

    def listen(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call listener(kind) after a list is refreshed; returns the call that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def refresh(self, kinds: tuple[str, ...] = KINDS) -> None:
        """Fetch these lists now (all of them when the engine comes up)."""
        await asyncio.gather(*(self._refresh(kind) for kind in kinds))

    def changed(self, event: P.CatalogChanged) -> None:
        """A registry changed in the engine: fetch that list again (trained models are runs)."""
        kind = "runs" if event.kind == "models" else event.kind
        task = self._fetching.get(kind)
        if task is None or task.done():
            self._fetching[kind] = asyncio.get_running_loop().create_task(self._refresh(kind))

    async def _refresh(self, kind: str) -> None:
        try:
            if kind == "datasets":
                self.datasets = (await self._ask(P.DatasetList())).datasets
            elif kind == "tokenizers":
                self.tokenizers = (await self._ask(P.TokenizerList())).tokenizers
            elif kind == "vectors":
                self.vectors = (await self._ask(P.VectorSources())).sources
            elif kind == "runs":
                self.runs = (await self._ask(P.RunList())).runs
            else:
                return
        except EngineError as exc:
            log.info("could not refresh the %s list: %s", kind, exc)
            return
        self.loaded.add(kind)
        for listener in list(self._listeners):
            listener(kind)

    # --- the choices screens offer

    def dataset_names(self, available_only: bool = True) -> list[str]:
        return [d.name for d in self.datasets if d.available or not available_only]

    def tokenizer_names(self, available_only: bool = True) -> list[str]:
        return [t.name for t in self.tokenizers if t.available or not available_only]

    def static_vectors(self) -> list[str]:
        return [s.name for s in self.vectors if s.kind == "static" and s.available]

    def dataset(self, name: str) -> P.DatasetInfo | None:
        return next((d for d in self.datasets if d.name == name), None)
