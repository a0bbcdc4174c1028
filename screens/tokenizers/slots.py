"""The line under the text: the tokenizers compared, with how many tokens each made."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine import protocol as P


def slots_line(selected: list[str], results: dict[str, P.TokenizeResult]) -> Text:
    text = Text("compare: ", style="dim")
    for i, name in enumerate(selected):
        res = results.get(name)
        count = f" ({res.encodings[0].n_tokens})" if res and res.encodings else ""
        text.append(f"[{i + 1}] ", style="dim")
        text.append(f"{name}{count}", style="bold")
        text.append("  ")
    text.append("· t choose · n train · o add", style="dim")
    return text


class CompareSlots(Static):
    """[1] name (tokens) [2] ... for each tokenizer compared."""

    def show(self, selected: list[str], results: dict[str, P.TokenizeResult]) -> None:
        self.update(slots_line(selected, results))
