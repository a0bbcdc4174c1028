"""The inspector's model-input tab: the lines as one batch, input_ids and attention mask."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P
from workbench.widgets.token_view import mask_rows, model_input_grid


class GridTab(TabPane):
    """The options line (#grid-opts) over the grid of ids or tokens and the mask (#grid-view)."""

    def __init__(self) -> None:
        super().__init__("Model input g", id="grid")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="grid-scroll"):
            yield Static("", id="grid-opts")
            yield Static("", id="grid-view")

    def show_options(self, line: str) -> None:
        self.query_one("#grid-opts", Static).update(Text(line, style="dim"))

    def say(self, message: Text) -> None:
        self.query_one("#grid-view", Static).update(message)

    def show(
        self, grid: P.TokenizeResult, tokenizer: str, lines: list[str], show_tokens: bool
    ) -> None:
        width = self.query_one("#grid-scroll").size.width or 70
        title = Text(
            f"input_ids from {tokenizer}" + (" (tokens)" if show_tokens else ""), style="bold"
        )
        cells = model_input_grid(grid, lines, width, show_tokens)
        self.query_one("#grid-view", Static).update(
            Group(title, cells, Text(""), mask_rows(grid, width))
        )
