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
from screens.datasets.model import empty_texts_warning, plural


def dataset_prompt(d: P.DatasetInfo) -> Text:
    """Two lines, each cut with … where the list is narrow (the summary below has it all)."""
    if not d.available:
        text = Text.assemble((d.name, "dim"), ("\n  not installed", "dim italic"))
    elif d.rows:
        text = Text.assemble(
            (d.name, "bold"), f"\n  {d.rows:,} · {plural(d.classes, 'class', 'classes')}"
        )
    else:
        text = Text.assemble((d.name, "bold"), ("\n  built-in", "dim"))
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def dataset_summary(d: P.DatasetInfo) -> Text:
    splits = "\n".join(f"{k:<10} {v:>8,}" for k, v in d.splits.items() if k) or "no split"
    text = Text.assemble(
        (d.name, "bold"),
        f"\n{d.rows:,} rows\n{plural(d.classes, 'class', 'classes')}\n",
        (splits, "dim"),
    )
    warning = empty_texts_warning(d.empty_texts)
    if warning:
        text.append(f"\n{warning}", style="yellow")
    if d.used_by:
        text.append(f"\nused by {plural(len(d.used_by), 'run')}", style="dim")
    return text


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

    def highlighted(self) -> str | None:
        """The name of the dataset under the list's cursor."""
        options = self.query_one("#ds-list", OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    class Chosen(Message):
        """enter on a dataset in the list."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    @on(OptionList.OptionSelected, "#ds-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(event.option.id))

    @on(OptionList.OptionHighlighted, "#ds-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Highlighted(event.option.id))
