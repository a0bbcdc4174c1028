"""A real engine for tests: `python -m engine` on a temporary home, ready when it answers a
handshake (never a sleep), stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.paths import Home
from workbench.engine.client import EngineClient

ROOT = Path(__file__).resolve().parent.parent.parent


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
