"""The app in a browser: keystroke to repaint through `workbench serve` in headless Chromium.

The key switches screens (1 and 2 in turn: datasets, tokenizers). Timed inside the page: from
the keydown event to the first websocket frame of app output after it (the repaint starts), and
to the last frame of that burst (no frame for QUIET seconds: the repaint is done), with
performance.now(), so neither playwright's round trips nor this process's scheduling count.

Peer: the same app, the same keys, in tmux (80x24; the pane polled every ~2 ms until it
changes, then until it holds still), in the same run on the same engine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.common import ROOT, pct, row
from bench.screens_bench import Pane
from engine.paths import Home

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREEN_KEYS = ("2", "1")  # tokenizers, datasets: each press redraws the whole screen
PAIRS = {SCREEN_KEYS: "screen switch (2 / 1)", ("j", "k"): "datasets rows j / k"}
LOADED = {"1": "12,808", "2": "compare:"}  # what each screen shows once it has loaded
QUIET = 0.25  # seconds with no output: the repaint is over
TIMING = """
(() => {
  const Base = window.WebSocket;
  const t = { frames: [], keys: [] };
  window.__wb = t;
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (typeof e.data !== "string") t.frames.push(performance.now());  // text: pongs
      });
    }
  };
  window.addEventListener("keydown", () => t.keys.push(performance.now()), true);
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serving(home: Home, port: int) -> Iterator[None]:
    """`workbench serve` on the home, ready when its port answers; Ctrl+C'd afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--home", str(home.root), "serve", "--port", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.perf_counter() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"workbench serve exited {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("workbench serve never listened")
            time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _frames(page: Any) -> list[float]:
    return list(page.evaluate("window.__wb.frames"))


def _quiet(page: Any, timeout: float = 5.0, more_than: int = -1) -> list[float]:
    """Wait until there are more than more_than frames and then none has come for QUIET
    seconds; the frames' times so far."""
    deadline = time.perf_counter() + timeout
    frames = _frames(page)
    while len(frames) <= more_than and time.perf_counter() < deadline:
        page.wait_for_timeout(2)
        frames = _frames(page)
    while time.perf_counter() < deadline:
        page.wait_for_timeout(QUIET * 1000)
        now = _frames(page)
        if len(now) == len(frames):
            return now
        frames = now
    return frames


Timings = dict[tuple[str, str], tuple[list[float], list[float]]]


def browser_latency(home: Home, presses: int) -> Timings:
    """For each pair of keys (pressed in turn): seconds from each keydown to the first and to
    the last frame of its repaint, in Chromium through `workbench serve`."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    out: Timings = {}
    with _serving(home, port), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 740, "height": 450})  # about 80x24
            page.add_init_script(TIMING)
            page.route("**/fonts.googleapis.com/**", lambda route: route.abort())
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            page.click("#terminal", position={"x": 40, "y": 9})  # the Datasets tab: keys go in
            for key in SCREEN_KEYS:  # each screen loaded once before timing
                page.keyboard.press(key)
                page.wait_for_timeout(1000)
            _quiet(page, timeout=30)
            for keys in PAIRS:
                first: list[float] = []
                done: list[float] = []
                for i in range(presses):
                    before = len(_quiet(page))
                    page.keyboard.press(keys[i % 2])
                    frames = _quiet(page, more_than=before)
                    key_t = page.evaluate("window.__wb.keys.at(-1)")
                    after = [t for t in frames[before:] if t >= key_t]
                    if after:
                        first.append((after[0] - key_t) / 1e3)
                        done.append((after[-1] - key_t) / 1e3)
                out[keys] = first, done
        finally:
            browser.close()
    return out


def tmux_latency(home: Home, presses: int) -> Timings:
    """The same in tmux: seconds from sending each key to the pane's first change, and to the
    last change before it holds still for QUIET seconds."""
    out: Timings = {}
    with tempfile.TemporaryDirectory(prefix="wbsv-") as tmp:
        pane = Pane(tmp, f"cd {ROOT} && exec {sys.executable} -m workbench --home {home.root}")
        try:
            pane.wait("● engine")
            for key in SCREEN_KEYS:
                pane.send("-l", key)
                pane.wait(LOADED[key])
            pane.settle(tmp)
            for keys in PAIRS:
                first: list[float] = []
                done: list[float] = []
                for i in range(presses):
                    before = pane.text()
                    t0 = time.perf_counter()
                    pane.send("-l", keys[i % 2])
                    changed = last = None
                    while time.perf_counter() - t0 < 5:
                        now = pane.text()
                        t = time.perf_counter()
                        if now != before:
                            changed = changed or t
                            last, before = t, now
                        elif last is not None and t - last > QUIET:
                            break
                        time.sleep(0.002)
                    if changed is not None and last is not None:
                        first.append(changed - t0)
                        done.append(last - t0)
                out[keys] = first, done
        finally:
            pane.close()
    return out


def serve_bench(home: Home, presses: int = 30) -> list[dict[str, str]]:
    if not os.path.exists(CHROMIUM):
        return [row("serve: keystroke to repaint in a browser", f"skipped: no {CHROMIUM}")]
    try:
        import playwright  # noqa: F401
    except ImportError:
        return [row("serve: keystroke to repaint in a browser", "skipped: no playwright")]
    browser = browser_latency(home, presses)
    tmux = tmux_latency(home, presses) if shutil.which("tmux") else {}
    rows = []
    for keys, name in PAIRS.items():
        for i, what in enumerate(("first frame", "repaint done")):
            ours = browser[keys][i]
            b50, b99 = pct(ours, 50) * 1e3, pct(ours, 99) * 1e3
            peer = ratio = ""
            if keys in tmux:
                theirs = tmux[keys][i]
                t50, t99 = pct(theirs, 50) * 1e3, pct(theirs, 99) * 1e3
                peer = f"{t50:.1f} / {t99:.1f} ms in tmux"
                ratio = f"{b50 / t50:.2f}x / {b99 / t99:.2f}x tmux"
            rows.append(
                row(
                    f"serve: {name} to {what} in Chromium, p50 / p99 ({len(ours)} keys)",
                    f"{b50:.1f} / {b99:.1f} ms",
                    "p99 < 100 ms",
                    peer,
                    ratio,
                )
            )
    return rows
