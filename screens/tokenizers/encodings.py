"""The inspector's encodings tab: the text as a bag of words, tf-idf or one-hot vector."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static, TabPane

from engine import protocol as P


def encoding_line(res: P.EncodeResult) -> Text:
    line = Text.assemble(
        (res.kind, "bold"),
        f" of the text against {res.dataset}'s vocabulary ",
        f"({res.vocabulary_size:,} terms): {res.nonzero} non-zero · K kind · d dataset",
    )
    if res.unknown:
        more = f" +{len(res.unknown) - 20} more" if len(res.unknown) > 20 else ""
        line.append(f"\nnot in the vocabulary: {', '.join(res.unknown[:20])}{more}", style="yellow")
    return line


class EncodingsTab(TabPane):
    """What the encoding says (#enc-opts) over its non-zero terms (#enc-table)."""

    def __init__(self) -> None:
        super().__init__("Encodings v", id="vectors")

    def compose(self) -> ComposeResult:
        yield Static("", id="enc-opts")
        yield DataTable(id="enc-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#enc-table", DataTable).add_columns("term", "index", "value")

    def say(self, message: Text) -> None:
        self.query_one("#enc-opts", Static).update(message)

    def show(self, res: P.EncodeResult) -> None:
        table = self.query_one("#enc-table", DataTable)
        table.clear()
        for t in res.terms:
            table.add_row(t.term, str(t.index), f"{t.value:.4g}")
        self.say(encoding_line(res))
