"""Import a dataset: preview a source, choose its columns, stream it into the engine.

The import runs as an engine job: its progress shows here, escape cancels
it, and a failure leaves the dialog open with the reason and nothing stored.
A source path means the engine's machine: the line under it says which one.
An import with rows of empty text stays open to say so (enter or esc closes it).
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Select, Static

from engine import protocol as P
from engine.paths import absolute_source
from screens.datasets.model import empty_texts_warning
from workbench.engine.client import EngineError
from workbench.shell import ShellUser
from workbench.widgets.base import WorkbenchModal
from workbench.widgets.path_dialog import for_engine, path_machine

NO_LABEL = "(no label)"


def default_name(source: str) -> str:
    """A dataset name from a path or hub id: 'data/My Reviews.csv' -> 'my-reviews'."""
    stem = Path(source.rstrip("/")).stem if source else ""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.").lower()
    return name[:64]


class ImportScreen(ShellUser, WorkbenchModal[str]):
    """Dismisses with the imported dataset's name, or None (closed before an import)."""

    BINDINGS = [
        Binding("escape", "close", "Cancel / close", id="import.close"),
        Binding("enter", "done", "Done", show=False, id="import.done"),
        Binding("ctrl+o", "preview", "Preview", id="import.preview"),
        Binding("ctrl+s", "start", "Import", id="import.start"),
    ]
    DEFAULT_CSS = """
    ImportScreen { align: center middle; }
    ImportScreen > #import-box { width: 96%; max-width: 110; height: auto; max-height: 100%;
                                 border: thick $accent; background: $surface; padding: 0 1; }
    ImportScreen .row { height: 1; margin-bottom: 1; }
    ImportScreen #import-source-row { margin-bottom: 0; }
    ImportScreen #import-where { height: auto; margin: 0 0 1 9; color: $text-muted; }
    ImportScreen .row Label { width: 9; color: $text-muted; }
    ImportScreen .row Input { width: 1fr; }
    ImportScreen #import-columns { height: 3; }
    ImportScreen #import-columns Select { width: 1fr; }
    ImportScreen #import-preview { height: 8; }
    ImportScreen #import-message { height: auto; max-height: 4; }
    ImportScreen #import-progress { height: 1; }
    """

    def __init__(self, source: str = "") -> None:
        super().__init__()
        self._initial = source
        self.preview_info: P.PreviewInfo | None = None
        self.job_id: str | None = None
        self.outcome: str = ""
        self.imported: P.DatasetInfo | None = None  # set when it stays open to warn

    def compose(self) -> ComposeResult:
        with Vertical(id="import-box"):
            yield Label("[b]Import a dataset[/b]  enter previews · ctrl+s imports · esc closes")
            with Horizontal(classes="row", id="import-source-row"):
                yield Label("source")
                yield Input(
                    self._initial,
                    placeholder="file (csv, tsv, jsonl, parquet), saved HF folder, or hub name",
                    id="import-source",
                    compact=True,
                )
            where = path_machine(self.shell.link_state, "engine")  # the engine reads it
            yield Static(Text(where), id="import-where")
            with Horizontal(classes="row"):
                yield Label("name")
                yield Input(placeholder="dataset name", id="import-name", compact=True)
            with Horizontal(id="import-columns"):
                yield Select[str]([], prompt="text column", id="import-text")
                yield Select[str]([], prompt="label column", id="import-label")
            yield DataTable(id="import-preview", show_cursor=False)
            yield Static("", id="import-message")
            yield ProgressBar(id="import-progress", show_eta=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#import-progress").display = False
        self.query_one("#import-source", Input).focus()
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.set_interval(0.2, self._show_progress)

    def _say(self, message: str | Text, style: str = "") -> None:
        text = message if isinstance(message, Text) else Text(message, style=style)
        self.query_one("#import-message", Static).update(text)

    def _say_error(self, exc: EngineError) -> None:
        text = Text(exc.message, style="bold red")
        if exc.hint:
            text.append(f"\n{exc.hint}", style="yellow")
        self.outcome = exc.message
        self._say(text)

    # ------------------------------------------------------------- preview

    def _source(self) -> str:
        """The source as the engine gets it (a path here made absolute when it is local)."""
        typed = self.query_one("#import-source", Input).value.strip()
        return for_engine(self.shell.link_state, typed, absolute_source)

    @on(Input.Submitted, "#import-source")
    def action_preview(self) -> None:
        source = self._source()
        if not source:
            self._say("type a path or a hub dataset name first", "yellow")
            return
        self.load_preview(source)

    @work(exclusive=True, group="import-preview", exit_on_error=False)
    async def load_preview(self, source: str) -> None:
        self._say(f"reading {source}…", "dim")
        try:
            res = await self.shell.ask(P.DatasetPreview(source=source))
        except EngineError as exc:
            self.preview_info = None
            self.query_one("#import-preview", DataTable).clear(columns=True)
            self._say_error(exc)
            return
        pv = self.preview_info = res.preview
        table: DataTable[str] = self.query_one("#import-preview", DataTable)
        table.clear(columns=True)
        table.add_columns(*pv.columns)
        for row in pv.rows:
            table.add_row(*[" ".join(row.get(c, "").split())[:60] for c in pv.columns])
        text_sel = self.query_one("#import-text", Select)
        text_sel.set_options([(c, c) for c in pv.columns])
        if pv.text_column:
            text_sel.value = pv.text_column
        label_sel = self.query_one("#import-label", Select)
        label_sel.set_options([(NO_LABEL, NO_LABEL)] + [(c, c) for c in pv.columns])
        label_sel.value = pv.label_column or NO_LABEL
        name = self.query_one("#import-name", Input)
        if not name.value:
            name.value = default_name(source)
        classes = ", ".join(f"{k} {v}" for k, v in list(pv.classes.items())[:6])
        size = f"{pv.size_bytes / 2**20:.1f} MiB " if pv.size_bytes else ""
        self._say(
            f"{pv.format} {size}· guessed text={pv.text_column!r} "
            f"label={pv.label_column or '-'!r}"
            + (f" · preview labels: {classes}" if classes else ""),
            "green",
        )
        name.focus()

    # ------------------------------------------------------------- import

    @on(Input.Submitted, "#import-name")
    def _name_submitted(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.job_id is not None:
            return
        pv = self.preview_info
        source = self._source()
        if pv is None or pv.source != source:
            self._say("preview the source first (enter in the source box)", "yellow")
            return
        name = self.query_one("#import-name", Input).value.strip()
        text_col = self.query_one("#import-text", Select).value
        label_col = self.query_one("#import-label", Select).value
        if not isinstance(text_col, str):
            self._say("choose the text column", "yellow")
            return
        label = label_col if isinstance(label_col, str) and label_col != NO_LABEL else None
        call = P.DatasetImport(
            source=source, name=name, text_column=text_col, label_column=label, format=pv.format
        )
        self.start_import(call)

    @work(exclusive=True, group="import-start", exit_on_error=False)
    async def start_import(self, call: P.DatasetImport) -> None:
        try:
            started = await self.shell.ask(call)
        except EngineError as exc:
            self._say_error(exc)
            return
        self.job_id = started.job_id
        bar = self.query_one("#import-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._say(f"importing {call.name}… (escape cancels)", "dim")

    def _show_progress(self) -> None:
        if self.job_id is None:
            return
        job = self.shell.link_state.jobs.get(self.job_id)
        if job is not None and job.total > 0:
            self.query_one("#import-progress", ProgressBar).update(
                total=job.total, progress=job.done
            )

    def _job_ended(self, event: P.JobEnded) -> None:
        if event.job.job_id != self.job_id:
            return
        self.job_id = None
        self.query_one("#import-progress").display = False
        if event.error is None and isinstance(event.result, P.DatasetResult):
            d = event.result.dataset
            warning = empty_texts_warning(d.empty_texts)
            if not warning:
                self.dismiss(d.name)
                return
            self.imported = d  # say so before closing: the user may want to fix the file
            self.outcome = warning
            text = Text(f"imported {d.name}: {d.rows:,} rows, {d.classes} classes\n", "green")
            text.append(f"{warning}", style="bold yellow")
            text.append(
                " (they stay in the dataset; find them with / ^\\s*$ and x for regex)\n",
                style="yellow",
            )
            text.append("enter or esc closes", style="dim")
            self._say(text)
            self.set_focus(None)
        elif event.error is not None:
            self._say_error(EngineError.of(event.error))

    def action_close(self) -> None:
        if self.job_id is not None:
            self.cancel_import(self.job_id)
            return
        self.dismiss(self.imported.name if self.imported else None)

    def action_done(self) -> None:
        if self.imported is not None:
            self.dismiss(self.imported.name)

    @work(group="import-cancel", exit_on_error=False)
    async def cancel_import(self, job_id: str) -> None:
        self._say("cancelling…", "yellow")
        try:
            await self.shell.ask(P.Cancel(job_id=job_id))
        except EngineError as exc:
            self._say_error(exc)
