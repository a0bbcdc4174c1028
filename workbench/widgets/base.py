"""The frame every workbench screen shares: its content, the status bar, the footer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from workbench.shell import ShellUser
from workbench.widgets.screen_bar import ScreenBar
from workbench.widgets.status_bar import StatusBar


class WorkbenchScreen(ShellUser, Screen[None]):
    """Subclasses yield their content from compose_body(); self.shell is the app."""

    def compose(self) -> ComposeResult:
        yield ScreenBar(self.shell.screen_list(), self.shell.mode_of(self))
        yield from self.compose_body()
        yield StatusBar(self.shell.link_state)
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def arrive(self, **params: Any) -> None:
        """Another screen sent the user here with params (shell.navigate); e.g. run_id."""

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        """(title, bindings) of the dialogs and widgets this screen opens, for the help."""
        return []
