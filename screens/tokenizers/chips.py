"""The inspector's tokens tab: each tokenizer's chips, ids and the text each token covers."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.widgets.token_view import chips, mapped_text, summary


def chip_blocks(
    names: list[str], answers: list[P.TokenizeResult | BaseException], text: str
) -> Group:
    """One block per tokenizer: its summary, chips and mapped text, or why it failed."""
    blocks: list[RenderableType] = []
    for name, res in zip(names, answers, strict=True):
        if isinstance(res, BaseException):
            message = res.message if isinstance(res, EngineError) else str(res)
            blocks.append(Text.assemble((f"{name}: ", "bold"), (message, "red")))
            continue
        view = res.encodings[0]
        blocks.append(Group(summary(name, view), chips(view), mapped_text(view, text), Text("")))
    if not names:
        blocks.append(Text("no tokenizers yet: press n to train one", style="dim"))
    return Group(*blocks)


class ChipsTab(TabPane):
    """The chips of every tokenizer compared (#chips-view)."""

    def __init__(self) -> None:
        super().__init__("Tokens c", id="chips")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="chips-scroll"):
            yield Static("", id="chips-view")

    def show(
        self, names: list[str], answers: list[P.TokenizeResult | BaseException], text: str
    ) -> None:
        self.query_one("#chips-view", Static).update(chip_blocks(names, answers, text))
