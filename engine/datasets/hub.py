"""Hugging Face sources: a folder written by save_to_disk, or a dataset on the hub.

The hub is asked only after a quick, bounded check that it can be reached, so an offline
machine gets a clear error in seconds rather than a minute of retries.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa

from engine.core.errors import EngineError
from engine.core.files import file_or_folder
from engine.datasets.formats import (
    BUILDER_NAMES,
    HUB_NAME,
    Chunk,
    SourceReader,
    class_names_to_labels,
)
from engine.datasets.writer import SPLIT_ALIASES

HF_BATCH = 10_000
PROBE_SECONDS = 5.0
SOURCE_SPLIT = "hf_split"  # extra column kept when a split name is not train/validation/test


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def offline_mode() -> bool:
    """True when the environment says not to use the network for the hub."""
    return _env_true("HF_HUB_OFFLINE") or _env_true("HF_DATASETS_OFFLINE")


def hub_endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(timeout: float | None = None) -> bool:
    """Whether a TCP connection to the hub opens within timeout (name lookup included)."""
    timeout = PROBE_SECONDS if timeout is None else timeout
    host, port = hub_endpoint()
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            ok.append(False)

    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(ok and ok[0])


def offline_error(name: str, why: str) -> EngineError:
    return EngineError(
        f"could not reach the Hugging Face hub for {name!r}: {why}",
        hint="download it where there is internet and import the saved folder "
        "(save_to_disk) or a CSV",
        code="offline",
    )


def load_hub(name: str, streaming: bool) -> Any:
    """datasets.load_dataset(name), failing fast and clearly when the hub is out of reach."""
    if not offline_mode() and not hub_reachable():
        raise offline_error(name, "no network")
    import datasets

    try:
        return datasets.load_dataset(name, streaming=streaming)
    except ConnectionError:
        why = "no network"
        if offline_mode():
            why += " (HF_HUB_OFFLINE=1 is set and there is no copy in the cache)"
        raise offline_error(name, why) from None
    except FileNotFoundError:
        raise EngineError(
            f"there is no dataset {name!r} on the Hugging Face hub",
            hint="check the name, e.g. 'imdb' or 'user/name'",
            code="not_found",
        ) from None
    except ValueError as exc:
        raise EngineError(f"the hub dataset {name!r} cannot be loaded: {exc}") from None


def load_disk(path: Path) -> Any:
    """datasets.load_from_disk(path) with errors a person can act on."""
    import datasets

    if not path.exists():
        raise EngineError(f"{path} does not exist", hint="check the path", code="not_found")
    try:
        return datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise EngineError(
            f"{path.name}/ is not a dataset saved with save_to_disk: {exc}",
            hint="pick the folder that save_to_disk wrote",
        ) from None


class HfReader(SourceReader):
    """A Dataset or DatasetDict; its split names become train/validation/test where they match."""

    def __init__(self, source: str, fmt: str, streaming: bool = False) -> None:
        self.format = fmt
        self._streaming = streaming and fmt == "hub"
        if fmt == "hf-disk":
            path = file_or_folder(source, "saved dataset", 0)
            if not path.is_dir():
                raise EngineError(f"{path} is a file; a saved Hugging Face dataset is a folder")
            loaded = load_disk(path)
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            super().__init__(str(path.resolve()), path.name, size)
        else:
            name = source.strip()
            if not name or name.lower() in BUILDER_NAMES or not HUB_NAME.match(name):
                raise EngineError(
                    f"'{source}' is not a hub dataset name",
                    hint="a hub name looks like owner/name (e.g. stanfordnlp/imdb); for a file, "
                    "give its full path",
                )
            super().__init__(name, name, 0)
            loaded = load_hub(name, self._streaming)
        self._setup(loaded)

    def _setup(self, loaded: Any) -> None:
        parts = dict(loaded) if hasattr(loaded, "keys") else {"": loaded}
        if not parts:
            raise EngineError(f"{self.display} holds no splits", code="empty")
        self._parts: dict[str, Any] = parts
        first = next(iter(parts.values()))
        features = first.features  # None for some streamed hub datasets
        self.label_names = {
            name: list(feature.names)
            for name, feature in (features or {}).items()
            if type(feature).__name__ == "ClassLabel"
        }
        self.types = {f.name: f.type for f in features.arrow_schema} if features else {}
        for name in self.label_names:
            self.types[name] = pa.string()
        self.split_of = {key: SPLIT_ALIASES.get(key.strip().lower(), "") for key in parts}
        self.keep_split_names = any(key and mapped == "" for key, mapped in self.split_of.items())
        if self.keep_split_names:
            self.types[SOURCE_SPLIT] = pa.string()
        self.columns = list(self.types)
        self.total = float(sum(len(p) for p in parts.values())) if not self._streaming else 0.0

    def _convert(self, table: pa.Table, key: str) -> pa.Table:
        table = class_names_to_labels(table, self.label_names)
        if self.keep_split_names:
            table = table.append_column(SOURCE_SPLIT, pa.array([key] * table.num_rows, pa.string()))
        return table

    def head(self, n: int) -> pa.Table:
        parts = self._parts
        key = next((k for k in parts if self.split_of.get(k) == "train"), next(iter(parts)))
        part = parts[key]
        if self._streaming:
            rows = list(part.take(n))
            table = pa.Table.from_pylist(rows)
            if not self.types:
                self.types = {f.name: f.type for f in table.schema}
                self.columns = list(self.types)
        else:
            table = part.select(range(min(n, len(part)))).with_format("arrow")[:]
        return self._convert(table, key)

    def batches(self) -> Iterator[Chunk]:
        parts = self._parts
        done = 0
        for key, part in parts.items():
            for table in part.with_format("arrow").iter(batch_size=HF_BATCH):
                done += table.num_rows
                split = None if not key else self.split_of[key]
                yield self._convert(table, key), float(done), split
