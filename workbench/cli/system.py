"""`workbench engine start|stop|status|logs`: the engine itself (the system domain)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from engine import protocol as P
from engine.paths import Home, resolve_home
from workbench.cli.common import (
    emit_json,
    err,
    fail,
    job_outcome,
    out,
    run,
    table,
    wait_job,
    with_json,
)
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import endpoint_for


def stop_by_pidfile(home: Home, wait: float = 15.0) -> int:
    """SIGTERM the engine of home by its pid file, when that process is ours and an engine, and
    wait for its socket to go; its pid. EngineError when there is none to stop."""
    try:
        pid = int(home.pidfile.read_text().strip())
    except (OSError, ValueError):
        raise EngineError("not_found", f"no engine pid file in {home.runtime_dir}") from None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"engine" not in cmdline.read_bytes():
        raise EngineError("not_found", f"process {pid} of the pid file is not an engine")
    try:
        os.kill(pid, signal.SIGTERM)  # another user's process: PermissionError
    except ProcessLookupError:
        raise EngineError("not_found", f"the engine of the pid file (pid {pid}) is gone") from None
    except PermissionError:
        raise EngineError("permission", f"process {pid} is not yours") from None
    deadline = time.monotonic() + wait
    while home.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def cmd_engine(args: argparse.Namespace) -> int:
    if args.action == "logs":
        return _engine_logs(resolve_home(args.home), args.lines, args.follow)
    if args.action == "start":

        async def start(client: EngineClient) -> int:
            st = await client.ask(P.Status())
            if args.json:
                emit_json(st)
            else:
                verb = "started" if client.spawned else "already running"
                out.print(f"engine {verb}: pid {st.pid}, socket {st.socket}")
            return 0

        return run(args, start)
    if args.action == "stop":
        args.start_engine = False
        if not endpoint_for(args.home).socket.exists():
            emit_json({"stopped": False}) if args.json else out.print("no engine is running")
            return 0

        async def stop(client: EngineClient) -> int:
            st = await client.ask(P.Status())
            await client.ask(P.Shutdown())
            for _ in range(200):  # the engine removes its socket last
                if not client.endpoint.socket.exists():
                    break
                await asyncio.sleep(0.05)
            if args.json:
                emit_json({"stopped": True, "pid": st.pid})
            else:
                out.print(f"engine stopped (pid {st.pid})")
            return 0

        def older(exc: EngineError) -> int:
            # an engine of another version refuses the handshake, Shutdown included: stop it
            # by its pid file, as the one thing every version keeps
            endpoint = endpoint_for(args.home)
            if endpoint.home is None:
                return fail(args, exc.code, exc.message, "stop it where it runs")
            try:
                pid = stop_by_pidfile(endpoint.home)
            except EngineError as problem:
                return fail(args, problem.code, problem.message, problem.hint)
            if args.json:
                emit_json({"stopped": True, "pid": pid})
            else:
                out.print(f"engine stopped (pid {pid}; it spoke another protocol version)")
            return 0

        return run(args, stop, refused=older)
    args.start_engine = False

    async def status(client: EngineClient) -> int:
        st = await client.ask(P.Status())
        if args.json:
            emit_json(st)
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
        out.print(table("engine", ["", ""], rows))
        return 0

    code = run(args, status)
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


def cmd_jobs(args: argparse.Namespace) -> int:
    args.start_engine = False  # jobs live in a running engine; a new one has none

    async def go(client: EngineClient) -> int:
        if args.action != "list" and not args.job_id:
            raise EngineError("bad_input", f"workbench jobs {args.action} needs a job id")
        if args.action == "cancel":
            res = await client.ask(P.Cancel(job_id=args.job_id))
            emit_json({"ok": res.message}) if args.json else out.print(res.message)
            return 0
        jobs = (await client.ask(P.Jobs())).jobs
        if args.action == "follow":
            job = next((j for j in jobs if j.job_id == args.job_id), None)
            if job is None:
                raise EngineError(
                    "not_found", f"no job '{args.job_id}'", "list them: workbench jobs"
                )
            if job.state in ("queued", "running"):
                end = await wait_job(client, job.job_id, show=not args.json, title=job.title)
                job = end.job
                if args.json:
                    emit_json(end)
                else:
                    job_outcome(end)
            elif args.json:
                emit_json(job)
            if not args.json:
                out.print(f"job {job.job_id} ({job.title}) {job.state}")
            return 0 if job.state == "done" else 1
        if args.json:
            emit_json(jobs)
            return 0
        rows = [
            [
                j.job_id,
                j.kind,
                j.title,
                j.state,
                f"{100 * j.done / j.total:.0f}%" if j.total > 0 else "-",
                j.message,
            ]
            for j in jobs
        ]
        out.print(table("jobs", ["id", "kind", "title", "state", "done", "message"], rows))
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    jobs = with_json(sub.add_parser("jobs", help="the engine's jobs: list, follow or cancel"))
    jobs.add_argument("action", nargs="?", choices=["list", "follow", "cancel"], default="list")
    jobs.add_argument("job_id", nargs="?", help="for follow and cancel")
    jobs.set_defaults(handler=cmd_jobs)

    eng = sub.add_parser("engine", help="start, stop or inspect the engine")
    eng.add_argument("action", choices=["start", "stop", "status", "logs"])
    eng.add_argument("-n", "--lines", type=int, default=50, help="log lines to show")
    eng.add_argument("-f", "--follow", action="store_true", help="keep printing the log")
    with_json(eng)
    eng.set_defaults(handler=cmd_engine)
