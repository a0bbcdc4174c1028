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
from screens.embeddings.model import SENTENCES, sentences_of


def matrix_table(title: str, labels: list[str], matrix: list[list[float]]) -> Table:
    table = Table(
        title=title, title_justify="left", box=None, header_style="dim", padding=(0, 1, 0, 0)
    )
    table.add_column("")
    for i in range(len(labels)):
        table.add_column(str(i), justify="right")
    for label, row in zip(labels, matrix, strict=True):
        cells = [Text(f"{v:.2f}", style="bold green" if v > 0.8 else "") for v in row]
        table.add_row(label, *cells)
    return table


def context_view(
    ctx: P.ContextResult, sims: P.SentenceSimilarityResult, sentences: list[str]
) -> Group:
    cut = ctx.truncated or [False] * len(sentences)
    labels = [
        f"{i} {s[:28]}" + (" (cut)" if c else "")
        for i, (s, c) in enumerate(zip(sentences, cut, strict=True))
    ]
    word_labels = [
        lab + ("" if f else " (absent)") for lab, f in zip(labels, ctx.found, strict=True)
    ]
    static = (
        f"{ctx.static_source}: one vector for '{ctx.word}', so 1.00 between any two sentences"
        if ctx.static_known
        else f"{ctx.static_source} does not know '{ctx.word}'"
    )
    pieces = "  ".join(f"{i}: {'+'.join(p)}" for i, p in enumerate(ctx.pieces) if p)
    return Group(
        matrix_table(f"'{ctx.word}' in context ({ctx.source})", word_labels, ctx.similarity),
        Text(static, style="yellow"),
        Text(f"pieces averaged: {pieces}", style="dim"),
        Text(""),
        matrix_table(f"sentence similarity ({sims.source})", labels, sims.matrix),
    )


class ContextTab(TabPane):
    """The word (#ctx-word) and sentences (#ctx-sentences) over both matrices (#ctx-view)."""

    def __init__(self) -> None:
        super().__init__("Context x", id="context")

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
        self.query_one("#ctx-view", Static).update(message)

    def show(
        self, ctx: P.ContextResult, sims: P.SentenceSimilarityResult, sentences: list[str]
    ) -> None:
        self.query_one("#ctx-view", Static).update(context_view(ctx, sims, sentences))
