"""The bottom line: `? help` first, then the keys that work where the focus is, cut with a
marker when they do not fit (the help lists every key). One line of text, redrawn only when
the keys or the width change."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

HELP = ("?", "help")


def key_label(app_key: str) -> str:
    return (
        app_key.replace("question_mark", "?")
        .replace("slash", "/")
        .replace("escape", "esc")
        .replace("space", "spc")
        .replace("enter", "⏎")
    )


def render_footer(keys: list[tuple[str, str]], width: int) -> Text:
    """`? help`, then (key, description) pairs while they fit in width; `…` says some did not."""
    text = Text(no_wrap=True, overflow="crop")
    items = [HELP, *[k for k in keys if k[0] != "?"]]
    for i, (key, desc) in enumerate(items):
        part = len(key) + 1 + len(desc) + 2
        rest = items[i + 1 :]
        if text.cell_len + part + (2 if rest else 0) > width:
            text.append("…", style="bold")
            break
        text.append(key, style="bold")
        text.append(f" {desc}  ")
    return text


class WorkbenchFooter(Static):
    """The footer of every screen (Textual's Footer drops what does not fit, `?` included)."""

    DEFAULT_CSS = """
    WorkbenchFooter { height: 1; dock: bottom; background: $panel; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__("", id="footer")
        self._shown: tuple[tuple[tuple[str, str], ...], int] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.redraw)

    def _bindings_changed(self, _screen: object) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def keys(self) -> list[tuple[str, str]]:
        """(key, description) of the shown bindings that work now, as the screen sees them."""
        out: list[tuple[str, str]] = []
        seen: set[str] = {"help"}  # always first, as `? help`
        command_mode = getattr(self.screen, "command_mode", None)
        if callable(command_mode) and not command_mode():
            out.append(("esc", "leave text"))
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not isinstance(binding, Binding) or not binding.show or not enabled:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((self.app.get_key_display(binding), binding.description))
        return out

    def redraw(self) -> None:
        width = max(self.size.width - 2, 10)
        keys = tuple(self.keys())
        if self._shown == (keys, width):
            return  # nothing changed: nothing written to the terminal
        self._shown = (keys, width)
        self.update(render_footer(list(keys), width))


def footer_text(widget: Widget) -> str:
    """The plain text a screen's footer shows now (for tests)."""
    footer = widget.screen.query_one(WorkbenchFooter)
    return str(footer.render())
