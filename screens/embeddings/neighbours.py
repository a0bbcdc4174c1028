"""The embeddings' neighbours tab: the nearest words of a query in one or two vector sources."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P
from workbench.engine.client import EngineError


def bar(score: float, width: int) -> Text:
    filled = max(0, min(width, round(width * max(score, 0.0))))
    return Text("█" * filled + "·" * (width - filled), style="cyan")


def neighbour_table(res: P.NeighboursResult, width: int) -> Table:
    bar_w = max(width - 28, 4)
    table = Table(
        title=res.source, title_justify="left", box=None, header_style="dim", padding=(0, 1, 0, 0)
    )
    table.add_column("#", justify="right")
    table.add_column("word", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("cos", justify="right")
    table.add_column("", no_wrap=True)
    for i, n in enumerate(res.neighbours):
        table.add_row(str(i + 1), n.word, f"{n.score:.3f}", bar(n.score, bar_w))
    return table


class NeighboursTab(TabPane):
    """The source's neighbours (#near-a) beside the compared source's (#near-b)."""

    def __init__(self) -> None:
        super().__init__("Neighbours n", id="near")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="near-scroll"), Horizontal(id="near-row"):
            yield Static("", id="near-a")
            yield Static("", id="near-b")

    def show(self, names: list[str], answers: list[object]) -> None:
        """Each source's answer (a NeighboursResult or an EngineError) in its column."""
        width = max((self.query_one("#near-row").size.width or 76) // len(names), 30)
        for slot, name, res in zip(("#near-a", "#near-b"), names, answers, strict=False):
            box = self.query_one(slot, Static)
            if isinstance(res, EngineError):
                box.update(Group(Text(name, style="bold"), Text(str(res), style="red")))
            elif isinstance(res, P.NeighboursResult):
                box.update(neighbour_table(res, width))
        self.query_one("#near-b").display = len(names) > 1
