"""The browser's side panel: the datasets to choose from and the open one's summary."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from engine import protocol as P


def dataset_prompt(d: P.DatasetInfo) -> Text:
    if not d.available:
        return Text.assemble((d.name, "dim"), ("\n  not installed", "dim italic"))
    if d.rows:
        return Text.assemble((d.name, "bold"), f"\n  {d.rows:,} rows · {d.classes} cl")
    return Text.assemble((d.name, "bold"), ("\n  built-in", "dim"))


def dataset_summary(d: P.DatasetInfo) -> Text:
    splits = "\n".join(f"{k:<10} {v:>8,}" for k, v in d.splits.items() if k) or "no split"
    return Text.assemble(
        (d.name, "bold"),
        f"\n{d.rows:,} rows, {d.classes} classes\n",
        (splits, "dim"),
    )


class DatasetSidebar(Vertical):
    """The list of datasets (#ds-list) above a few lines about the open one (#ds-info)."""

    class Highlighted(Message):
        """The cursor in the list moved to this dataset."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def compose(self) -> ComposeResult:
        yield Label("Datasets", classes="pane-title")
        yield OptionList(id="ds-list")
        yield Static("starting engine…", id="ds-info")

    def fill(self, datasets: list[P.DatasetInfo], keep: str | None) -> int | None:
        """List these datasets with the cursor on keep (else the first); its index, if any."""
        options = self.query_one("#ds-list", OptionList)
        options.clear_options()
        for d in datasets:
            options.add_option(Option(dataset_prompt(d), id=d.name))
        names = [d.name for d in datasets]
        if not names:
            return None
        index = names.index(keep) if keep in names else 0
        options.highlighted = index
        return index

    def say(self, message: str | Text) -> None:
        self.query_one("#ds-info", Static).update(message)

    def show_dataset(self, d: P.DatasetInfo) -> None:
        self.say(dataset_summary(d))

    def focus_list(self) -> None:
        self.query_one("#ds-list", OptionList).focus()

    @on(OptionList.OptionHighlighted, "#ds-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Highlighted(event.option.id))
