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
    """Dismisses with "start" (s) or "quit" (q); esc stays, offline, until a key says."""

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
            yield Static(
                Text(
                    "Someone stopped it (workbench engine stop). Nothing was started in its "
                    "place; the app reconnects by itself if another client starts one."
                )
            )
            yield Static(Text("s start it   q quit   esc stay offline"), id="stopped-keys")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
