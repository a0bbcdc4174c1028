"""What a screen may use of the app: ask the engine, subscribe to its events, the shared lists,
go to another screen, notify. Screens and dialogs depend on this interface, never on the app
class or on another screen; the app (workbench.app) implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from textual.dom import DOMNode
from textual.screen import Screen

from engine import protocol as P
from workbench.engine.catalog import Catalog
from workbench.engine.link import LinkState
from workbench.viewstate import ViewState

R = TypeVar("R")
E = TypeVar("E")


@runtime_checkable
class Shell(Protocol):
    """The app as its screens see it."""

    @property
    def catalog(self) -> Catalog:
        """Datasets, tokenizers, vector sources and runs, kept current."""
        ...

    @property
    def link_state(self) -> LinkState:
        """The engine link: status, device, jobs (read it on a timer, never per event)."""
        ...

    @property
    def connected(self) -> bool: ...

    @property
    def view_state(self) -> ViewState:
        """How the user left the screens (get/set JSON values), kept across restarts."""
        ...

    async def ask(self, call: P.Returns[R], timeout: float | None = 120.0) -> R:
        """The call's one result; EngineError when the engine refuses it or is gone."""
        ...

    def subscribe(
        self,
        node: DOMNode,
        kind: type[E],
        callback: Callable[[E], Any],
        immediate: bool = False,
    ) -> None:
        """Call back node with every engine event of this type while it is mounted;
        immediate=True runs the callback at once (for cheap appends), else on node's queue."""
        ...

    def subscribe_ready(self, node: DOMNode, callback: Callable[[bool], Any]) -> None:
        """Call back node each time the engine link is (re)established; True: it restarted."""
        ...

    def subscribe_catalog(self, node: DOMNode, callback: Callable[[str], Any]) -> None:
        """Call back node with the kind of list ("datasets", ...) each time one is refreshed."""
        ...

    def navigate(self, mode: str, **params: Any) -> None:
        """Go to a screen by its mode name; it gets params in arrive()."""
        ...

    def screen_list(self) -> list[tuple[str, str, str]]:
        """(mode, number key, title) of every screen, for the screen bar."""
        ...

    def mode_of(self, screen: Screen[Any]) -> str: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


class ShellUser:
    """Mixin for screens and dialogs: self.shell is the app as a Shell."""

    @property
    def shell(self) -> Shell:
        app = self.app  # type: ignore[attr-defined]
        if not isinstance(app, Shell):
            raise TypeError(f"{type(app).__name__} does not provide the workbench shell")
        return app
