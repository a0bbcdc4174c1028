"""The frame every workbench screen shares: its content, the status bar, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from workbench.widgets.screen_bar import ScreenBar
from workbench.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from workbench.app import WorkbenchApp


class WorkbenchScreen(Screen[None]):
    """Subclasses yield their content from compose_body()."""

    @property
    def wb(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    def compose(self) -> ComposeResult:
        yield ScreenBar(self.wb.screen_list(), self.wb.mode_of(self))
        yield from self.compose_body()
        yield StatusBar(self.wb.link.state)
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()
