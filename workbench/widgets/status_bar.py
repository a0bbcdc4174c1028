"""One line at the bottom: engine state, device and memory, running jobs."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from workbench.engine.link import LinkState

_STATE_STYLE = {
    "starting": ("◌", "yellow", "starting engine"),
    "connected": ("●", "green", "engine"),
    "reconnecting": ("◌", "yellow", "reconnecting"),
    "failed": ("✖", "red", "engine failed"),
    "stopped": ("■", "red", "engine stopped (s in its dialog starts it)"),
}


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


def render_status(state: LinkState, width: int = 80, mode: str = "") -> Text:
    """The status line for a link state and the screen's keyboard mode (pure: the tests call
    it). The device's load (and a CPU's memory in use) shows only while a job runs, so an idle
    app's line stays still."""
    glyph, colour, label = _STATE_STYLE[state.status]
    text = Text()
    if mode:
        text.append(f"{mode} ", style="bold reverse" if mode.startswith("TEXT") else "bold")
        text.append("│ ", style="dim")
    text.append(f"{glyph} ", style=colour)
    if state.status == "connected" and time.time() - state.restarted_at < 10:
        text.append("engine restarted", style="bold yellow")
    elif state.status == "failed":
        text.append(f"{label}: {state.message}", style=colour)
    else:
        text.append(label, style=colour)
    if state.remote and state.host:  # the engine is on another machine: say which
        text.append(f"@{state.host[:24]}", style=colour)
    dev = state.device
    jobs = [j for j in state.jobs.values() if j.state in ("queued", "running")]
    if dev is not None and state.status == "connected":
        text.append(" │ ", style="dim")
        if dev.kind == "unknown":
            text.append(dev.name, style="dim")  # torch still loading in the engine
        else:
            text.append(dev.kind.upper(), style="bold")
            if dev.kind != "cpu" and "bf16" in state.capabilities:
                text.append(" bf16", style="dim")
        if dev.memory_total and (jobs or dev.kind != "cpu"):
            text.append(f" {_gib(dev.memory_used)}/{_gib(dev.memory_total)}G")
        elif dev.memory_total:  # the machine's RAM in use moves with every process on it
            text.append(f" {_gib(dev.memory_total)}G")
        if dev.utilisation is not None and jobs:
            text.append(f" {dev.utilisation:.0f}%")
    for job in jobs[:2]:
        text.append(" │ ", style="dim")
        pct = f" {100 * job.done / job.total:.0f}%" if job.total > 0 else ""
        text.append(f"{job.title}{pct}", style="cyan")
    if len(jobs) > 2:
        text.append(f" +{len(jobs) - 2} jobs", style="cyan")
    if jobs:
        text.append("  J jobs", style="dim")
    text.truncate(width, overflow="ellipsis")
    return text


class StatusBar(Static):
    """Reads the link state on a timer; never redraws per event."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, state: LinkState, interval: float = 0.25) -> None:
        super().__init__("", id="status-bar")
        self._state = state
        self._interval = interval
        self._shown: tuple[str, tuple[object, ...]] | None = None

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(self._interval, self.refresh_status)

    def refresh_status(self) -> None:
        screen = self.screen
        mode_label = getattr(screen, "mode_label", None)
        mode = mode_label() if callable(mode_label) else ""
        text = render_status(self._state, max(self.size.width - 2, 20), mode)
        shown = (text.plain, tuple(text.spans))
        if shown == self._shown:
            return  # unchanged: an idle app writes nothing to the terminal
        self._shown = shown
        self.update(text)
