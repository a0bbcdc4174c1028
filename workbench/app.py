"""The workbench app: screens as modes, global keys, the link to the engine; the Shell its
screens use (workbench.shell).

Never imports torch: all heavy work happens in the engine process.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.signal import Signal

from engine import protocol as P
from engine.paths import Home
from workbench.engine.catalog import Catalog
from workbench.engine.endpoint import Endpoint, endpoint_for
from workbench.engine.link import STOPPED, EngineLink, LinkState
from workbench.keys import keymap_path, load_keymap
from workbench.viewstate import ViewState, view_state_path
from workbench.widgets.base import WorkbenchScreen, is_text_entry
from workbench.widgets.engine_stopped import EngineStoppedScreen
from workbench.widgets.help import HelpScreen, binding_rows

R = TypeVar("R")
E = TypeVar("E")

# (mode, number key, title, "module:class"). Later screens join here as they land. A screen's
# module is imported when it is first opened, not at start: the first paint waits for nothing
# but the datasets screen.
SCREENS: list[tuple[str, str, str, str]] = [
    ("datasets", "1", "Datasets", "screens.datasets:DatasetsScreen"),
    ("tokenizers", "2", "Tokenizers", "screens.tokenizers:TokenizerScreen"),
    ("embeddings", "3", "Embeddings", "screens.embeddings:EmbeddingsScreen"),
    ("builder", "4", "Model", "screens.builder:BuilderScreen"),
    ("training", "5", "Training", "screens.training:TrainingScreen"),
    ("predict", "6", "Predict", "screens.predict:PredictScreen"),
    ("attack", "7", "Attack", "screens.attack:AttackScreen"),
]
_loaded: dict[str, type[WorkbenchScreen]] = {}
_SCREENS_DIR = Path(__file__).resolve().parents[1] / "screens"
# each screen's own stylesheet (its CSS_PATH), read once with the app's: a screen whose CSS is
# new to the app makes Textual re-parse every stylesheet when it first opens (~50 ms each)


def _css_of(where: str) -> Path:
    package = where.split(":")[0].rsplit(".", 1)[-1]  # screens.datasets -> datasets
    return _SCREENS_DIR / package / f"{package}.tcss"


SCREEN_CSS = [_css_of(where) for *_, where in SCREENS]


def screen_class(mode: str) -> type[WorkbenchScreen]:
    """The screen class of a mode, importing its module the first time it is asked for."""
    if mode not in _loaded:
        where = next(path for m, _, _, path in SCREENS if m == mode)
        module, name = where.split(":")
        _loaded[mode] = getattr(importlib.import_module(module), name)
    return _loaded[mode]


def _factory(mode: str) -> Callable[[], Screen[Any]]:
    return lambda: screen_class(mode)()


class WorkbenchApp(App[int]):
    TITLE = "NLP workbench"
    CSS_PATH = [Path(__file__).with_name("app.tcss"), *SCREEN_CSS]  # also for subclasses
    LINK: type[EngineLink] = EngineLink  # what talks to the engine (tests replay recordings)
    ENABLE_COMMAND_PALETTE = True
    MODES = {mode: _factory(mode) for mode, _, _, _ in SCREENS}
    DEFAULT_MODE = "datasets"  # the app opens on it (no blank default screen built first)
    BINDINGS = [
        *[
            # shown in the screen bar at the top rather than the footer
            Binding(key, f"switch_mode('{mode}')", title, show=False, id=f"app.screen.{mode}")
            for mode, key, title, _ in SCREENS
        ],
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("J", "jobs", "Jobs", id="app.jobs"),
        # list movement: the same four keys in every list and table (no screen binds them)
        Binding("j", "nav('down')", "Down", show=False, id="app.nav.down"),
        Binding("k", "nav('up')", "Up", show=False, id="app.nav.up"),
        Binding("g", "nav('first')", "First", show=False, id="app.nav.first"),
        Binding("G", "nav('last')", "Last", show=False, id="app.nav.last"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_anywhere"),
    ]

    def __init__(self, endpoint: Endpoint | Home | None = None) -> None:
        super().__init__()
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else endpoint_for(endpoint)
        self.engine_ready: Signal[bool] = Signal(self, "engine-ready")
        self.catalog_refreshed: Signal[str] = Signal(self, "catalog-refreshed")
        self._signals: dict[type, Signal[Any]] = {}
        self.link = self.LINK(
            self.endpoint,
            on_ready=self._on_engine_ready,
            on_lost=self._on_engine_lost,
            on_stopped=self._on_engine_stopped,
        )
        self._catalog = Catalog(self.link.ask)
        self._catalog.listen(self.catalog_refreshed.publish)
        self.link.subscribe(P.CatalogChanged, self._catalog.changed)
        self.keymap, self._keymap_problem = load_keymap()
        self._view_state = ViewState(view_state_path(self.endpoint.describe()))

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        if self._keymap_problem:
            self.notify(self._keymap_problem, severity="warning", timeout=10)
        if self._view_state.problem:
            self.notify(self._view_state.problem, severity="warning", timeout=10)
        self.set_interval(2.0, self._view_state.save)  # what set() held back; idle: nothing
        # paint first: starting an engine competes with the first frame for the CPU
        self.call_after_refresh(self._start_link)

    def _start_link(self) -> None:
        self.run_worker(self.link.run(), name="engine-link", group="link", exclusive=True)

    def _on_engine_ready(self, restarted: bool) -> None:
        if restarted:
            self.notify(
                "The engine restarted; reconnected. Jobs that were running have stopped.",
                title="engine restarted",
                severity="warning",
                timeout=8,
            )
        self.run_worker(self._catalog.refresh(), group="catalog", exit_on_error=False)
        self.engine_ready.publish(restarted)

    def _on_engine_lost(self, reason: str) -> None:
        if reason == STOPPED:
            return  # said by the stopped dialog
        self.notify(f"{reason}; reconnecting", title="engine lost", severity="error", timeout=6)

    def _on_engine_stopped(self) -> None:
        def chosen(choice: str | None) -> None:
            if choice == "start":
                self.link.start_engine()
            elif choice == "quit":
                self.exit(0)

        if not isinstance(self.screen, EngineStoppedScreen):
            endpoint = self.link.endpoint
            self.push_screen(EngineStoppedScreen(endpoint.spawns, endpoint.describe()), chosen)

    # ------------------------------------------------------------- keys

    async def on_event(self, event: events.Event) -> None:
        """esc leaves a text box at once, so the next key is a command; and an esc that came
        with the next key in one read (tmux, a slow link: Textual reads alt+key) is that esc,
        then that key."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            key, char = event.key, alt_character(event.key)
            if char is not None:
                if not self._binds(key):
                    await self._escape()
                    await super().on_event(events.Key(char, char))
                    return
            if key == "escape" and await self._escape(only_text=True):
                return
        await super().on_event(event)

    def _binds(self, key: str) -> bool:
        return any(key in b.key.split(",") for b in self.BINDINGS if isinstance(b, Binding))

    async def _escape(self, only_text: bool = False) -> bool:
        """What esc does, done now: leave a text box (command mode), else (unless only_text)
        the esc key itself. True when a text box was left."""
        screen = self.screen
        if isinstance(screen, WorkbenchScreen) and is_text_entry(screen.focused):
            return screen.leave_text()
        if not only_text:
            await super().on_event(events.Key("escape", "\x1b"))
        return False

    def action_nav(self, where: str) -> None:
        """j/k/g/G in the focused list, table, tree or scrolling pane."""
        widget = self.focused
        if widget is None:
            return
        names = {
            "down": ("action_cursor_down", "action_scroll_down"),
            "up": ("action_cursor_up", "action_scroll_up"),
            "first": ("action_first", "action_scroll_top", "action_scroll_home"),
            "last": ("action_last", "action_scroll_bottom", "action_scroll_end"),
        }[where]
        for name in names:
            method = getattr(widget, name, None)
            if callable(method):
                method()
                return

    def action_command_palette(self) -> None:
        """Textual's palette, once: a second ctrl+p that comes before the first palette is the
        current screen would mount another with the same id (and the app would stop)."""
        from textual.command import CommandList, CommandPalette

        class Palette(CommandPalette):
            """Textual's palette; a page move before its list is laid out (height 0) raised
            KeyError in Textual 8.2 and stopped the app (the hook's monkey, seed 42268)."""

            def _action_command_list(self, action: str) -> None:
                commands = self.query_one(CommandList)
                if action.startswith("page_") and (
                    not commands.option_count or commands.scrollable_content_region.height <= 0
                ):
                    return
                super()._action_command_list(action)

        if any(isinstance(s, CommandPalette) for s in self.screen_stack):
            return
        if self.query("#--command-palette") or getattr(self, "_palette_pending", False):
            return
        self._palette_pending = True
        self.push_screen(Palette(id="--command-palette"))
        self.call_after_refresh(setattr, self, "_palette_pending", False)

    def action_jobs(self) -> None:
        from workbench.widgets.jobs import JobsScreen  # imported when first opened

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    # ------------------------------------------------------------- the Shell

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def link_state(self) -> LinkState:
        return self.link.state

    @property
    def connected(self) -> bool:
        return self.link.state.status == "connected"

    @property
    def view_state(self) -> ViewState:
        return self._view_state

    def on_unmount(self) -> None:
        self._view_state.save()

    async def ask(self, call: P.Returns[R], timeout: float | None = 120.0) -> R:
        return await self.link.ask(call, timeout)

    def subscribe(
        self,
        node: DOMNode,
        kind: type[E],
        callback: Callable[[E], Any],
        immediate: bool = False,
    ) -> None:
        signal = self._signals.get(kind)
        if signal is None:
            signal = self._signals[kind] = Signal(self, f"engine-{kind.__name__}")
            self.link.subscribe(kind, signal.publish)
        signal.subscribe(node, callback, immediate=immediate)

    def subscribe_ready(self, node: DOMNode, callback: Callable[[bool], Any]) -> None:
        self.engine_ready.subscribe(node, callback)

    def subscribe_catalog(self, node: DOMNode, callback: Callable[[str], Any]) -> None:
        self.catalog_refreshed.subscribe(node, callback)

    def navigate(self, mode: str, **params: Any) -> None:
        self.run_worker(self._navigate(mode, params), group="navigate", exit_on_error=False)

    async def _navigate(self, mode: str, params: dict[str, Any]) -> None:
        await self.switch_mode(mode)
        screen = self.screen
        if isinstance(screen, WorkbenchScreen) and params:
            screen.arrive(**params)

    def screen_list(self) -> list[tuple[str, str, str]]:
        return [(mode, key, title) for mode, key, title, _ in SCREENS]

    def mode_of(self, screen: Screen[Any]) -> str:
        # a screen exists only once its class was loaded
        return next((m for m, cls in _loaded.items() if isinstance(screen, cls)), "")

    # ------------------------------------------------------------- actions

    def action_help(self) -> None:
        sources: list[tuple[str, Iterable[object]]] = [("everywhere", self.BINDINGS)]
        for mode, _, title, _ in SCREENS:
            cls = screen_class(mode)
            sources.append((title, cls.BINDINGS))
            sources.extend(cls.help_sections())
        note = (
            f"Remap any key by its id in {keymap_path()}, e.g.\n"
            '[keys]\n"app.quit" = "ctrl+q"\n'
            "ctrl+p opens the command palette. / e or enter on a field starts typing; esc "
            "leaves a text box (the status bar says COMMAND or TEXT). j k g G move in any "
            "list; tab moves between panes (the focused one is marked ▌)."
        )
        self.push_screen(HelpScreen(binding_rows(sources, self.keymap), note))  # type: ignore[arg-type]

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, key, title, _ in SCREENS:
            yield SystemCommand(
                f"Go to {title}",
                f"Open the {title.lower()} screen ({key})",
                lambda m=mode: self.switch_mode(m),  # type: ignore[misc]
            )
        yield SystemCommand("Keys", "Every key and its binding id (?)", self.action_help)


def alt_character(key: str) -> str | None:
    """The letter or digit of an alt+ key (alt+j: j, alt+shift+g: G); None for other keys."""
    if not key.startswith("alt+"):
        return None
    rest = key[4:]
    if rest.startswith("shift+") and len(rest) == 7 and rest[-1].isalpha():
        return rest[-1].upper()
    return rest if len(rest) == 1 and rest.isalnum() else None


def run_app(endpoint: Endpoint | Home | None = None) -> int:
    app = WorkbenchApp(endpoint)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(run_app())
