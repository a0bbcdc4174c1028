"""The monitor's dialogs: a new learning rate, a run's new name, a run's whole configuration
(a pager), and a confusion cell's examples as the best checkpoint predicts them. Each closes
with esc (WorkbenchModal)."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.shell import ShellUser
from workbench.widgets.base import WorkbenchModal

EXAMPLES = 100  # examples asked for at once
MORE = 1000  # the most `+` asks for


class PromptDialog(WorkbenchModal[str]):
    """One line of text: enter applies, esc cancels (None)."""

    DEFAULT_CSS = """
    PromptDialog { align: center middle; }
    PromptDialog > Vertical { width: 60; max-width: 100%; height: auto; border: thick $accent;
                              background: $surface; padding: 0 1; }
    PromptDialog Input, PromptDialog Input:focus { height: 1; border: none;
                                                   border-left: thick $accent; padding: 0 1; }
    PromptDialog .hint { color: $text-muted; }
    """

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(self._value, placeholder=self._placeholder, id="prompt-input")
            yield Label("enter applies · esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()  # a prompt is for typing: it opens in the text box

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)


def learning_rate_dialog(current: float | None) -> PromptDialog:
    title = f"new learning rate (now {current:.3g})" if current else "new learning rate"
    return PromptDialog(title, placeholder="e.g. 3e-4")


def rename_dialog(run: P.RunInfo) -> PromptDialog:
    return PromptDialog(f"rename run {run.run_id}", value=run.name, placeholder="a new name")


class ConfigDialog(WorkbenchModal[None]):
    """A pager: a run's settings summary, scores and its whole TOML; j/k or arrows scroll."""

    DEFAULT_CSS = """
    ConfigDialog { align: center middle; }
    ConfigDialog > Vertical { width: 100%; max-width: 110; height: 100%; border: thick $accent;
                              background: $surface; padding: 0 1; }
    ConfigDialog VerticalScroll { height: 1fr; }
    ConfigDialog #config-title { text-style: bold; }
    """

    def __init__(self, run: P.RunInfo, config_toml: str, about: str) -> None:
        super().__init__()
        self._run = run
        self._toml = config_toml
        self._about = about

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text(f"{self._run.name} ({self._run.run_id}) · esc closes"), id="config-title"
            )
            yield Static(Text(self._about, style="dim"), id="config-about")
            with VerticalScroll(id="config-scroll"):
                yield Static(
                    Syntax(self._toml or "# no configuration stored", "toml", word_wrap=True),
                    id="config-toml",
                )

    def on_mount(self) -> None:
        self.query_one("#config-scroll").focus()


def example_prompt(ex: P.ExampleRow, max_chars: int = 400) -> Text:
    """Right or wrong, the probabilities, the dataset row, then the text (wrapped)."""
    right = ex.label == ex.predicted
    return Text.assemble(
        ("right " if right else "WRONG ", "bold green" if right else "bold red"),
        f"p({ex.predicted}) {ex.probability:.3f}",
        "" if right else f" · p({ex.label}) {ex.true_probability:.3f}",
        (f" · row {ex.index:,}\n", "dim"),
        " ".join(ex.text.split()) or "(empty text)",
        ("…" if len(ex.text) >= max_chars else "", "bold"),
    )


class ExamplesDialog(ShellUser, WorkbenchModal[None]):
    """The examples of a split with a true and a predicted label (a confusion cell), as the
    run's best checkpoint predicts them: text and probability, mistakes first, surest first."""

    BINDINGS: ClassVar = [
        Binding("plus", "more", "More examples", id="training.examples.more"),
    ]

    DEFAULT_CSS = """
    ExamplesDialog { align: center middle; }
    ExamplesDialog > Vertical { width: 100%; max-width: 120; height: 100%; border: thick $accent;
                                background: $surface; padding: 0 1; }
    ExamplesDialog #examples-title { text-style: bold; height: auto; }
    ExamplesDialog OptionList { height: 1fr; }
    ExamplesDialog #examples-keys { color: $text-muted; height: 1; }
    """

    def __init__(
        self, run_id: str, split: str, label: str, predicted: str | None, shown_step: int
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.split = split
        self.label = label
        self.predicted = predicted
        self.shown_step = shown_step  # the evaluation the matrix showed
        self.limit = EXAMPLES
        self.result: P.RunExamplesResult | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"asking the engine for {self._what()}…"), id="examples-title")
            yield OptionList(id="examples-list")
            yield Static("j/k move · + more · esc closes", id="examples-keys")

    def _what(self) -> str:
        pred = f"predicted {self.predicted}" if self.predicted else "any prediction"
        return f"{self.split} examples labelled {self.label}, {pred}"

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    def action_more(self) -> None:
        if self.result is not None and self.result.total > self.limit and self.limit < MORE:
            self.limit = MORE
            self.load()

    @work(exclusive=True, group="tr-examples", exit_on_error=False)
    async def load(self) -> None:
        title = self.query_one("#examples-title", Static)
        try:
            res = await self.shell.ask(
                P.RunExamples(
                    run_id=self.run_id,
                    split=self.split,
                    label=self.label,
                    predicted=self.predicted,
                    limit=self.limit,
                ),
                timeout=300,
            )
        except EngineError as exc:
            title.update(Text(f"{self._what()}: {exc}", style="red"))
            return
        self.result = res
        shown = len(res.examples)
        more = (
            f" (+{res.total - shown:,} more: + shows up to {MORE:,})" if res.total > shown else ""
        )
        note = ""
        if res.step != self.shown_step:
            note = f"; the matrix shown is the evaluation at step {self.shown_step:,}"
        title.update(
            Text(
                f"{res.total:,} {self._what()} · {shown:,} shown{more}\n"
                f"as the best checkpoint (step {res.step:,}) predicts them{note}; "
                "mistakes first, surest first"
            )
        )
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(example_prompt(ex)) for ex in res.examples])
        if not res.examples:
            options.add_option(Option(Text("no examples in this cell", style="dim"), disabled=True))
