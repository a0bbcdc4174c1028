"""Said when the engine was stopped on purpose (`workbench engine stop`) while the app was
attached: the app does not start another behind the user's back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from workbench.widgets.base import WorkbenchModal


class EngineStoppedScreen(WorkbenchModal[str]):
    """Dismisses with "start" (s) or "quit" (q); esc stays, offline, until a key says. An
    engine this app cannot start (one reached through a socket or ssh: `where` says where)
    has no s: the dialog says to start it where it runs."""

    def __init__(self, can_start: bool = True, where: str = "") -> None:
        super().__init__()
        self.can_start = can_start
        self.where = where

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("start",) and not self.can_start:
            return False
        return super().check_action(action, parameters)

    BINDINGS: ClassVar = [
        Binding("s", "choose('start')", "Start engine", id="stopped.start"),
        Binding("q", "choose('quit')", "Quit", id="stopped.quit"),
    ]

    DEFAULT_CSS = """
    EngineStoppedScreen { align: center middle; }
    EngineStoppedScreen > Vertical { width: 60; max-width: 100%; height: auto;
                                     border: heavy $error; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("The engine was stopped", style="bold"))
            if self.can_start:
                said = (
                    "Someone stopped it (workbench engine stop). Nothing was started in its "
                    "place; the app reconnects by itself if another client starts one."
                )
                keys = "s start it   q quit   esc stay offline"
            else:
                said = (
                    f"Someone stopped the engine {self.where}. This app does not start one "
                    "there: start it where it runs (workbench engine start), and the app "
                    "reconnects by itself."
                )
                keys = "q quit   esc stay offline"
            yield Static(Text(said))
            yield Static(Text(keys), id="stopped-keys")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
