"""Pilot helpers: wait for a condition (never a fixed sleep), read what a widget shows, a real
engine with trained runs for a test module, and an app that starts from a fresh view state."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from engine.paths import resolve_home
from tests.helpers.cli import wb
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from workbench.app import WorkbenchApp
from workbench.viewstate import view_state_path


async def wait_for(pilot: Pilot[object], cond: Callable[[], bool], timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def shown(app: App[object], selector: str) -> str:
    """The plain text a Static shows, whatever rich renderable it holds."""
    content = app.screen.query_one(selector, Static).content
    if isinstance(content, str):
        return content
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


@contextmanager
def engine_with_runs(
    tmp: Path, configs: Callable[[RunningEngine], Iterable[Path]]
) -> Iterator[RunningEngine]:
    """A real engine on a home under tmp that has trained each run configs(engine) gives (it
    may import data first), in order, to the end; stopped after."""
    home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        for config in configs(engine):
            out = wb(engine, "train", str(config), "--follow")
            assert out.returncode == 0, out.stderr[-2000:]
        yield engine
    finally:
        stop_engine(proc)


def fresh_app(engine: RunningEngine) -> WorkbenchApp:
    """The app on engine's home as first seen: no view state kept from another test."""
    app = WorkbenchApp(engine.home)
    view_state_path(app.endpoint.describe()).unlink(missing_ok=True)
    return WorkbenchApp(engine.home)
