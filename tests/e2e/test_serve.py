"""`workbench serve`: the app in a real browser (headless Chromium through playwright), on a
real engine; and what the command says before it serves.

The terminal in the page draws on a canvas, so the browser test reads what the app draws from
the websocket's frames (the ANSI text holds every string on screen).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.serve_bench import BROWSER_ARGS, CHROMIUM  # one set of Chromium flags
from engine.paths import resolve_home
from tests.helpers.engine import ROOT, start_engine, stop_engine
from workbench.cli import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_loopback_hosts_and_urls() -> None:
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1")
    assert serve.is_loopback("localhost")
    assert not serve.is_loopback("0.0.0.0") and not serve.is_loopback("192.0.2.7")
    assert not serve.is_loopback("no-such-host.invalid")
    assert serve.public_url_for("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert serve.public_url_for("::1", 8001) == "http://[::1]:8001"
    command = serve.app_command("some/home")
    assert command.startswith(sys.executable) and " -m workbench --home " in command
    assert command.endswith(os.path.abspath("some/home"))


def test_no_auth_warning_is_louder_off_loopback() -> None:
    quiet, loud = serve.warning("127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert not loud and "No authentication" in quiet and "ssh -L 8000:127.0.0.1:8000" in quiet
    text, loud = serve.warning("0.0.0.0", 8000, "http://0.0.0.0:8000")
    assert loud and "NO AUTHENTICATION" in text and "not a loopback" in text


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        args = argparse.Namespace(host="127.0.0.1", port=port, public_url=None, home=None)
        assert serve.cmd_serve(args) == 1
    said = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in said and "already in use" in said and "--port" in said


# ------------------------------------------------------------------ the browser


@pytest.fixture
def sync_api() -> Any:
    """playwright's sync API, entered only after the engine starts: it runs an event loop in
    this thread, where the engine helper's asyncio.run cannot."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def serving(home: str | Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`workbench --home HOME serve --port PORT` in its own process group, ready when the port
    answers; stopped as Ctrl+C stops it (SIGINT to the group), killed if it does not stop."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--home", str(home), "serve", "--port", str(port)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"serve exited {proc.returncode}:\n{log.read_text()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, f"serve never listened:\n{log.read_text()}"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


class Frames:
    """The bytes the app sent the page, as text, read through playwright's websocket events."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.chunks: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._add))

    def _add(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):  # text frames are the page's pings answered
            self.chunks.append(payload.decode("utf-8", "replace"))

    def mark(self) -> int:
        return len(self.chunks)

    def wait_for(self, *texts: str, since: int = 0, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            seen = "".join(self.chunks[since:])
            if all(t in seen for t in texts):
                return
            if time.monotonic() > deadline:
                tail = seen[-2000:]
                raise AssertionError(f"never saw {texts!r} in the frames; the last were:\n{tail}")
            self.page.wait_for_timeout(50)  # playwright delivers events while it waits


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_the_app_in_a_browser(sync_api: Any, tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "home")
    engine = start_engine(home)
    log = tmp_path / "serve.log"
    port = _free_port()
    try:
        with serving(home.root, port, log) as proc, sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 600})
                page.route("**/fonts.googleapis.com/**", lambda route: route.abort())
                frames = Frames(page)
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("body.-first-byte", timeout=30_000)
                frames.wait_for("rotten-tomatoes", "12,808", "engine")  # the datasets screen
                # keys go nowhere until the terminal is clicked: click its first tab (Datasets,
                # the screen already shown)
                page.click("#terminal", position={"x": 40, "y": 9})
                mark = frames.mark()
                page.keyboard.press("2")
                frames.wait_for("compare:", "Model input", since=mark)  # the tokenizers screen
                mark = frames.mark()
                page.keyboard.press("1")  # back: the listing is drawn again
                frames.wait_for("rotten-tomatoes", "12,808", since=mark)
                page.keyboard.press("q")  # the app quits, the page says so; the engine stays
                page.wait_for_selector("body.-closed", timeout=20_000)
            finally:
                browser.close()
            assert engine.poll() is None, "the engine did not outlive the app"
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C
            assert proc.wait(10) == 0, log.read_text()
        said = log.read_text()
        assert "No authentication" in said and f"http://127.0.0.1:{port}" in said, said
        assert "stopped" in said, said
    finally:
        stop_engine(engine)
