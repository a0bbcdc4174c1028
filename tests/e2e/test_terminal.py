"""The real `workbench` command in a real terminal (tmux): start, browse, quit, come back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.engine import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.sock = tmp / "t.sock"
        self.base = ["tmux", "-S", str(self.sock), "-f", "/dev/null"]
        self.n = 0

    def run(self, *args: str) -> str:
        return subprocess.run(
            self.base + list(args), capture_output=True, text=True, check=False
        ).stdout

    def start(self, command: str, width: int = 80, height: int = 24) -> str:
        self.n += 1
        name = f"w{self.n}"
        subprocess.run(
            self.base
            + [
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                str(width),
                "-y",
                str(height),
                "-e",
                "LANG=C.UTF-8",
                "-e",
                "HF_HUB_OFFLINE=1",
                command,
            ],
            check=True,
        )
        return name

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name)

    def wait_for(self, name: str, *texts: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"never saw {texts!r}; screen was:\n{screen}")

    def alive(self, name: str) -> bool:
        return (
            subprocess.run(self.base + ["has-session", "-t", name], capture_output=True).returncode
            == 0
        )

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path)
    yield t
    t.kill()


def _workbench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(home), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_browse_quit_engine_survives_and_state_returns(tmux: Tmux, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Textual draws on stderr, so it is not redirected: the pane prints the exit code and
    # stays open, so a crash's traceback is still on screen for the assertion message.
    cmd = f"cd {ROOT} && {sys.executable} -m workbench --home {home}; echo WB_EXIT=$?; sleep 120"
    first = tmux.start(cmd)
    screen = tmux.wait_for(first, "Datasets", "rotten-tomatoes", "12,808 rows")
    assert "? help" in screen and "Import" in screen  # the footer shows the keys, help first
    status = json.loads(_workbench(home, "engine", "status", "--json").stdout)
    tmux.keys(first, "q")
    tmux.wait_for(first, "WB_EXIT=0", timeout=20)
    # the engine outlived the app
    os.kill(status["pid"], 0)
    again = json.loads(_workbench(home, "engine", "status", "--json").stdout)
    assert again["session_id"] == status["session_id"]
    # change state from the CLI while no app runs, then reattach and see it
    csv = tmp_path / "notes.csv"
    csv.write_text(
        "text,label\n" + "".join(f"note {i},{'a' if i % 2 else 'b'}\n" for i in range(20))
    )
    out = _workbench(home, "datasets", "import", str(csv), "--name", "notes", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    second = tmux.start(cmd)
    tmux.wait_for(second, "rotten-tomatoes", "notes", "12,808 rows")
    tmux.keys(second, "q")
    stop = _workbench(home, "engine", "stop", "--json")
    assert json.loads(stop.stdout)["pid"] == status["pid"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(status["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(status["pid"], signal.SIGKILL)
        raise AssertionError("engine stop did not end the engine")


def test_training_survives_the_app_and_reattaches(tmux: Tmux, tmp_path: Path) -> None:
    """Start a run, quit the app mid-run, come back in a new terminal: the whole history."""
    home = tmp_path / "home"
    config = tmp_path / "run.toml"
    config.write_text(
        (ROOT / "tests" / "helpers" / "run_tiny.toml").read_text().replace("EPOCHS", "8")
    )
    started = _workbench(home, "train", str(config), "--json")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        _reattach(tmux, home, json.loads(started.stdout)["run_id"])
    finally:  # never leave a training engine behind, whatever failed
        _workbench(home, "engine", "stop")


def _reattach(tmux: Tmux, home: Path, run_id: str) -> None:
    cmd = f"cd {ROOT} && {sys.executable} -m workbench --home {home}; echo WB_EXIT=$?; sleep 120"
    first = tmux.start(cmd)
    tmux.wait_for(first, "Datasets")
    tmux.keys(first, "5")
    tmux.wait_for(first, "e2e-run", "running", "loss by step")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        before = json.loads(_workbench(home, "runs", "show", run_id, "--json").stdout)
        if len(before["series"].get("train_loss", [])) >= 2:
            break
        time.sleep(0.2)
    seen = len(before["series"]["train_loss"])
    tmux.keys(first, "q")
    tmux.wait_for(first, "WB_EXIT=0", timeout=20)
    time.sleep(1.0)  # the run goes on with no app attached
    second = tmux.start(cmd)
    tmux.wait_for(second, "Datasets")
    tmux.keys(second, "5")
    screen = tmux.wait_for(second, "e2e-run", "loss by step", "train_loss")
    assert "no points yet" not in screen
    hist = json.loads(_workbench(home, "runs", "show", run_id, "--json").stdout)
    assert len(hist["series"]["train_loss"]) >= seen >= 2  # nothing lost while detached
