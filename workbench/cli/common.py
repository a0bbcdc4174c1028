"""What every `workbench` subcommand shares: running against the engine, output, jobs."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine import protocol as P
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import endpoint_for

J = TypeVar("J")
out = Console()
err = Console(stderr=True)


# ------------------------------------------------------------------ plumbing


def emit_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def run(args: argparse.Namespace, fn: Callable[[EngineClient], Awaitable[int]]) -> int:
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
        if getattr(args, "json", False):
            emit_json({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}})
        else:
            err.print(f"[bold red]error:[/] {exc.message}")
            if exc.hint:
                err.print(f"  {exc.hint}")
        return 1
    except KeyboardInterrupt:
        return 130


async def wait_job(
    client: EngineClient,
    job_id: str,
    show: bool,
    title: str = "",
    early: list[P.Event] | None = None,
) -> P.JobEnded:
    """Follow a job to its end, drawing a progress bar; Ctrl-C cancels the job. early: events
    that arrived before the job's id was known (a job may end before its reply is read)."""
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
    loop = asyncio.get_running_loop()
    cancel = lambda: asyncio.ensure_future(client.ask(P.Cancel(job_id=job_id)))  # noqa: E731
    loop.add_signal_handler(signal.SIGINT, cancel)
    try:
        if not show:
            return await ended
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"))
        with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(title or job_id, total=None, msg="")
            while not ended.done():
                await asyncio.wait([ended], timeout=0.1)
                job = latest.get("job")
                if job is not None and job.total > 0:
                    bar.update(task, completed=job.done, total=job.total, msg=job.message)
        return ended.result()
    finally:
        unsubscribe()
        loop.remove_signal_handler(signal.SIGINT)


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


def table(title: str, headers: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for h in headers:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*[str(v) for v in r])
    return table


def dist(counts: dict[str, int], limit: int = 6) -> str:
    items = list(counts.items())
    shown = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--json", action="store_true", help="print JSON")
    return p
