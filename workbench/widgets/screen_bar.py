"""The top line: every screen with its number key, the current one highlighted; where the
width has no room for every title, the other screens' titles are shortened (the current one's
never is), so every number key stays named."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

TAIL = ("  ? help · ctrl+p commands", "  ? help")  # the longest that fits is shown
SHORT = {"Datasets": "Data", "Tokenizers": "Tokens", "Embeddings": "Embed", "Builder": "Build"}
SHORT |= {"Training": "Train", "Predict": "Pred"}


def _bar(screens: list[tuple[str, str, str]], current: str, short: bool) -> Text:
    text = Text()
    for mode, key, title in screens:
        style = "bold reverse" if mode == current else ""
        if short and mode != current:
            title = SHORT.get(title, title[:6])
        text.append(f" {key} ", style="bold" if mode != current else style)
        text.append(f"{title} ", style=style)
        text.append("" if short else " ")
    return text


def render_screens(screens: list[tuple[str, str, str]], current: str, width: int = 200) -> Text:
    """screens: (mode, key, title) in order; then the help key, and the palette's where the
    width has room (never cut halfway). Titles are shortened when they do not fit whole."""
    text = _bar(screens, current, short=False)
    if text.cell_len + len(TAIL[-1]) > width:
        text = _bar(screens, current, short=True)
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
