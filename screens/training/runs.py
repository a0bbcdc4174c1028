"""The monitor's side panel: every run with its state and best score; ◆ marks an overlay."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from engine import protocol as P

STATE_STYLE = {
    "running": "green",
    "paused": "yellow",
    "queued": "cyan",
    "finished": "bold green",
    "failed": "bold red",
    "stopped": "magenta",
    "interrupted": "bold yellow",
}


def run_prompt(run: P.RunInfo, overlaid: bool) -> Text:
    mark = "◆ " if overlaid else ""
    best = f" {run.metric} {run.best:.3f}" if run.best is not None else ""
    return Text.assemble(
        (mark + run.name, "bold"),
        "\n  ",
        (run.state, STATE_STYLE.get(run.state, "")),
        (best, "dim"),
    )


class RunList(Vertical):
    """The runs (#tr-runs); the cursor stays where it was when the list is refilled."""

    class Highlighted(Message):
        """The cursor moved to this run."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield Label("Runs", classes="pane-title")
        yield OptionList(id="tr-runs")

    def fill(self, runs: list[P.RunInfo], overlay: set[str]) -> None:
        options = self.query_one("#tr-runs", OptionList)
        keep = options.highlighted
        options.clear_options()
        for run in runs:
            options.add_option(Option(run_prompt(run, run.run_id in overlay), id=run.run_id))
        if keep is not None and keep < options.option_count:
            options.highlighted = keep

    @property
    def highlighted(self) -> str | None:
        """The run under the cursor."""
        options = self.query_one("#tr-runs", OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionHighlighted, "#tr-runs")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Highlighted(event.option.id))
