"""App start to first paint and to engine-connected, read off a real terminal (tmux).

Peers: a minimal Textual app (one Static and a Footer), and a Textual app with the datasets
screen's widgets and no logic (Textual's own floor for that screen), started the same way. Both run with
Python's bytecode cache on (as a user's second start has it, whatever PYTHONDONTWRITEBYTECODE
this shell sets) after one start that is not counted.
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

SAME_WIDGETS = """
from textual.app import App
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, OptionList, Static, TabbedContent, TabPane
class Same(App):
    CSS = "OptionList { width: 24; height: 1fr; } TabbedContent { width: 1fr; } "
    CSS += "Horizontal { height: 1fr; }"
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Static("Datasets Tokenizers Embeddings Model Training")
        with Horizontal():
            yield OptionList(*[f"dataset {i}" for i in range(8)])
            with TabbedContent():
                with TabPane("Rows"):
                    yield Input(placeholder="filter")
                    table = DataTable()
                    table.add_columns("#", "label", "text")
                    for i in range(20):
                        table.add_row(str(i), "pos", "some text " * 8)
                    yield table
                with TabPane("Stats"):
                    yield Static("stats")
                with TabPane("Splits"):
                    yield Static("splits")
        yield Static("COMMAND status")
        yield Footer()
Same().run()
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
    paint, cold, warm, hello, same = [], [], [], [], []
    python = f"env -u PYTHONDONTWRITEBYTECODE {sys.executable}"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(HELLO)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as sh:
        sh.write(SAME_WIDGETS)
    for first in [True] + [False] * rounds:
        with tempfile.TemporaryDirectory(prefix="wbs-") as tmp:
            home = Path(tmp) / "home"
            cmd = f"cd {ROOT} && exec {python} -m workbench --home {home}"
            got = _time_to(cmd, ["Datasets", "● engine"])  # cold engine: none running
            if len(got) == 2 and not first:
                paint.append(got[0])
                cold.append(got[1])
            got = _time_to(cmd, ["Datasets", "● engine"])  # warm: the engine stayed up
            if len(got) == 2 and not first:
                warm.append(got[1])
            pidfile = resolve_home(home).pidfile
            if pidfile.exists():  # stop the engine the app started
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
        got = _time_to(f"exec {python} {fh.name}", ["Datasets hello"])
        if not first:
            hello += got
        got = _time_to(f"exec {python} {sh.name}", ["Datasets Tokenizers"])
        if not first:
            same += got
    os.unlink(fh.name)
    os.unlink(sh.name)
    p, h, w = median(paint), median(hello), median(same)
    return [
        row(
            "app start to first paint",
            f"{p * 1e3:.0f} ms",
            "< 500 ms",
            f"{h * 1e3:.0f} ms minimal Textual app",
            f"{p / h:.2f}x minimal app",
        ),
        row(
            "first paint beside Textual's floor for the screen",
            f"{p * 1e3:.0f} ms",
            "report",
            f"{w * 1e3:.0f} ms same widgets, no logic",
            f"{p / w:.2f}x",
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
