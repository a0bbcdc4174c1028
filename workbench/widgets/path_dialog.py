"""A dialog that asks for a file path and stays open until the path works or the user leaves,
and what every dialog that takes a path says about it: on which machine the path is read.

A path in a call to the engine means the engine's machine, which may be another one (the app
attached with --ssh or --socket; its Welcome names another host). A file the app reads or
writes itself (a run TOML, a CSV export) is on this machine whatever the engine's is. Each such
dialog shows path_machine()'s line beside its input, in words, and an engine elsewhere gets
the path as typed (for_engine): this machine's folder and home mean nothing there, and
nothing offers this machine's files as a default or a completion for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from engine.paths import absolute_path
from workbench.engine.link import LinkState

# Given the path typed, do the work and return None, or return what went wrong.
PathAction = Callable[[str], str | None]
# Who opens the path: the engine (a path in a call) or the app itself (a file it reads, writes).
PathSide = Literal["engine", "app"]
HOST_CELLS = 24  # a longer host name is cut (as in the status bar): the line fits at 80x24


def path_machine(state: LinkState, side: PathSide = "engine") -> str:
    """The line a dialog shows by its path input: which machine the path means."""
    if not state.remote:
        return "path on this machine"
    host = state.host if len(state.host) <= HOST_CELLS else state.host[: HOST_CELLS - 1] + "…"
    if side == "engine":
        return f"path on the engine's machine ({host})"
    return f"path on this machine, not the engine's ({host})"


def for_engine(state: LinkState, typed: str, resolve: Callable[[str], str] = absolute_path) -> str:
    """The path a call gets for one typed in a dialog: resolve(typed) (made absolute in this
    folder) for an engine on this machine; for one elsewhere as typed, since this folder and
    this home mean nothing there (a relative path gets the engine's own error)."""
    return typed.strip() if state.remote else resolve(typed)


class PathDialog(ModalScreen[str | None]):
    """Enter runs the action on the typed path; an error is shown and the dialog stays open,
    so nothing typed is lost. Dismissed with the path once the action succeeds."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss_none", "Cancel", id="path.cancel")]
    DEFAULT_CSS = """
    PathDialog { align: center middle; }
    PathDialog > Vertical { width: 90%; max-width: 90; height: auto; border: thick $accent;
                            background: $surface; padding: 0 1; }
    PathDialog Input { margin: 1 0 0 0; }
    PathDialog #path-where { height: auto; margin-bottom: 1; color: $text-muted; }
    PathDialog #path-message { height: auto; max-height: 4; }
    """

    def __init__(
        self, title: str, default: str, action: PathAction, *, where: str, placeholder: str = ""
    ) -> None:
        """where: the machine the path means (path_machine's line), shown under the input."""
        super().__init__()
        self.title_text = title
        self.default = default
        self.action = action
        self.where = where
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]  enter confirms, escape cancels")
            yield Input(self.default, placeholder=self.placeholder, id="path-input", compact=True)
            yield Static(Text(self.where), id="path-where")
            yield Static("", id="path-message")
        yield Footer(compact=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self._say("type a file path")
            return
        problem = self.action(path)
        if problem:
            self._say(problem)
            return
        self.dismiss(path)

    def _say(self, message: str) -> None:
        self.query_one("#path-message", Static).update(Text(message, style="bold red"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
