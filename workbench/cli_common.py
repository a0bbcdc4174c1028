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
from engine.paths import resolve_home
from workbench.client import EngineClient, EngineError

R = TypeVar("R")
out = Console()
err = Console(stderr=True)


# ------------------------------------------------------------------ plumbing


def emit_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def run(args: argparse.Namespace, fn: Callable[[EngineClient], Awaitable[int]]) -> int:
    async def go() -> int:
        client = EngineClient(resolve_home(args.home), name="cli")
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


async def wait_job(client: EngineClient, job_id: str, show: bool, title: str = "") -> P.JobEnded:
    """Follow a job to its end, drawing a progress bar; Ctrl-C cancels the job."""
    ended: asyncio.Future[P.JobEnded] = asyncio.get_running_loop().create_future()
    latest: dict[str, P.JobInfo] = {}

    def on_events(events: list[P.Event], _dropped: int) -> None:
        for ev in events:
            if isinstance(ev, P.JobEnded) and ev.job.job_id == job_id and not ended.done():
                ended.set_result(ev)
            elif isinstance(ev, P.JobProgress) and ev.job.job_id == job_id:
                latest["job"] = ev.job

    client.on_events = on_events
    loop = asyncio.get_running_loop()
    cancel = lambda: asyncio.ensure_future(client.call(P.Cancel(job_id=job_id)))  # noqa: E731
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
        loop.remove_signal_handler(signal.SIGINT)


async def run_job(client: EngineClient, call: P.Call, expect: type[R], show: bool, title: str) -> R:
    """Start a job, follow it (a progress bar when show), and return its typed result."""
    started = await client.request(call, P.JobStarted)
    end = await wait_job(client, started.job_id, show=show, title=title)
    job_outcome(end)
    if not isinstance(end.result, expect):
        raise EngineError("protocol", f"the job ended with {type(end.result).__name__}")
    return end.result


def job_outcome(end: P.JobEnded) -> None:
    if end.error is not None:
        raise EngineError.of(end.error)


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
