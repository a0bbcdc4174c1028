"""Dialogs of the tokenizer inspector: choose tokenizers, train one, add one from a path."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import (
    Checkbox,
    Input,
    Label,
    ProgressBar,
    Select,
    SelectionList,
    Static,
)

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.shell import Shell, ShellUser
from workbench.widgets.base import WorkbenchModal
from workbench.widgets.footer import WorkbenchFooter
from workbench.widgets.path_dialog import for_engine, path_machine

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90%; max-width: 90; height: auto; max-height: 100%;
                     border: thick $accent; background: $surface; padding: 0 1;
                     overflow-y: auto; }}
{name} .row {{ height: 1; margin-bottom: 1; }}
{name} #kind-help {{ height: auto; color: $text-muted; margin-bottom: 1; }}
{name} .row Label {{ width: 14; color: $text-muted; }}
{name} .row Input {{ width: 1fr; }}
{name} Select {{ width: 1fr; }}
{name} .selects {{ height: 3; }}
{name} #message {{ height: auto; max-height: 4; }}
{name} .row.above-where {{ margin-bottom: 0; }}
{name} #where {{ height: auto; margin: 0 0 1 14; color: $text-muted; }}
"""


def _row(label: str, widget: Input) -> Horizontal:
    return Horizontal(Label(label), widget, classes="row")


class TokenizerPicker(WorkbenchModal[list[str]]):
    """Choose up to three tokenizers to compare; space toggles, enter confirms, esc keeps
    the comparison as it was."""

    BINDINGS: ClassVar = [
        Binding("escape", "close", "Cancel", id="pick.cancel"),
        Binding("enter", "confirm", "Compare", id="pick.confirm", priority=True),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(name="TokenizerPicker")

    def __init__(self, tokenizers: list[P.TokenizerInfo], selected: list[str]) -> None:
        super().__init__()
        self._tokenizers = tokenizers
        self._selected = selected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Compare tokenizers[/b]  space toggles (up to 3), enter compares")
            yield SelectionList[str](
                *[
                    (f"{t.name}  ({t.kind}, {t.vocab_size:,})", t.name, t.name in self._selected)
                    for t in self._tokenizers
                ],
                id="pick-list",
            )
            yield Static("", id="message")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_confirm(self) -> None:
        chosen = self.query_one(SelectionList).selected
        order = [n for n in self._selected if n in chosen] + [
            n for n in chosen if n not in self._selected
        ]
        if not order:
            self.query_one("#message", Static).update(Text("choose at least one", "yellow"))
            return
        if len(order) > 3:
            self.query_one("#message", Static).update(Text("three at most", "yellow"))
            return
        self.dismiss(order)


class _JobDialog(ShellUser, WorkbenchModal[str]):
    """A form whose submit starts an engine job, shows its progress, and closes when done.

    esc always closes it at once: a job still running is asked to stop (by the app, so the
    answer is not waited for here), and one lost with an engine restart is forgotten."""

    def __init__(self) -> None:
        super().__init__()
        self.job_id: str | None = None
        self.name_wanted = ""

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.shell.subscribe_ready(self, self._engine_back)
        self.set_interval(0.2, self._show_progress)
        first = self.query(Input)
        if first:
            first.first().focus()

    def _engine_back(self, restarted: bool) -> None:
        if restarted and self.job_id is not None:
            self._job_lost()

    def _job_lost(self) -> None:
        self.job_id = None
        self.query_one(ProgressBar).display = False
        self.say(
            "the engine restarted and the job was lost: ctrl+s starts it again, esc closes",
            "bold yellow",
        )

    def say(self, message: str | Text, style: str = "") -> None:
        text = message if isinstance(message, Text) else Text(message, style=style)
        self.query_one("#message", Static).update(text)

    def say_error(self, exc: EngineError) -> None:
        text = Text(exc.message, style="bold red")
        if exc.hint:
            text.append(f"\n{exc.hint}", style="yellow")
        self.say(text)

    _started_in = ""  # the engine session that runs the job

    _ended: P.JobEnded | None = None  # a job that ended before its start answered

    def started(self, job_id: str) -> None:
        self.job_id = job_id
        self._started_in = self.shell.link_state.session_id
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.say("working… (esc stops it and closes)", "dim")
        ended, self._ended = self._ended, None
        if ended is not None and ended.job.job_id == job_id:
            self._job_ended(ended)

    def _show_progress(self) -> None:
        if self.job_id is None:
            return
        state = self.shell.link_state
        job = state.jobs.get(self.job_id)
        if job is None and state.status == "connected" and self._started_in != state.session_id:
            self._job_lost()  # the engine that ran it is gone
            return
        if job is not None and job.total > 0:
            bar = self.query_one(ProgressBar)
            if (bar.total, bar.progress) != (job.total, job.done):
                bar.update(total=job.total, progress=job.done)

    def _job_ended(self, event: P.JobEnded) -> None:
        if self.job_id is None:
            # it may end before the call that started it has answered: keep it for then
            self._ended = event
            return
        if event.job.job_id != self.job_id:
            return
        self.job_id = None
        self.query_one(ProgressBar).display = False
        if event.error is None:
            self.dismiss(self.name_wanted)
        else:
            self.say_error(EngineError.of(event.error))

    def action_close(self) -> None:
        job_id, self.job_id = self.job_id, None
        if job_id is not None and job_id in self.shell.link_state.jobs:
            self.app.run_worker(
                _cancel(self.shell, job_id), group="dialog-cancel", exit_on_error=False
            )
            self.shell.notify("stopping the job you left; J shows jobs", timeout=4)
        self.dismiss(None)


async def _cancel(shell: Shell, job_id: str) -> None:
    """Ask the engine to stop a job a closed dialog started (a job already gone is fine)."""
    with contextlib.suppress(EngineError):
        await shell.ask(P.Cancel(job_id=job_id), timeout=10)


KIND_HELP = {
    "word": "lowercase + split on whitespace (text.lower().split())",
    "regex-word": "words with punctuation split off",
    "char": "one token per character",
    "bpe": "byte-pair encoding subwords",
    "wordpiece": "WordPiece subwords (BERT style)",
    "unigram": "Unigram language-model subwords",
}


class TrainTokenizerScreen(_JobDialog):
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close (stops training)", id="train.close"),
        Binding("ctrl+s", "start", "Train", id="train.start"),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(name="TrainTokenizerScreen")

    def __init__(self, datasets: list[str], dataset: str) -> None:
        super().__init__()
        self._datasets = datasets
        self._dataset = dataset

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Train a tokenizer[/b]  ctrl+s trains · esc closes")
            yield _row("name", Input(placeholder="e.g. word-rt", id="name", compact=True))
            with Horizontal(classes="selects"):
                yield Select(
                    [(k, k) for k in KIND_HELP], value="word", allow_blank=False, id="kind"
                )
                yield Select(
                    [(d, d) for d in self._datasets],
                    value=self._dataset if self._dataset in self._datasets else Select.BLANK,
                    id="dataset",
                )
            yield Static(f"word: {KIND_HELP['word']}", id="kind-help")
            yield _row(
                "split",
                Input(
                    "train", placeholder="train, validation, test or all", id="split", compact=True
                ),
            )
            yield _row("vocab size", Input("20000", id="vocab", compact=True))
            yield _row("min frequency", Input("2", id="minfreq", compact=True))
            yield _row("specials", Input("<PAD>,<UNK>,<CLS>,<SEP>", id="specials", compact=True))
            with Horizontal(classes="selects"):
                yield Select(
                    [
                        ("no template", "none"),
                        ("[CLS] text [SEP]", "cls-sep"),
                        ("<START> text <END>", "start-end"),
                    ],
                    value="none",
                    allow_blank=False,
                    id="template",
                )
                yield Checkbox("lowercase", True, id="lowercase")
            yield Static("", id="message")
            yield ProgressBar(show_eta=True)
        yield WorkbenchFooter()

    @on(Select.Changed, "#kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        kind = str(event.value)
        self.query_one("#kind-help", Static).update(f"{kind}: {KIND_HELP.get(kind, '')}")

    def action_start(self) -> None:
        if self.job_id is not None:
            return
        try:
            call = self._call()
        except EngineError as exc:
            self.say_error(exc)
            return
        self.name_wanted = call.name
        self.start(call)

    def _call(self) -> P.TokenizerTrain:
        def value(wid: str) -> str:
            return self.query_one(f"#{wid}", Input).value.strip()

        def number(wid: str, what: str) -> int:
            try:
                return int(value(wid))
            except ValueError:
                raise EngineError("bad_input", f"{what} must be a whole number") from None

        dataset = self.query_one("#dataset", Select).value
        if not isinstance(dataset, str):
            raise EngineError("bad_input", "choose a dataset to learn the vocabulary from")
        split = value("split") or "train"
        return P.TokenizerTrain(
            name=value("name"),
            kind=self.query_one("#kind", Select).value,  # type: ignore[arg-type]
            dataset=dataset,
            split=None if split == "all" else split,
            vocab_size=number("vocab", "vocab size"),
            min_frequency=number("minfreq", "min frequency"),
            specials=[s.strip() for s in value("specials").split(",") if s.strip()],
            lowercase=self.query_one("#lowercase", Checkbox).value,
            template=self.query_one("#template", Select).value,  # type: ignore[arg-type]
        )

    @work(exclusive=True, group="train-start", exit_on_error=False)
    async def start(self, call: P.TokenizerTrain) -> None:
        try:
            job = await self.shell.ask(call)
        except EngineError as exc:
            self.say_error(exc)
            return
        self.started(job.job_id)


class AddTokenizerScreen(_JobDialog):
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close", id="add.close"),
        Binding("ctrl+s", "start", "Add", id="add.start"),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(name="AddTokenizerScreen")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Add a tokenizer[/b]  a tokenizer.json or a Hugging Face folder")
            path_row = _row(
                "path", Input(placeholder="/path/to/tokenizer.json", id="path", compact=True)
            )
            path_row.add_class("above-where")
            yield path_row
            where = path_machine(self.shell.link_state, "engine")  # the engine reads it
            yield Static(Text(where), id="where")
            yield _row("name", Input(placeholder="name to use", id="name", compact=True))
            yield Static("", id="message")
            yield ProgressBar()
        yield WorkbenchFooter()

    @on(Input.Submitted)
    def action_start(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        if not path or not name:
            self.say("give a path and a name", "yellow")
            return
        self.add(name, path)

    @work(exclusive=True, group="add-start", exit_on_error=False)
    async def add(self, name: str, path: str) -> None:
        try:
            call = P.TokenizerAdd(name=name, path=for_engine(self.shell.link_state, path))
            await self.shell.ask(call)
        except EngineError as exc:
            self.say_error(exc)
            return
        self.dismiss(name)
