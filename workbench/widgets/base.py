"""The frame every workbench screen shares: its content, the status bar, the footer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent

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


class TabbedScreen(WorkbenchScreen):
    """A screen built around one TabbedContent (id TABS): a key bound to show_tab('name')
    shows that tab, and a key whose action TAB_ACTIONS names works only on those tabs (the
    footer shows the keys that apply where you are)."""

    TABS: ClassVar[str] = ""
    FIRST_TAB: ClassVar[str] = ""
    TAB_ACTIONS: ClassVar[dict[str, set[str]]] = {}
    # what to focus on each tab: TabbedContent shows whichever pane holds the focused widget
    TAB_FOCUS: ClassVar[dict[str, str]] = {}

    @property
    def active_tab(self) -> str:
        tabs = self.query("#" + self.TABS)
        return tabs.first(TabbedContent).active if tabs else self.FIRST_TAB

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        active = self.active_tab
        if action == "show_tab":
            return parameters[0] != active  # no key for the tab you are on
        allowed = self.TAB_ACTIONS.get(action)
        return allowed is None or active in allowed

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.refresh_bindings()

    def show_tab(self, tab: str) -> None:
        self.query_one(self.TAB_FOCUS[tab]).focus()  # focus first: the pane follows it
        self.query_one("#" + self.TABS, TabbedContent).active = tab

    def action_show_tab(self, tab: str) -> None:
        self.show_tab(tab)
