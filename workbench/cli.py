"""The `workbench` command: the TUI by default, every capability as a subcommand.

Each subcommand talks to the same engine as the app (starting it if needed)
and prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine import protocol as P
from engine.paths import Home, resolve_home
from workbench.client import EngineClient, EngineError

out = Console()
err = Console(stderr=True)


# ------------------------------------------------------------------ plumbing


def _emit_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def _run(args: argparse.Namespace, fn: Callable[[EngineClient], Awaitable[int]]) -> int:
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
            _emit_json({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}})
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


def _job_outcome(args: argparse.Namespace, end: P.JobEnded) -> int:
    if end.error is not None:
        raise EngineError.of(end.error)
    return 0


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for h in headers:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*[str(v) for v in r])
    return table


def _dist(counts: dict[str, int], limit: int = 6) -> str:
    items = list(counts.items())
    shown = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


# ------------------------------------------------------------------ engine


def cmd_engine(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    if args.action == "logs":
        return _engine_logs(home, args.lines, args.follow)
    if args.action == "start":

        async def start(client: EngineClient) -> int:
            st = await client.request(P.Status(), P.StatusResult)
            if args.json:
                _emit_json(st)
            else:
                verb = "started" if client.spawned else "already running"
                out.print(f"engine {verb}: pid {st.pid}, socket {st.socket}")
            return 0

        return _run(args, start)
    if args.action == "stop":
        args.start_engine = False

        async def stop(client: EngineClient) -> int:
            st = await client.request(P.Status(), P.StatusResult)
            await client.call(P.Shutdown())
            for _ in range(200):  # the engine removes its socket last
                if not home.socket.exists():
                    break
                await asyncio.sleep(0.05)
            if args.json:
                _emit_json({"stopped": True, "pid": st.pid})
            else:
                out.print(f"engine stopped (pid {st.pid})")
            return 0

        try:
            return _run(args, stop)
        finally:
            pass
    args.start_engine = False

    async def status(client: EngineClient) -> int:
        st = await client.request(P.Status(), P.StatusResult)
        if args.json:
            _emit_json(st)
            return 0
        dev = st.device
        mem = f"{dev.memory_used / 2**30:.1f}/{dev.memory_total / 2**30:.1f} GiB"
        rows = [
            ["pid", st.pid],
            ["session", st.session_id],
            ["version", st.version],
            ["up", f"{time.time() - st.started:.0f} s"],
            ["home", st.home],
            ["data", st.data_dir],
            ["socket", st.socket],
            ["log", st.log_path],
            ["device", f"{dev.name} [{dev.kind}] {mem}"],
            ["clients", st.clients],
            ["jobs", ", ".join(f"{j.job_id} {j.title} {j.state}" for j in st.jobs) or "none"],
        ]
        out.print(_table("engine", ["", ""], rows))
        return 0

    code = _run(args, status)
    if code != 0 and not args.json:
        err.print("no engine is running; start one with `workbench engine start`")
    return code


def _engine_logs(home: Home, lines: int, follow: bool) -> int:
    if not home.log.exists():
        err.print(f"no engine log yet at {home.log}")
        return 1
    with open(home.log, encoding="utf-8", errors="replace") as fh:
        tail = fh.readlines()[-lines:]
        sys.stdout.write("".join(tail))
        sys.stdout.flush()
        while follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)
    return 0


# ------------------------------------------------------------------ datasets


def cmd_datasets(args: argparse.Namespace) -> int:
    return _run(args, DATASET_ACTIONS[args.action](args))


def _ds_list(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        res = await client.request(P.DatasetList(), P.DatasetListResult)
        if args.json:
            _emit_json(res.datasets)
            return 0
        rows = []
        for d in res.datasets:
            if not d.available:
                rows.append([d.name, "-", "-", "-", f"not installed: {d.hint}"])
            elif d.rows == 0:
                rows.append([d.name, "-", "-", "-", "built-in, opens on first use"])
            else:
                rows.append([d.name, f"{d.rows:,}", d.classes, _dist(d.splits), d.source])
        out.print(_table("datasets", ["name", "rows", "classes", "splits", "source"], rows))
        return 0

    return go


def _ds_show(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        res = await client.request(P.DatasetOpen(name=args.name), P.DatasetResult)
        d = res.dataset
        if args.json:
            _emit_json(d)
            return 0
        out.print(f"[bold]{d.name}[/]  {d.rows:,} rows, {d.classes} classes  ({d.source})")
        if d.description:
            out.print(d.description)
        out.print(f"text column: {d.text_column}   label column: {d.label_column or '-'}")
        out.print(f"splits: {_dist(d.splits)}")
        rows = [[k, f"{v:,}", f"{100 * v / max(d.rows, 1):.1f}%"] for k, v in d.labels.items()]
        out.print(_table("labels", ["label", "rows", "share"], rows))
        return 0

    return go


def _ds_rows(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        call = P.DatasetRows(
            name=args.name,
            offset=args.offset,
            limit=args.limit,
            search=args.search or "",
            regex=args.regex,
            label=args.label,
            split=args.split,
            max_chars=0 if args.json else 200,
        )
        page = await client.request(call, P.RowsPage)
        if args.json:
            _emit_json(page)
            return 0
        rows = [[r.index, r.label or "", r.split, r.text] for r in page.rows]
        end = page.offset + len(page.rows)
        title = f"{args.name}: rows {page.offset}-{end} of {page.total:,} matching"
        out.print(_table(title, ["#", "label", "split", "text"], rows))
        return 0

    return go


def _ds_import(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        text_col, label_col = args.text_column, args.label_column
        if text_col is None or (label_col is None and not args.no_label):
            pv = await client.request(
                P.DatasetPreview(source=args.source, format=args.format), P.PreviewResult
            )
            text_col = text_col or pv.preview.text_column
            if label_col is None and not args.no_label:
                label_col = pv.preview.label_column or None
            if not args.json:
                err.print(
                    f"columns: {', '.join(pv.preview.columns)}; using text={text_col!r}, "
                    f"label={label_col!r} (change with --text-column / --label-column)"
                )
        call = P.DatasetImport(
            source=args.source,
            name=args.name,
            text_column=text_col,
            label_column=None if args.no_label else label_col,
            format=args.format,
            split_column=args.split_column,
        )
        started = await client.request(call, P.JobStarted)
        end = await wait_job(
            client, started.job_id, show=not args.json, title=f"importing {args.name}"
        )
        _job_outcome(args, end)
        assert isinstance(end.result, P.DatasetResult)
        d = end.result.dataset
        if args.json:
            _emit_json(d)
        else:
            out.print(f"imported [bold]{args.name}[/]: {d.rows:,} rows, {d.classes} classes")
        return 0

    return go


def _ds_split(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        call = P.DatasetSplit(
            name=args.name,
            train=args.train,
            validation=args.validation,
            test=args.test,
            seed=args.seed,
            stratify=not args.no_stratify,
            group_column=args.group_column,
        )
        res = await client.request(call, P.SplitResult)
        if args.json:
            _emit_json(res)
            return 0
        how = ("stratified" if res.stratified else "not stratified") + (
            f", grouped by {res.group_column}" if res.group_column else ""
        )
        rows = [[s.split, f"{s.rows:,}", _dist(s.labels)] for s in res.splits]
        out.print(
            _table(f"{args.name} split (seed {res.seed}, {how})", ["split", "rows", "labels"], rows)
        )
        if res.note:
            out.print(res.note)
        return 0

    return go


def _ds_stats(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        res = await client.request(P.DatasetStats(name=args.name, split=args.split), P.StatsResult)
        if args.json:
            _emit_json(res)
            return 0
        w, c = res.words, res.characters
        out.print(f"[bold]{res.name}[/] {res.rows:,} rows  labels: {_dist(res.labels)}")
        out.print(f"words: mean {w.mean:.1f}, median {w.median:.0f}, max {w.max:.0f}")
        out.print(f"characters: mean {c.mean:.1f}, median {c.median:.0f}, max {c.max:.0f}")
        return 0

    return go


def _ds_report(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        res = await client.request(P.DatasetReport(name=args.name), P.ReportResult)
        if args.json:
            _emit_json(res)
            return 0
        out.print(
            f"[bold]{res.name}[/]: {res.duplicate_rows:,} of {res.rows:,} rows repeat an "
            f"earlier text; {res.cross_split_texts:,} texts appear in more than one split"
        )
        dup = [[g.count, ", ".join(g.splits), g.text[:100]] for g in res.duplicate_groups]
        if dup:
            out.print(_table("duplicate texts", ["count", "splits", "text"], dup))
        cross = [[g.count, ", ".join(g.splits), g.text[:100]] for g in res.cross_split_groups]
        if cross:
            out.print(_table("texts in two splits", ["count", "splits", "text"], cross))
        return 0

    return go


def _ds_delete(args: argparse.Namespace) -> Callable[[EngineClient], Awaitable[int]]:
    async def go(client: EngineClient) -> int:
        res = await client.request(P.DatasetDelete(name=args.name), P.Ok)
        if args.json:
            _emit_json({"deleted": args.name})
        else:
            out.print(res.message)
        return 0

    return go


DATASET_ACTIONS = {
    "list": _ds_list,
    "show": _ds_show,
    "rows": _ds_rows,
    "import": _ds_import,
    "split": _ds_split,
    "stats": _ds_stats,
    "report": _ds_report,
    "delete": _ds_delete,
}


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="A terminal workbench for deep learning on text. "
        "With no command, opens the app.",
    )
    parser.add_argument(
        "--home", help="data and runtime dir (default: WORKBENCH_HOME or platform dirs)"
    )
    sub = parser.add_subparsers(dest="command")

    def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--json", action="store_true", help="print JSON")
        return p

    eng = sub.add_parser("engine", help="start, stop or inspect the engine")
    eng.add_argument("action", choices=["start", "stop", "status", "logs"])
    eng.add_argument("-n", "--lines", type=int, default=50, help="log lines to show")
    eng.add_argument("-f", "--follow", action="store_true", help="keep printing the log")
    with_json(eng)

    ds = sub.add_parser("datasets", help="list, show, import, split and page datasets")
    dsub = ds.add_subparsers(dest="action", required=True)
    with_json(dsub.add_parser("list", help="datasets with row and class counts"))
    for action, text in [
        ("show", "a dataset's labels and splits"),
        ("report", "duplicate texts and texts in two splits"),
        ("delete", "delete an imported dataset"),
    ]:
        with_json(dsub.add_parser(action, help=text)).add_argument("name")
    st = with_json(dsub.add_parser("stats", help="label counts and text lengths"))
    st.add_argument("name")
    st.add_argument("--split")
    rows = with_json(dsub.add_parser("rows", help="a page of rows, optionally filtered"))
    rows.add_argument("name")
    rows.add_argument("--offset", type=int, default=0)
    rows.add_argument("--limit", type=int, default=20)
    rows.add_argument("--search", help="substring (or regex with --regex) to match")
    rows.add_argument("--regex", action="store_true")
    rows.add_argument("--label")
    rows.add_argument("--split")
    imp = with_json(
        dsub.add_parser(
            "import", help="import CSV, TSV, JSONL, Parquet, a saved HF dataset or a hub name"
        )
    )
    imp.add_argument("source", help="a file, a folder saved with save_to_disk, or a hub name")
    imp.add_argument("--name", required=True)
    imp.add_argument("--text-column")
    imp.add_argument("--label-column")
    imp.add_argument("--no-label", action="store_true", help="import texts only")
    imp.add_argument("--format", choices=["csv", "tsv", "jsonl", "parquet", "hf-disk", "hub"])
    imp.add_argument("--split-column", help="a column holding train/validation/test")
    sp = with_json(
        dsub.add_parser("split", help="train/validation/test split, stratified and seeded")
    )
    sp.add_argument("name")
    sp.add_argument("--train", type=float, default=0.8)
    sp.add_argument("--validation", type=float, default=0.1)
    sp.add_argument("--test", type=float, default=0.1)
    sp.add_argument("--seed", type=int, default=13)
    sp.add_argument("--no-stratify", action="store_true")
    sp.add_argument("--group-column", help="keep each value of this column in one split")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.home:
        os.environ["WORKBENCH_HOME"] = args.home  # the app and any engine it starts agree
    if args.command is None:
        from workbench.app import run_app

        sys.exit(run_app(resolve_home(args.home)))
    handlers = {"engine": cmd_engine, "datasets": cmd_datasets}
    sys.exit(handlers[args.command](args))


def dumps(value: Any) -> str:
    """JSON text of a protocol value (tests use it)."""
    return json.dumps(msgspec.to_builtins(value))
