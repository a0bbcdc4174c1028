"""Fixtures shared by every layer: a temporary home and a real engine on it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.paths import Home, resolve_home
from workbench.client import EngineClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunningEngine:
    home: Home
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


def start_engine(home: Home, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Start `python -m engine` on the home; ready when it answers a handshake."""
    home.ensure()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "--home", home.root],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited {proc.returncode}: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        if asyncio.run(_handshake(home)):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("engine did not answer within the timeout")


async def _handshake(home: Home) -> bool:
    client = EngineClient(home, name="probe")
    try:
        await client.connect(start=False, timeout=1)
        return True
    except Exception:
        return False
    finally:
        await client.close()


def stop_engine(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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
