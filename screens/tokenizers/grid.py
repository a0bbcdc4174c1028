"""The inspector's model-input tab: the lines as one batch per tokenizer compared, input_ids,
attention mask and token type ids; positions that do not fit are paged with h/l and marked."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P
from screens.tokenizers.model import GridWindow, grid_cell, grid_window, page_start
from workbench.engine.client import EngineError
from workbench.widgets.token_view import input_grid

GridAnswer = P.TokenizeResult | BaseException


def block_window(res: P.TokenizeResult, width: int, start: int, show_tokens: bool) -> GridWindow:
    """The positions of this tokenizer's batch that fit in width from start."""
    views = res.encodings
    positions = max((len(v.ids) for v in views), default=0)
    if show_tokens:
        values = [t for v in views for t in v.tokens]
        cell = min(max(grid_cell(values), 6), 8)
    else:
        cell = grid_cell([str(i) for v in views for i in v.ids])
    return grid_window(positions, width, start, cell)


def grid_blocks(
    answers: list[tuple[str, GridAnswer]],
    width: int,
    start: int,
    show_tokens: bool,
    more_lines: int = 0,
) -> Group:
    """One block per tokenizer: a title that says which positions are shown, then the grid."""
    blocks: list[RenderableType] = []
    for name, res in answers:
        if isinstance(res, BaseException):
            message = res.message if isinstance(res, EngineError) else str(res)
            blocks += [Text.assemble((f"{name}: ", "bold"), (message, "red")), Text("")]
            continue
        w = block_window(res, width, start, show_tokens)
        views = res.encodings
        title = Text(name, style="bold underline")
        lines = len({v.line for v in views}) if any(v.windows > 1 for v in views) else len(views)
        title.append(f"  {lines} line{'s' * (lines != 1)}")
        if len(views) != lines:  # windows: a row each, labelled line.window
            title.append(f" in {len(views)} windows")
        title.append(f", {w.positions} positions")
        if w.before or w.after:
            title.append(f", showing {w.start}-{w.stop - 1}", style="yellow")
        engine_cut = sum(max(v.n_tokens - len(v.ids), 0) for v in views if not v.truncated)
        if engine_cut:
            title.append(f", {engine_cut:,} tokens past the 512 shown", style="yellow")
        blocks += [title, input_grid(views, w.start, w.stop, w.cell, show_tokens), Text("")]
    if more_lines:
        blocks.append(
            Text(f"+{more_lines} more lines of the text are not in the batch", style="yellow")
        )
    if not answers:
        blocks.append(Text("no tokenizer compared: t chooses", style="dim"))
    return Group(*blocks)


class GridTab(TabPane):
    """The options line (#grid-opts) over one grid per tokenizer compared (#grid-view); it
    re-flows to its width whenever that changes."""

    def __init__(self) -> None:
        super().__init__("Model input i", id="grid")
        self.answers: list[tuple[str, GridAnswer]] = []
        self.start = 0  # the first position shown
        self.show_tokens = False
        self.more_lines = 0
        self._drawn: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="grid-scroll"):
            yield Static("", id="grid-opts")
            yield Static("", id="grid-view")

    def show_options(self, line: str) -> None:
        self.query_one("#grid-opts", Static).update(Text(line, style="dim"))

    def say(self, message: Text) -> None:
        self._drawn = None
        self.query_one("#grid-view", Static).update(message)

    def show(
        self, answers: list[tuple[str, GridAnswer]], show_tokens: bool, more_lines: int = 0
    ) -> None:
        self.answers, self.show_tokens, self.more_lines = answers, show_tokens, more_lines
        self._drawn = None
        self.redraw()

    @property
    def width(self) -> int:
        """Cells the grid may use: the pane less its padding and scroll bar."""
        return max(self.query_one("#grid-scroll").scrollable_content_region.width, 20)

    def widest(self) -> GridWindow | None:
        """The window of the batch with the most positions (what paging steps by)."""
        windows = [
            block_window(res, self.width, self.start, self.show_tokens)
            for _, res in self.answers
            if not isinstance(res, BaseException)
        ]
        return max(windows, key=lambda w: w.positions, default=None)

    def page(self, direction: int) -> bool:
        """The next (+1) or previous (-1) page of positions; False when there is none."""
        window = self.widest()
        if window is None:
            return False
        start = page_start(window, direction)
        if start == window.start:
            return False
        self.start = start
        self.redraw()
        return True

    def redraw(self) -> None:
        if not self.answers:
            return
        width = self.width
        window = self.widest()
        if window is not None:
            self.start = window.start  # clamped to a full last page
        key = (id(self.answers), width, self.start, self.show_tokens, self.more_lines)
        if key == self._drawn:
            return  # nothing changed: nothing written to the terminal
        self._drawn = key
        view = grid_blocks(self.answers, width, self.start, self.show_tokens, self.more_lines)
        self.query_one("#grid-view", Static).update(view)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self.redraw)
