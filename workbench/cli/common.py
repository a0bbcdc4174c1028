"""What every `workbench` subcommand shares: running against the engine, output, jobs."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine import protocol as P
from workbench.engine.client import EngineClient, EngineError, EngineGone
from workbench.engine.endpoint import endpoint_for

J = TypeVar("J")
out = Console()
err = Console(stderr=True)


# ------------------------------------------------------------------ plumbing


def complete(value: Any) -> Any:
    """value as plain JSON data with every field spelled out: the wire leaves out fields at
    their defaults ("available": true), a script reading the JSON should not have to know them."""
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out: dict[str, Any] = {}
        if config.tag is not None:
            out[str(config.tag_field)] = config.tag
        for name in value.__struct_fields__:
            out[name] = complete(getattr(value, name))
        return out
    if isinstance(value, list | tuple):
        return [complete(v) for v in value]
    if isinstance(value, dict):
        return {k: complete(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    """One line of JSON on stdout, every field of every message included."""
    sys.stdout.write(msgspec.json.encode(complete(value)).decode() + "\n")


def fail(args: argparse.Namespace, code: str, message: str, hint: str = "") -> int:
    """Say what went wrong (as {"error": {...}} with --json) and return the exit code 1."""
    if getattr(args, "json", False):
        emit_json({"error": {"code": code, "message": message, "hint": hint}})
    else:
        err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
        if hint:
            err.print(f"  {hint}", markup=False, highlight=False)
    return 1


class Interrupted(Exception):
    """Ctrl-C while following work that goes on in the engine; says how to follow it again."""


def run(
    args: argparse.Namespace,
    fn: Callable[[EngineClient], Awaitable[int]],
    refused: Callable[[EngineError], int] | None = None,
) -> int:
    """fn(client) against the engine, every failure said as fail() says it; refused(error)
    answers instead when the engine refuses the handshake (it speaks another protocol)."""

    async def go() -> int:
        client = EngineClient(endpoint_for(args.home), name="cli")
        try:
            await client.connect(start=getattr(args, "start_engine", True))
            return await fn(client)
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except EngineError as exc:
        if refused is not None and exc.code == "protocol" and "mismatch" in exc.message:
            return refused(exc)
        return fail(args, exc.code, exc.message, exc.hint)
    except Interrupted as exc:
        fail(args, "interrupted", str(exc))
        return 130
    except KeyboardInterrupt:
        fail(args, "interrupted", "stopped by Ctrl-C")
        return 130
    except Exception as exc:  # a bug: still an answer a script can read
        return fail(
            args,
            "internal",
            f"{type(exc).__name__}: {exc}",
            "this is a bug in the workbench; the engine log may say more: workbench engine logs",
        )


class Watch:
    """Waiting on the engine from the command line: ends early, with a clear error, when the
    engine goes away, and on Ctrl-C (the work itself goes on in the engine)."""

    def __init__(self, client: EngineClient, following: str, again: str) -> None:
        self.client = client
        self.following = following  # "job j3 (import reviews)"
        self.again = again  # the command that follows it again
        loop = asyncio.get_running_loop()
        self._interrupted: asyncio.Future[None] = loop.create_future()
        self._lost = asyncio.ensure_future(client.wait_lost())
        loop.add_signal_handler(signal.SIGINT, self._interrupt)

    def _interrupt(self) -> None:
        if not self._interrupted.done():
            self._interrupted.set_result(None)

    async def wait(self, done: asyncio.Future[Any], timeout: float | None = None) -> None:
        """Return when done is, or after timeout; raise when the engine is gone or on Ctrl-C."""
        await asyncio.wait(
            [done, self._interrupted, self._lost], timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if done.done():
            return
        if self._interrupted.done():
            raise Interrupted(
                f"stopped following {self.following}; it goes on in the engine. "
                f"Follow it again with: {self.again}"
            )
        if self._lost.done():
            raise EngineGone(
                f"lost the engine while following {self.following}: {self._lost.result()}"
            )

    def close(self) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        self._lost.cancel()


async def wait_job(
    client: EngineClient,
    job_id: str,
    show: bool,
    title: str = "",
    early: list[P.Event] | None = None,
) -> P.JobEnded:
    """Follow a job to its end, drawing a progress bar. early: events that arrived before the
    job's id was known (a job may end before its reply is read)."""
    ended: asyncio.Future[P.JobEnded] = asyncio.get_running_loop().create_future()
    latest: dict[str, P.JobInfo] = {}

    def on_events(events: list[P.Event], _dropped: int) -> None:
        for ev in events:
            if isinstance(ev, P.JobEnded) and ev.job.job_id == job_id and not ended.done():
                ended.set_result(ev)
            elif isinstance(ev, P.JobProgress) and ev.job.job_id == job_id:
                latest["job"] = ev.job

    on_events(early or [], 0)
    unsubscribe = client.subscribe(on_events)
    watch = Watch(client, f"job {job_id} ({title or 'a job'})", f"workbench jobs follow {job_id}")
    try:
        if not show:
            await watch.wait(ended)
            return ended.result()
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"))
        with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(title or job_id, total=None, msg="")
            while not ended.done():
                await watch.wait(ended, timeout=0.1)
                job = latest.get("job")
                if job is not None and job.total > 0:
                    bar.update(task, completed=job.done, total=job.total, msg=job.message)
        return ended.result()
    finally:
        watch.close()
        unsubscribe()


async def run_job(client: EngineClient, call: P.StartsJob[J], show: bool, title: str) -> J:
    """Start a job, follow it (a progress bar when show), and return the result its call
    declares."""
    early: list[P.Event] = []
    unsubscribe = client.subscribe(lambda events, _dropped: early.extend(events))
    try:
        started = await client.ask(call)
    finally:
        unsubscribe()
    end = await wait_job(client, started.job_id, show=show, title=title, early=early)
    job_outcome(end)
    expected = P.job_result_type(type(call))
    if expected is None or not isinstance(end.result, expected):
        raise EngineError("protocol", f"the job ended with {type(end.result).__name__}")
    return end.result  # type: ignore[return-value]


def job_outcome(end: P.JobEnded) -> None:
    if end.error is not None:
        raise EngineError.of(end.error)


# ------------------------------------------------------------------ what every registry shares


Action = Callable[[EngineClient], Awaitable[int]]
T = TypeVar("T")


async def list_items(
    client: EngineClient,
    call: P.Returns[Any],
    items_of: Callable[[Any], list[T]],
    as_json: bool,
    title: str,
    headers: list[str],
    row_of: Callable[[T], list[Any]],
) -> int:
    """A registry listing: the items as JSON, or a table of one row per item."""
    items = items_of(await client.ask(call))
    if as_json:
        emit_json(items)
    else:
        out.print(table(title, headers, [row_of(item) for item in items]))
    return 0


async def delete_item(client: EngineClient, call: P.Returns[P.Ok], name: str, as_json: bool) -> int:
    """Delete one registry entry: {"deleted": name} as JSON, or the engine's message."""
    res = await client.ask(call)
    if as_json:
        emit_json({"deleted": name})
    else:
        out.print(res.message)
    return 0


def source_or_hint(item: Any) -> str:
    """Where a listed item comes from, or how to install it when its package is missing."""
    return str(item.source) if item.available else f"not installed: {item.hint}"


TABLE_ROWS = 1000  # rows a table prints; --json gives every one


# in a table a word up to WHOLE_WORD long (a number, a state, a step count) is never cut; a
# longer one (a name) may be cut to CUT_WORD with …
WHOLE_WORD, CUT_WORD = 13, 10


def table(
    title: str, headers: list[str], rows: list[list[Any]], optional: tuple[str, ...] = ()
) -> Table:
    """A table of at most TABLE_ROWS rows for the terminal's width; a caption says how many more
    rows there are, and which optional columns (dropped last first) did not fit."""
    more = len(rows) - TABLE_ROWS
    cells = [[str(v) for v in r] for r in rows[:TABLE_ROWS]]
    keep = list(range(len(headers)))
    dropped: list[str] = []
    for name in reversed([h for h in headers if h in optional]):
        if _natural_width([headers[i] for i in keep], [[r[i] for i in keep] for r in cells]) <= (
            out.width
        ):
            break
        keep.remove(headers.index(name))
        dropped.insert(0, name)
    # no vertical rules (room for the values at 80 columns); the first column (a name or an id,
    # to copy) is kept whole; a value wraps at spaces; a word is cut (with …) only when longer
    # than WHOLE_WORD, so numbers and states are never cut (--json has everything whole)
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    notes = []
    if more > 0:
        notes.append(f"+{more:,} more rows; --json gives them all")
    if dropped:
        notes.append(f"{', '.join(dropped)}: a wider terminal or --json shows them")
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    shown = [headers[i] for i in keep]
    rows_shown = [[r[i] for i in keep] for r in cells]
    for n, width in enumerate(_widths(shown, rows_shown, out.width)):
        table.add_column(shown[n], overflow="ellipsis", width=width, no_wrap=n == 0)
    for r in rows_shown:
        table.add_row(*r)
    return table


def _widths(headers: list[str], rows: list[list[str]], room: int) -> list[int]:
    """Each column's width: as wide as its longest cell while the table fits in room; else the
    widest columns give way first, down to their longest word, or CUT_WORD when that word is
    longer than WHOLE_WORD (the first column never gives way)."""
    natural = [max(len(t) for t in [h] + [r[i] for r in rows]) for i, h in enumerate(headers)]
    least = [
        max((len(w) for t in [h] + [r[i] for r in rows] for w in t.split()), default=1)
        for i, h in enumerate(headers)
    ]
    least = [natural[0]] + [w if w <= WHOLE_WORD else CUT_WORD for w in least[1:]]
    widths = list(natural)
    room -= 2 * len(widths) - 1  # a space of padding after each column, one between two
    while sum(widths) > room:
        slack = [w - m for w, m in zip(widths, least, strict=True)]
        if max(slack) <= 0:
            break  # every column at its least: the terminal cuts the rest
        widths[slack.index(max(slack))] -= 1
    return widths


def _natural_width(headers: list[str], rows: list[list[str]]) -> int:
    """The width a table needs to show every cell on one line (as _widths counts the gaps)."""
    widths = [max(len(t) for t in [h] + [r[i] for r in rows]) for i, h in enumerate(headers)]
    return sum(widths) + 2 * len(widths) - 1


def dist(counts: dict[str, int], limit: int = 6) -> str:
    items = list(counts.items())
    shown = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--json", action="store_true", help="print JSON")
    return p
