"""The browser's rows tab: the search box, the paged row table, the highlighted row in full."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static, TabPane

from engine import protocol as P
from screens.datasets.model import RowFilter
from workbench.widgets.row_table import RowTable


def filter_info(f: RowFilter, total: int | None, rows: int | None, error: str = "") -> Text:
    """The line beside the search box: text or regex, label, split, matches of all rows."""
    info = Text()
    info.append(" regex" if f.regex else " text", style="bold" if f.regex else "dim")
    if f.label is not None:
        info.append(f" │ label {f.label}", style="cyan")
    if f.split is not None:
        info.append(f" │ {f.split}", style="cyan")
    if error:
        info.append(f" │ {error}", style="bold red")
    elif total is not None and rows is not None:
        info.append(f" │ {total:,}/{rows:,}")
    return info


def row_detail(row: P.Row) -> Text:
    head = Text.assemble(
        (f"#{row.index}", "bold"),
        f"  label: {row.label if row.label is not None else '-'}",
        f"  split: {row.split or '-'}",
        f"  {row.text_len:,} chars",
    )
    for k, v in row.extra.items():
        head.append(f"  {k}: {v}", style="dim")
    return Text.assemble(head, "\n", row.text)


class RowsTab(TabPane):
    """Rows matching the filter (#rows-table), searched from #search, one shown in #row-text."""

    class SearchChanged(Message):
        """The search box now holds this text (sent on every keystroke)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self) -> None:
        super().__init__("Rows r", id="rows")

    def compose(self) -> ComposeResult:
        with Horizontal(id="rows-filter"):
            yield Input(placeholder="/ search text", id="search", compact=True)
            yield Static("", id="filter-info")
        yield RowTable(id="rows-table")
        with VerticalScroll(id="row-detail"):
            yield Static("", id="row-text")

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    def clear_search(self) -> None:
        self.query_one("#search", Input).value = ""

    def focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def show_filter(
        self, f: RowFilter, total: int | None = None, rows: int | None = None, error: str = ""
    ) -> None:
        self.query_one("#filter-info", Static).update(filter_info(f, total, rows, error))

    def show_row(self, row: P.Row) -> None:
        self.say(row_detail(row))

    def say(self, message: str | Text) -> None:
        """Put a message where the highlighted row shows."""
        self.query_one("#row-text", Static).update(message)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()
