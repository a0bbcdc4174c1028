"""Fixtures shared by every layer: a temporary home and a real engine on it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.paths import Home, resolve_home
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from workbench.engine.client import EngineClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# the app's view state and key map live in the config dir: never the user's own in tests
os.environ["XDG_CONFIG_HOME"] = _CONFIG = tempfile.mkdtemp(prefix="wb-test-config-")
atexit.register(shutil.rmtree, _CONFIG, True)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return resolve_home(tmp_path / "home")


@pytest.fixture
def engine(home: Home) -> Iterator[RunningEngine]:
    proc = start_engine(home)
    try:
        yield RunningEngine(home, proc)
    finally:
        stop_engine(proc)


@pytest.fixture
async def client(engine: RunningEngine) -> EngineClient:
    c = EngineClient(engine.home, name="test")
    await c.connect(start=False)
    yield c  # type: ignore[misc]
    await c.close()
