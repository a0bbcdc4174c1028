"""A dialog that asks for a file path and stays open until the path works or the user leaves."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

# Given the path typed, do the work and return None, or return what went wrong.
PathAction = Callable[[str], str | None]


class PathDialog(ModalScreen[str | None]):
    """Enter runs the action on the typed path; an error is shown and the dialog stays open,
    so nothing typed is lost. Dismissed with the path once the action succeeds."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss_none", "Cancel", id="path.cancel")]
    DEFAULT_CSS = """
    PathDialog { align: center middle; }
    PathDialog > Vertical { width: 90%; max-width: 90; height: auto; border: thick $accent;
                            background: $surface; padding: 0 1; }
    PathDialog Input { margin: 1 0; }
    PathDialog #path-message { height: auto; max-height: 4; }
    """

    def __init__(self, title: str, default: str, action: PathAction) -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.action = action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]  enter confirms, escape cancels")
            yield Input(self.default, id="path-input", compact=True)
            yield Static("", id="path-message")
        yield Footer(compact=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self._say("type a file path")
            return
        problem = self.action(path)
        if problem:
            self._say(problem)
            return
        self.dismiss(path)

    def _say(self, message: str) -> None:
        self.query_one("#path-message", Static).update(Text(message, style="bold red"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
