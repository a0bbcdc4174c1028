"""Asking before a destructive action: what will be lost, y to go ahead, n or esc not to."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from workbench.widgets.base import WorkbenchModal


class ConfirmDialog(WorkbenchModal[bool]):
    """Dismisses with True on y (or the action's own key); None on n or esc."""

    BINDINGS: ClassVar = [
        Binding("y", "yes", "Yes", id="confirm.yes"),
        Binding("n", "close", "No", id="confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 64; max-width: 100%; height: auto; max-height: 100%;
                               border: heavy $warning; background: $surface; padding: 0 1; }
    ConfirmDialog #confirm-keys { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, lost: str, yes: str = "delete") -> None:
        super().__init__()
        self._title = title
        self._lost = lost
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title, style="bold"), id="confirm-title")
            yield Static(Text(self._lost), id="confirm-lost")
            yield Static(Text(f"y {self._yes}   n / esc keep it"), id="confirm-keys")

    def action_yes(self) -> None:
        self.dismiss(True)
