"""Each screen in a real terminal (tmux, 80x24): keystroke to repaint (j/k in its main list, or
its two tab keys where the main pane has no cursor; the pane polled until it changes) and the
bytes an idle app writes (tmux pipe-pane) once the screen's first loads have landed.

Peer: a minimal Textual app (an OptionList moved with j/k, a Footer) timed the same way, in the
same run, alternately: the floor of the method (tmux, polling every ~2 ms).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, pct, row
from engine.paths import Home

FLOOR_APP = """
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, OptionList
class Floor(App):
    BINDINGS = [Binding("j", "down"), Binding("k", "up")]
    def compose(self):
        yield OptionList(*[f"item {i}" for i in range(40)], id="o")
        yield Footer()
    def on_mount(self):
        self.query_one("#o").focus()
    def action_down(self):
        self.query_one("#o").action_cursor_down()
    def action_up(self):
        self.query_one("#o").action_cursor_up()
Floor().run()
"""
SCREENS = [  # (screen key, name, the two keys pressed in turn, what it shows once loaded)
    ("1", "datasets", ("j", "k"), "12,808"),
    ("2", "tokenizers", ("i", "c"), "19 tokens"),  # tabs: the tokens pane has no cursor
    ("3", "embeddings", ("x", "n"), "queen"),  # tabs: nor do the neighbours
    ("4", "builder", ("j", "k"), "parameters"),  # its first check takes seconds on a new engine
    ("5", "training", ("m", "m"), "Runs"),  # confusion / plots: a fresh home has no runs
]
SETTLE = 30.0  # seconds at most for a screen's first loads: until a second passes with no output
IDLE = 5.0


class Pane:
    def __init__(self, tmp: str, command: str) -> None:
        self.base = ["tmux", "-S", f"{tmp}/s", "-f", "/dev/null"]
        subprocess.run(
            [*self.base, "new-session", "-d", "-s", "b", "-x", "80", "-y", "24",
             "-e", "HF_HUB_OFFLINE=1", command],
            check=True,
        )  # fmt: skip

    def text(self) -> str:
        return subprocess.run(
            [*self.base, "capture-pane", "-p", "-e", "-t", "b"], capture_output=True, text=True
        ).stdout

    def send(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "b", *keys], check=True)

    def wait(self, mark: str, timeout: float = 90) -> None:
        deadline = time.perf_counter() + timeout
        while mark not in self.text():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"never saw {mark!r}")
            time.sleep(0.05)

    def keystrokes(self, n: int, keys: tuple[str, str] = ("j", "k")) -> list[float]:
        """Seconds from each key (the two in turn) to the pane showing its change."""
        out = []
        for i in range(n):
            before = self.text()
            t0 = time.perf_counter()
            self.send("-l", keys[i % 2])
            while self.text() == before and time.perf_counter() - t0 < 2:
                time.sleep(0.002)
            out.append(time.perf_counter() - t0)
            time.sleep(0.05)
        return out

    def idle_bytes(self, tmp: str, seconds: float) -> int:
        out = Path(tmp) / "idle.bin"
        out.write_bytes(b"")
        subprocess.run([*self.base, "pipe-pane", "-t", "b", "-o", f"cat >> {out}"], check=True)
        time.sleep(seconds)
        subprocess.run([*self.base, "pipe-pane", "-t", "b"], check=True)
        time.sleep(0.2)
        return out.stat().st_size

    def settle(self, tmp: str) -> None:
        """Until a second passes with nothing written (SETTLE seconds at most)."""
        deadline = time.perf_counter() + SETTLE
        while time.perf_counter() < deadline and self.idle_bytes(tmp, 1.0):
            pass

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def _floor(keys: int) -> tuple[list[float], int]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(FLOOR_APP)
    with tempfile.TemporaryDirectory(prefix="wbf-") as tmp:
        pane = Pane(tmp, f"exec {sys.executable} {fh.name}")
        try:
            pane.wait("item 3")
            pane.settle(tmp)
            idle = pane.idle_bytes(tmp, IDLE)
            return pane.keystrokes(keys), idle
        finally:
            pane.close()


def screens(home: Home, keys: int = 30) -> list[dict[str, str]]:
    if shutil.which("tmux") is None:
        return [row("screens in a terminal", "skipped: tmux missing")]
    rows = []
    floor_lat, floor_idle = _floor(keys)
    with tempfile.TemporaryDirectory(prefix="wbs-") as tmp:
        pane = Pane(tmp, f"cd {ROOT} && exec {sys.executable} -m workbench --home {home.root}")
        try:
            pane.wait("● engine")
            for key, name, pair, loaded in SCREENS:
                pane.send("-l", key)
                pane.wait(loaded)
                pane.settle(tmp)
                idle = pane.idle_bytes(tmp, IDLE)
                lat = pane.keystrokes(keys, pair)
                o50, o99 = pct(lat, 50) * 1e3, pct(lat, 99) * 1e3
                f50, f99 = pct(floor_lat, 50) * 1e3, pct(floor_lat, 99) * 1e3
                rows.append(
                    row(
                        f"{name}: {'/'.join(pair)} to repaint in tmux, p50 / p99",
                        f"{o50:.1f} / {o99:.1f} ms",
                        "p99 < 50 ms",
                        f"{f50:.1f} / {f99:.1f} ms minimal app",
                        f"{o50 / f50:.2f}x / {o99 / f99:.2f}x floor",
                    )
                )
                rows.append(
                    row(
                        f"{name}: idle terminal output",
                        f"{idle / IDLE:,.0f} B/s",
                        "0 B/s",
                        f"{floor_idle / IDLE:,.0f} B/s minimal app",
                        "",
                    )
                )
        finally:
            pane.close()
    return rows
