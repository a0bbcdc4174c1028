"""The workbench app: screens as modes, global keys, the link to the engine.

Never imports torch: all heavy work happens in the engine process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from engine import protocol as P
from engine.paths import Home, resolve_home
from screens.builder import BuilderScreen
from screens.datasets import DatasetsScreen
from screens.embeddings import EmbeddingsScreen
from screens.tokenizer import TokenizerScreen
from screens.training import TrainingScreen
from workbench.keys import keymap_path, load_keymap
from workbench.link import EngineLink
from workbench.widgets.help import HelpScreen, binding_rows
from workbench.widgets.path_dialog import PathDialog
from workbench.widgets.row_table import RowTable

# (mode, number key, title, screen class). Later screens join here as they land.
SCREENS: list[tuple[str, str, str, type[Screen[None]]]] = [
    ("datasets", "1", "Datasets", DatasetsScreen),
    ("tokenizer", "2", "Tokenizers", TokenizerScreen),
    ("embeddings", "3", "Embeddings", EmbeddingsScreen),
    ("builder", "4", "Model", BuilderScreen),
    ("training", "5", "Training", TrainingScreen),
]


class WorkbenchApp(App[int]):
    TITLE = "NLP workbench"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    MODES = {mode: cls for mode, _, _, cls in SCREENS}
    BINDINGS = [
        *[
            # shown in the screen bar at the top rather than the footer
            Binding(key, f"switch_mode('{mode}')", title, show=False, id=f"app.screen.{mode}")
            for mode, key, title, _ in SCREENS
        ],
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_anywhere"),
    ]

    def __init__(self, home: Home | None = None) -> None:
        super().__init__()
        self.home = home or resolve_home()
        self.engine_ready: Signal[bool] = Signal(self, "engine-ready")
        self.engine_event: Signal[P.Event] = Signal(self, "engine-event")
        self.link = EngineLink(
            self.home,
            on_ready=self._on_engine_ready,
            on_event=self.engine_event.publish,
            on_lost=self._on_engine_lost,
        )
        self.keymap, self._keymap_problem = load_keymap()

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        if self._keymap_problem:
            self.notify(self._keymap_problem, severity="warning", timeout=10)
        self.switch_mode("datasets")
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
        self.engine_ready.publish(restarted)

    def _on_engine_lost(self, reason: str) -> None:
        self.notify(f"{reason}; reconnecting", title="engine lost", severity="error", timeout=6)

    def screen_list(self) -> list[tuple[str, str, str]]:
        return [(mode, key, title) for mode, key, title, _ in SCREENS]

    def mode_of(self, screen: Screen[object]) -> str:
        return next((m for m, _, _, cls in SCREENS if isinstance(screen, cls)), "")

    @property
    def connected(self) -> bool:
        return self.link.state.status == "connected"

    # ------------------------------------------------------------- actions

    def action_help(self) -> None:
        sources: list[tuple[str, Iterable[object]]] = [("everywhere", self.BINDINGS)]
        for _, _, title, cls in SCREENS:
            sources.append((title, cls.BINDINGS))
        sources.append(("rows table", RowTable.BINDINGS))
        from screens.dataset_import import ImportScreen
        from screens.tokenizer_dialogs import TokenizerPicker, TrainTokenizerScreen

        sources.append(("import", ImportScreen.BINDINGS))
        sources.append(("choose tokenizers", TokenizerPicker.BINDINGS))
        sources.append(("train tokenizer", TrainTokenizerScreen.BINDINGS))
        sources.append(("file path dialogs", PathDialog.BINDINGS))
        note = (
            f"Remap any key by its id in {keymap_path()}, e.g.\n"
            '[keys]\n"app.quit" = "ctrl+q"\n'
            "ctrl+p opens the command palette. Escape leaves a text box."
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


def run_app(home: Home | None = None) -> int:
    app = WorkbenchApp(home)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(run_app())
