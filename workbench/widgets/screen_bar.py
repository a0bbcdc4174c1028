"""The top line: every screen with its number key, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

TAIL = ("  ? help · ctrl+p commands", "  ? help")  # the longest that fits is shown


def render_screens(screens: list[tuple[str, str, str]], current: str, width: int = 200) -> Text:
    """screens: (mode, key, title) in order; then the help key, and the palette's where the
    width has room (never cut halfway)."""
    text = Text()
    for mode, key, title in screens:
        style = "bold reverse" if mode == current else ""
        text.append(f" {key} ", style="bold" if mode != current else style)
        text.append(f"{title} ", style=style)
        text.append(" ")
    tail = next((t for t in TAIL if text.cell_len + len(t) <= width), TAIL[-1])
    text.append(tail, style="dim")
    return text


class ScreenBar(Static):
    DEFAULT_CSS = """
    ScreenBar { height: 1; background: $panel; }
    """

    def __init__(self, screens: list[tuple[str, str, str]], current: str) -> None:
        super().__init__(render_screens(screens, current), id="screen-bar")
        self._screens, self._current = screens, current

    def on_resize(self) -> None:
        self.update(render_screens(self._screens, self._current, self.size.width))
