"""The top line: every screen with its number key, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def render_screens(screens: list[tuple[str, str, str]], current: str) -> Text:
    """screens: (mode, key, title) in order."""
    text = Text()
    for mode, key, title in screens:
        style = "bold reverse" if mode == current else ""
        text.append(f" {key} ", style="bold" if mode != current else style)
        text.append(f"{title} ", style=style)
        text.append(" ")
    text.append("  ? help · ctrl+p commands", style="dim")
    return text


class ScreenBar(Static):
    DEFAULT_CSS = """
    ScreenBar { height: 1; background: $panel; }
    """

    def __init__(self, screens: list[tuple[str, str, str]], current: str) -> None:
        super().__init__(render_screens(screens, current), id="screen-bar")
