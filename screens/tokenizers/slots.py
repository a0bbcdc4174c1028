"""The line under the text: the tokenizers compared, with how many tokens each made."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine import protocol as P
from screens.tokenizers.model import COMPARE_HINT, compare_slots


def slots_line(selected: list[str], results: dict[str, P.TokenizeResult], width: int = 200) -> Text:
    entries: list[tuple[str, int | None]] = []
    for name in selected:
        res = results.get(name)
        entries.append((name, res.encodings[0].n_tokens if res and res.encodings else None))
    slots, hint = compare_slots(entries, width)
    text = Text("compare: ", style="dim", no_wrap=True, overflow="ellipsis")
    for slot in slots:
        number, _, rest = slot.partition(" ")
        text.append(f"{number} ", style="dim")
        text.append(rest, style="bold")
        text.append("  ")
    if not selected:
        text.append("none ", style="dim")
    if hint:
        text.append(COMPARE_HINT, style="dim")
    return text


class CompareSlots(Static):
    """[1] name (tokens) [2] ... for each tokenizer compared, fitted to the width."""

    def __init__(self, content: str = "", *, id: str | None = None) -> None:
        super().__init__(content, id=id)
        self._data: tuple[list[str], dict[str, P.TokenizeResult]] = ([], {})
        self._drawn: Text | None = None

    def show(self, selected: list[str], results: dict[str, P.TokenizeResult]) -> None:
        self._data = (list(selected), dict(results))
        self._draw()

    def _draw(self) -> None:
        width = self.content_region.width or 78
        line = slots_line(*self._data, width=width)
        if self._drawn is not None and line.plain == self._drawn.plain:
            return
        self._drawn = line
        self.update(line)

    def on_resize(self) -> None:
        self._draw()
