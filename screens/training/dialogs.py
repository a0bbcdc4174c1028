"""The monitor's dialog: a new learning rate for the selected run."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class LearningRateScreen(ModalScreen[str | None]):
    """A one-line prompt for a new learning rate (enter applies, escape cancels)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="lr.cancel")]
    DEFAULT_CSS = """
    LearningRateScreen { align: center middle; }
    LearningRateScreen > Vertical { width: 50; height: auto; border: thick $accent;
                                    background: $surface; padding: 0 1; }
    """

    def __init__(self, current: float | None) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"new learning rate (now {self._current:.3g})"
                if self._current
                else "new learning rate"
            )
            yield Input(placeholder="e.g. 3e-4", id="lr-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
