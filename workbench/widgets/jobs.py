"""Jobs and the engine log, in the app: running and recent jobs (cancel one, asking first),
and the last lines of the engine's log (read through the engine, so a remote one works too)."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Log, Static

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.shell import ShellUser
from workbench.widgets.base import WorkbenchModal
from workbench.widgets.confirm import ConfirmDialog

ACTIVE = ("queued", "running")


def job_rows(jobs: list[P.JobInfo], now: float) -> list[tuple[str, ...]]:
    """Running and queued jobs first, then the rest newest first: (id, state, title, progress,
    time)."""
    order = sorted(jobs, key=lambda j: (j.state not in ACTIVE, -j.started))
    rows = []
    for j in order:
        pct = f"{100 * j.done / j.total:.0f}%" if j.total > 0 else ""
        end = j.ended or (now if j.state in ACTIVE else j.started)
        seconds = max(0.0, end - j.started) if j.started else 0.0
        rows.append((j.job_id, j.state, j.title, pct, f"{seconds:.0f} s"))
    return rows


class JobsScreen(ShellUser, WorkbenchModal[None]):
    BINDINGS: ClassVar = [
        Binding("x", "cancel_job", "Cancel job", id="jobs.cancel"),
        Binding("l", "toggle_log", "Engine log", id="jobs.log"),
        Binding("r", "refresh_log", "Reload log", id="jobs.reload"),
    ]

    DEFAULT_CSS = """
    JobsScreen { align: center middle; }
    JobsScreen > Vertical { width: 100%; max-width: 120; height: 100%; border: heavy $accent;
                            background: $surface; }
    JobsScreen #jobs-title { height: 1; text-style: bold; }
    JobsScreen DataTable { height: 1fr; }
    JobsScreen Log { height: 1fr; display: none; }
    JobsScreen.-log Log { display: block; }
    JobsScreen.-log DataTable { display: none; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="jobs-title")
            yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            yield Log(id="jobs-log", auto_scroll=True)

    def on_mount(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        table.add_columns("id", "state", "job", "done", "time")
        self._rows: list[tuple[str, ...]] = []
        self.refresh_jobs()
        self.set_interval(1.0, self.refresh_jobs)
        table.focus()

    def refresh_jobs(self) -> None:
        rows = job_rows(list(self.shell.link_state.jobs.values()), time.time())
        active = sum(r[1] in ACTIVE for r in rows)
        title = f"Jobs: {active} running or queued, {len(rows) - active} ended"
        if self.has_class("-log"):
            title = "Engine log (l: jobs, r: reload)"
        self.query_one("#jobs-title", Static).update(Text(title))
        if rows == self._rows:
            return  # unchanged: no redraw
        self._rows = rows
        table = self.query_one("#jobs-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row, key=row[0])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def _selected(self) -> tuple[str, ...] | None:
        table = self.query_one("#jobs-table", DataTable)
        if not self._rows or table.cursor_row >= len(self._rows):
            return None
        return self._rows[table.cursor_row]

    def action_cancel_job(self) -> None:
        row = self._selected()
        if row is None or row[1] not in ACTIVE:
            self.notify("no running job there to cancel", severity="warning")
            return
        job_id, title = row[0], row[2]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel(job_id)

        self.app.push_screen(
            ConfirmDialog(f"Cancel {title}?", "Its work so far is lost.", yes="cancel it"),
            confirmed,
        )

    @work(group="jobs", exit_on_error=False)
    async def _cancel(self, job_id: str) -> None:
        try:
            done = await self.shell.ask(P.Cancel(job_id=job_id))
            self.notify(done.message)
        except EngineError as exc:
            self.notify(str(exc), severity="error")

    def action_toggle_log(self) -> None:
        self.toggle_class("-log")
        if self.has_class("-log"):
            self.query_one("#jobs-log", Log).focus()
            self.action_refresh_log()
        else:
            self.query_one("#jobs-table", DataTable).focus()
        self.refresh_jobs()

    @work(group="log", exclusive=True, exit_on_error=False)
    async def action_refresh_log(self) -> None:
        log = self.query_one("#jobs-log", Log)
        try:
            tail = await self.shell.ask(P.EngineLog(lines=500))
        except EngineError as exc:
            log.clear()
            log.write_line(f"cannot read the engine log: {exc}")
            return
        log.clear()
        log.write_line(f"{tail.path} ({tail.size:,} bytes), last {len(tail.lines)} lines:")
        log.write_lines(tail.lines)
