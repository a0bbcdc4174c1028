"""The embeddings' context tab: one word across sentences, and the sentences against each
other, from a contextual model beside a static source's single vector."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static, TabPane, TextArea

from engine import protocol as P
from screens.embeddings.model import SENTENCES, matrix_window, page_columns, sentences_of


def matrix_table(
    title: str, labels: list[str], matrix: list[list[float]], width: int = 80, start: int = 0
) -> Table:
    """Rows for every sentence; the columns from start that fit in width (the rest marked
    `+N →`, h/l pages them); a label too long for its room ends with `…`."""
    window = matrix_window(len(labels), width, start)
    table = Table(
        title=title, title_justify="left", box=None, header_style="dim", padding=(0, 1, 0, 0)
    )
    table.add_column(f"←{window.start}" if window.start else "", no_wrap=True, overflow="ellipsis")
    for i in range(window.start, window.stop):
        table.add_column(str(i), justify="right", no_wrap=True, min_width=4)
    if window.after:
        table.add_column(f"+{window.after} →", style="yellow", no_wrap=True)
    for label, row in zip(labels, matrix, strict=True):
        cells = [
            Text(f"{v:.2f}", style="bold green" if v > 0.8 else "")
            for v in row[window.start : window.stop]
        ]
        table.add_row(label, *cells, *(["…"] if window.after else []))
    return table


def context_view(
    ctx: P.ContextResult,
    sims: P.SentenceSimilarityResult,
    sentences: list[str],
    width: int = 80,
    start: int = 0,
) -> Group:
    cut = ctx.truncated or [False] * len(sentences)
    # what a label says about its sentence comes first: the sentence itself may be cut
    marks = [f"{i}{' (cut)' if c else ''}" for i, c in enumerate(cut)]
    labels = [f"{m} {s}" for m, s in zip(marks, sentences, strict=True)]
    word_labels = [
        f"{m}{'' if f else ' (absent)'} {s}"
        for m, f, s in zip(marks, ctx.found, sentences, strict=True)
    ]
    static = (
        f"{ctx.static_source}: one vector for '{ctx.word}', so 1.00 between any two sentences"
        if ctx.static_known
        else f"{ctx.static_source} does not know '{ctx.word}'"
    )
    pieces = "  ".join(f"{i}: {'+'.join(p)}" for i, p in enumerate(ctx.pieces) if p)
    title = f"'{ctx.word}' in context ({ctx.source})"
    return Group(
        matrix_table(title, word_labels, ctx.similarity, width, start),
        Text(static, style="yellow"),
        Text(f"pieces averaged: {pieces}", style="dim"),
        Text(""),
        matrix_table(f"sentence similarity ({sims.source})", labels, sims.matrix, width, start),
    )


class ContextTab(TabPane):
    """The word (#ctx-word) and sentences (#ctx-sentences) over both matrices (#ctx-view)."""

    def __init__(self) -> None:
        super().__init__("Context x", id="context")
        self.shown: tuple[P.ContextResult, P.SentenceSimilarityResult, list[str]] | None = None
        self.start = 0  # the first column of the matrices shown
        self._drawn: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="ctx-inputs"):
            yield Input("bat", placeholder="word", id="ctx-word", compact=True)
        yield TextArea(SENTENCES, id="ctx-sentences", show_line_numbers=False)
        with VerticalScroll(id="ctx-scroll"):
            yield Static("", id="ctx-view")

    @property
    def word(self) -> str:
        return self.query_one("#ctx-word", Input).value.strip()

    @property
    def sentences(self) -> list[str]:
        return sentences_of(self.query_one("#ctx-sentences", TextArea).text)

    def edit_sentences(self) -> None:
        self.query_one("#ctx-sentences", TextArea).focus()

    def say(self, message: Text) -> None:
        self._drawn = None
        self.query_one("#ctx-view", Static).update(message)

    def show(
        self, ctx: P.ContextResult, sims: P.SentenceSimilarityResult, sentences: list[str]
    ) -> None:
        self.shown = (ctx, sims, sentences)
        self.start = 0
        self._drawn = None
        self.redraw()

    @property
    def width(self) -> int:
        return max(self.query_one("#ctx-scroll").scrollable_content_region.width, 20)

    def page(self, direction: int) -> bool:
        """The next (+1) or previous (-1) columns of the matrices; False when none."""
        if self.shown is None:
            return False
        window = matrix_window(len(self.shown[2]), self.width, self.start)
        start = page_columns(window, direction)
        if start == window.start:
            return False
        self.start = start
        self.redraw()
        return True

    def redraw(self) -> None:
        if self.shown is None:
            return
        width = self.width
        key = (id(self.shown), width, self.start)
        if key == self._drawn:
            return  # nothing changed: nothing written to the terminal
        self._drawn = key
        view = context_view(*self.shown, width=width, start=self.start)
        self.query_one("#ctx-view", Static).update(view)

    def on_resize(self) -> None:
        self.call_after_refresh(self.redraw)
