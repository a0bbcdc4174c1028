"""The help screen: every key of the app and its screens, with binding ids."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


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
            rows.append(
                (where, keys.replace("question_mark", "?").replace("slash", "/"), desc, b.id or "")
            )
    return rows


def help_text(rows: list[tuple[str, str, str, str]]) -> Text:
    """Grouped by where a key works: key, what it does, its id."""
    text = Text()
    where = None
    for group, keys, desc, bid in rows:
        if group != where:
            where = group
            text.append(f"\n{group}\n" if text else f"{group}\n", style="bold underline")
        text.append(f"  {keys:<16}", style="bold cyan")
        text.append(f"{desc:<20} ")
        text.append(f"{bid}\n", style="dim")
    return text


class HelpScreen(ModalScreen[None]):
    # a modal screen ends the binding chain: the app's j/k/g/G do not reach it, so its own do
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="help.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="help.up"),
        Binding("g", "scroll('home')", "First", show=False, id="help.first"),
        Binding("G", "scroll('end')", "Last", show=False, id="help.last"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 100%; max-width: 100; height: 100%; border: thick $accent;
                            background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen #help-note { height: auto; color: $text-muted; }
    """

    def __init__(self, rows: list[tuple[str, str, str, str]], note: str) -> None:
        super().__init__()
        self.rows = rows
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Keys (escape closes; j/k or arrows scroll)", style="bold"))
            with VerticalScroll(id="help-keys"):
                yield Static(help_text(self.rows), id="help-text")
            yield Static(Text(self._note), id="help-note")

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()

    def action_scroll(self, where: str) -> None:
        keys = self.query_one("#help-keys", VerticalScroll)
        {
            "down": keys.scroll_down,
            "up": keys.scroll_up,
            "home": keys.scroll_home,
            "end": keys.scroll_end,
        }[where](animate=False)
