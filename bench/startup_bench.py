"""App start to first paint and to engine-connected, read off a real terminal (tmux).

Peer: a minimal Textual app (one Static and a Footer) started the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median, row
from engine.paths import resolve_home

HELLO = """
from textual.app import App
from textual.widgets import Footer, Static
class Hello(App):
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Static("Datasets hello")
        yield Footer()
Hello().run()
"""


def _time_to(cmd: str, marks: list[str], timeout: float = 120) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="wbt-") as tmp:
        base = ["tmux", "-S", f"{tmp}/s", "-f", "/dev/null"]
        t0 = time.perf_counter()
        subprocess.run(
            base
            + [
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "80",
                "-y",
                "24",
                "-e",
                "HF_HUB_OFFLINE=1",
                cmd,
            ],
            check=True,
        )
        found: list[float] = []
        try:
            while len(found) < len(marks) and time.perf_counter() - t0 < timeout:
                pane = subprocess.run(
                    base + ["capture-pane", "-p", "-t", "b"], capture_output=True, text=True
                ).stdout
                while len(found) < len(marks) and marks[len(found)] in pane:
                    found.append(time.perf_counter() - t0)
                time.sleep(0.005)
        finally:
            subprocess.run(base + ["kill-server"], capture_output=True)
        return found


def startup(rounds: int = 5) -> list[dict[str, str]]:
    if shutil.which("tmux") is None:
        return [row("app start", "skipped: tmux missing")]
    paint, cold, warm, hello = [], [], [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="wbs-") as tmp:
            home = Path(tmp) / "home"
            cmd = f"cd {ROOT} && exec {sys.executable} -m workbench --home {home}"
            got = _time_to(cmd, ["Datasets", "● engine"])  # cold engine: none running
            if len(got) == 2:
                paint.append(got[0])
                cold.append(got[1])
            got = _time_to(cmd, ["Datasets", "● engine"])  # warm: the engine stayed up
            if len(got) == 2:
                warm.append(got[1])
            pidfile = resolve_home(home).pidfile
            if pidfile.exists():  # stop the engine the app started
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
            fh.write(HELLO)
        got = _time_to(f"exec {sys.executable} {fh.name}", ["Datasets hello"])
        hello += got
    p, h = median(paint), median(hello)
    return [
        row(
            "app start to first paint",
            f"{p * 1e3:.0f} ms",
            "< 500 ms",
            f"{h * 1e3:.0f} ms minimal Textual app",
            f"{p / h:.2f}x minimal app",
        ),
        row(
            "app start to engine connected, cold engine",
            f"{median(cold) * 1e3:.0f} ms",
            "report",
            "",
            "",
        ),
        row(
            "app start to engine connected, engine running",
            f"{median(warm) * 1e3:.0f} ms",
            "",
            "",
            "",
        ),
    ]
