"""`workbench engine start|stop|status|logs|where`: the engine itself (the system domain)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
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
from workbench.engine.endpoint import Endpoint, endpoint_for


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


async def _probe(endpoint: Endpoint) -> tuple[int, str]:
    """(pid, "") when an engine answers at the endpoint, else (0, why not)."""
    client = EngineClient(endpoint, name="cli")
    try:
        welcome = await client.connect(start=False, timeout=5)
        return welcome.pid, ""
    except EngineError as exc:
        return 0, exc.message
    finally:
        await client.close()


def _engine_where(args: argparse.Namespace) -> int:
    """The socket a user elsewhere forwards to reach this home's engine, and whether one
    answers there."""
    endpoint = endpoint_for(args.home)
    pid, why = asyncio.run(_probe(endpoint))
    sock = str(endpoint.socket)
    if args.json:
        emit_json(
            {
                "socket": sock,
                "home": endpoint.home.root if endpoint.home is not None else None,
                "host": socket.gethostname(),
                "running": pid > 0,
                "pid": pid,
                "reason": why,
            }
        )
        return 0
    lines = [sock]
    if pid:
        lines.append(f"an engine answers there (pid {pid})")
    else:
        start = "workbench engine start" if endpoint.spawns else "start it where it runs"
        lines.append(f"no engine answers there ({why}): {start}")
    sys.stdout.write("\n".join(lines) + "\n")
    host = socket.gethostname()
    sys.stderr.write(
        f"from another machine: ssh -N -L /tmp/wb.sock:{sock} {host}, then "
        f"workbench --socket /tmp/wb.sock; or just: workbench --ssh {host}\n"
    )
    return 0


def cmd_engine(args: argparse.Namespace) -> int:
    if args.action == "where":
        return _engine_where(args)
    if args.action == "logs":
        if not endpoint_for(args.home).spawns:
            return fail(
                args,
                "remote",
                "the engine's log is kept where the engine runs",
                "run `workbench engine logs` on that machine (`ssh HOST workbench engine logs`)",
            )
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
                if not client.endpoint.spawns and not client.connected:
                    break  # a forwarded socket stays: the engine closing the link is the sign
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

    eng = sub.add_parser(
        "engine",
        help="start, stop or inspect the engine; `where`: the socket to forward to reach it",
    )
    eng.add_argument("action", choices=["start", "stop", "status", "logs", "where"])
    eng.add_argument("-n", "--lines", type=int, default=50, help="log lines to show")
    eng.add_argument("-f", "--follow", action="store_true", help="keep printing the log")
    with_json(eng)
    eng.set_defaults(handler=cmd_engine)
