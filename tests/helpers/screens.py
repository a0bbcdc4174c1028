"""Pilot helpers: wait for a condition (never a fixed sleep), read what a widget shows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static


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
