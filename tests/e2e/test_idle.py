"""An idle app writes nothing to the terminal (it matters over SSH): the real app in tmux,
every screen, the bytes it writes while nothing changes counted with tmux's pipe-pane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_terminal import Tmux
from tests.helpers.engine import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SETTLE = 30.0  # seconds at most for a screen's first loads to land
QUIET = 4.0  # seconds counted


def bytes_in(tmux: Tmux, name: str, out: Path, seconds: float) -> int:
    """Bytes the pane's program writes in these seconds."""
    out.write_bytes(b"")
    tmux.run("pipe-pane", "-t", name, "-o", f"cat >> {out}")
    time.sleep(seconds)
    tmux.run("pipe-pane", "-t", name)  # stop
    time.sleep(0.2)
    return out.stat().st_size


def idle_bytes(tmux: Tmux, name: str, out: Path) -> int:
    """Bytes the pane's program writes in QUIET seconds, once its first loads have landed: a
    first second without output within SETTLE seconds (a loaded machine answers late; a
    screen that redraws on a timer never has a quiet second, and is counted anyway)."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline and bytes_in(tmux, name, out, 1.0):
        pass
    return bytes_in(tmux, name, out, QUIET)


def test_an_idle_app_writes_nothing(tmp_path: Path) -> None:
    tmux = Tmux(tmp_path)
    home = tmp_path / "home"
    cmd = f"cd {ROOT} && {sys.executable} -m workbench --home {home}; echo WB_EXIT=$?; sleep 60"
    try:
        name = tmux.start(cmd)
        tmux.wait_for(name, "rotten-tomatoes", "12,808 rows", "● engine")
        written = {}
        for key, title, loaded in (
            ("1", "Datasets", "12,808"),
            ("2", "Tokenizers", "19 tokens"),
            ("3", "Embeddings", "queen"),
            ("4", "Model", "parameters"),  # the first check of the form (seconds on a new engine)
            ("5", "Training", "Runs 0"),
        ):
            tmux.keys(name, key)
            tmux.wait_for(name, loaded, timeout=90)  # what the screen shows once loaded
            written[title] = idle_bytes(tmux, name, tmp_path / f"idle-{key}.bin")
        assert written == dict.fromkeys(written, 0), f"bytes written while idle: {written}"
        tmux.keys(name, "q")
        tmux.wait_for(name, "WB_EXIT=0", timeout=20)
    finally:
        subprocess.run(
            [sys.executable, "-m", "workbench", "--home", str(home), "engine", "stop"],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        tmux.kill()
