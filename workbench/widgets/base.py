"""The frame every workbench screen shares (its content, the status bar, the footer) and the
one keyboard model of them all.

Command mode: a screen opens with the focus on its main list or table (MAIN, or TAB_FOCUS
for the tab on show), where j/k/g/G move at once and letters are commands. Text mode: a text
box (an Input or an editable TextArea) has the focus, entered explicitly (/, e, enter on a
field; a click too); the status bar says so, the box is marked, and esc always leaves it for
the main list. j, k, g and G are never screen commands: they move in the focused list.
Dialogs (WorkbenchModal) always close with esc.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, TabbedContent, TextArea

from workbench.shell import ShellUser
from workbench.widgets.footer import WorkbenchFooter
from workbench.widgets.screen_bar import ScreenBar
from workbench.widgets.status_bar import StatusBar

T = TypeVar("T")

NAV_KEYS = frozenset("jkgG")  # list movement everywhere: no screen binds them


def is_text_entry(widget: Widget | None) -> bool:
    """Whether keys typed into widget are text (an Input, an editable TextArea)."""
    if isinstance(widget, Input):
        return True
    return isinstance(widget, TextArea) and not widget.read_only


def text_entry_name(widget: Widget) -> str:
    """What the status bar calls a text box: its border title, placeholder or id."""
    title = str(widget.border_title or "")
    if not title and isinstance(widget, Input):
        title = widget.placeholder
    return (title or (widget.id or "text").replace("-", " ")).strip()[:30]


class WorkbenchScreen(ShellUser, Screen[None]):
    """Subclasses yield their content from compose_body(); self.shell is the app.

    MAIN is the selector of the list or table that has the focus in command mode (a tabbed
    screen names one per tab in TAB_FOCUS)."""

    MAIN: ClassVar[str] = ""

    def main_selector(self) -> str:
        return self.MAIN

    def main_widget(self) -> Widget | None:
        selector = self.main_selector()
        if not selector:
            return None
        found = self.query(selector)
        return found.first() if found else None

    def command_mode(self) -> bool:
        """True unless a text box has the focus."""
        return not is_text_entry(self.focused)

    def mode_label(self) -> str:
        """The status bar's mode: COMMAND, or TEXT with the box's name."""
        focused = self.focused
        if is_text_entry(focused):
            assert focused is not None
            return f"TEXT {text_entry_name(focused)} · esc leaves"
        return "COMMAND"

    def leave_text(self) -> bool:
        """Back to command mode on the main list, at once (the next key goes there); False
        when no text box had the focus."""
        if not is_text_entry(self.focused):
            return False
        main = self.main_widget()
        if main is not None and main.focusable:
            self.set_focus(main)
        else:
            self.set_focus(None)
        self.on_text_left()
        return True

    def on_text_left(self) -> None:
        """A screen's hook: the user left a text box with esc (apply, or keep, its value)."""

    def focus_main(self) -> None:
        """Command mode on the main list (when it can take the focus)."""
        main = self.main_widget()
        if main is not None and main.focusable:
            self.set_focus(main)

    def on_screen_resume(self) -> None:
        # a screen (re)opens in command mode on its main list
        if self.focused is None or is_text_entry(self.focused):
            self.call_after_refresh(self.focus_main)

    def compose(self) -> ComposeResult:
        yield ScreenBar(self.shell.screen_list(), self.shell.mode_of(self))
        yield from self.compose_body()
        yield StatusBar(self.shell.link_state)
        yield WorkbenchFooter()

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

    def main_selector(self) -> str:
        return self.TAB_FOCUS.get(self.active_tab, self.MAIN)

    _tabs: TabbedContent | None = None

    @property
    def active_tab(self) -> str:
        # asked for every binding on every footer redraw: find the tabs once, not per call
        if self._tabs is None or not self._tabs.is_attached:
            found = self.query("#" + self.TABS)
            if not found:
                return self.FIRST_TAB
            self._tabs = found.first(TabbedContent)
        return self._tabs.active

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


class WorkbenchModal(ModalScreen[T]):
    """A dialog: esc always closes it (with None), from a text box in it too, whatever it
    waits for. Subclasses add their own BINDINGS; this one is inherited."""

    # a modal screen ends the binding chain, so the app's j/k/g/G are repeated here
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close", id="dialog.close"),
        Binding("j", "nav('down')", "Down", show=False, id="dialog.nav.down"),
        Binding("k", "nav('up')", "Up", show=False, id="dialog.nav.up"),
        Binding("g", "nav('first')", "First", show=False, id="dialog.nav.first"),
        Binding("G", "nav('last')", "Last", show=False, id="dialog.nav.last"),
    ]

    def action_close(self) -> None:
        self.dismiss(None)

    def action_nav(self, where: str) -> None:
        """j/k/g/G in the dialog's focused list, table, tree or scrolling pane."""
        nav = getattr(self.app, "action_nav", None)
        if callable(nav):
            nav(where)
