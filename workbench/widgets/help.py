"""The help screen: every key of the app and its screens, with binding ids."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def binding_rows(
    sources: Iterable[tuple[str, Iterable[BindingType]]], keymap: dict[str, str]
) -> list[tuple[str, str, str, str]]:
    """(where, keys, description, id) for every binding, with user remaps applied."""
    rows = []
    for where, bindings in sources:
        for b in bindings:
            if not isinstance(b, Binding):
                continue
            keys = keymap.get(b.id or "", b.key)
            desc = b.description or b.action
            rows.append((where, keys.replace("question_mark", "?"), desc, b.id or ""))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; max-width: 100; height: 90%; border: thick $accent;
                            background: $surface; padding: 0 1; }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen #help-note { height: auto; color: $text-muted; }
    """

    def __init__(self, rows: list[tuple[str, str, str, str]], note: str) -> None:
        super().__init__()
        self._rows = rows
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Keys[/b]  (escape closes)")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("where", "key", "does", "id")
            for row in self._rows:
                table.add_row(*row)
            yield table
            yield Static(self._note, id="help-note")
