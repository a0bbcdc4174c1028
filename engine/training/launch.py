"""A run on several devices: torchrun starts its ranks (python -m engine.training.rank), which
connect back to the engine over a private socket (a 0700 folder, a random key both sides
prove they hold); rank 0 is served as a one-device worker is, the others read data only.

`[train] devices = N` on one machine (torchrun --standalone --nproc-per-node N): nccl on
CUDA, gloo on the CPU. When the ranks cannot all connect, or torchrun ends before rank 0
has said how the run ended, the run fails with the reason; the engine goes on.

`[train] nodes = M` (with rdzv_endpoint = "HOST:PORT") trains on M machines, N ranks on
each: the engine's machine is node 0 (torchrun's static rendezvous: --nnodes M --node-rank 0
--master-addr HOST --master-port PORT, so the global rank 0 that reports is here), and every
rank, on any node, reaches the engine over TCP at HOST on a port of its own, with the same
key challenge. The engine writes join.json (0600: the address and the key) into the run's
folder; `workbench join join.json` on each other machine asks for its node rank and the
plan, then starts torchrun there (engine.training.join). A rank whose link closes before it
said goodbye (killed, out of memory, its machine gone) ends the whole run with that reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

from engine.core.errors import Cancelled, EngineError
from engine.training.join import command
from engine.training.rank import KEY_ENV, SOCKET_ENV
from engine.training.worker import RemoteControl, _sender, serve, serve_data

log = logging.getLogger("engine.training.launch")
CONNECT_SECONDS = 120.0  # for every rank to start (torch loads in each) and connect
JOIN_SECONDS = 900.0  # for the other nodes of a run on several machines to be joined
JOIN_FILE = "join.json"
HANDSHAKE_SECONDS = 30
BYE_SECONDS = 30.0  # for the other ranks to end once rank 0 has


@dataclass
class Plan:
    """Who trains a run: `devices` ranks on each of `nodes` machines."""

    devices: int
    nodes: int = 1
    endpoint: tuple[str, int] | None = None
    joined: set[int] = field(default_factory=set)  # node ranks handed out (0: the engine's)

    @property
    def ranks(self) -> int:
        return self.devices * self.nodes

    def take(self, asked: Any) -> int | str:
        """A node rank for a node that asks to join (asked: one it wants, or None), or why not."""
        free = [r for r in range(1, self.nodes) if r not in self.joined]
        if not free:
            return f"the run's {self.nodes} nodes have all joined"
        if asked is None:
            rank = free[0]
        elif isinstance(asked, int) and asked in free:
            rank = asked
        else:
            return f"node rank {asked} is not free: free are {', '.join(map(str, free))}"
        self.joined.add(rank)
        return rank


def run_in_torchrun(
    book: Any,
    targets: dict[str, Any],
    cfg: Any,
    run_id: str,
    run_dir: Path,
    resume: bool,
    job: Any,
    devices: int,
) -> tuple[str, str]:
    from engine.training.config import split_endpoint

    folder = Path(tempfile.mkdtemp(prefix="wb-train-"))  # 0700: ours alone
    key = secrets.token_bytes(32)
    spec = (cfg, run_id, run_dir, resume)
    nodes = int(cfg.train.get("nodes", 1))
    plan = Plan(devices, nodes, split_endpoint(cfg.train["rdzv_endpoint"]) if nodes > 1 else None)
    join = run_dir / JOIN_FILE
    if plan.endpoint is None:
        path = folder / "ranks.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        os.chmod(path, 0o600)
        address = str(path)
    else:  # the other machines reach the engine where they reach the rendezvous
        host = plan.endpoint[0]
        server = socket.create_server((host, 0), family=_family(host))
        address = f"tcp://{_bracket(host)}:{server.getsockname()[1]}"
        _write_private(join, json.dumps({"address": address, "key": key.hex(), "run": run_id}))
    server.listen(max(8, plan.ranks))
    server.settimeout(0.5)
    env = {
        **os.environ,
        SOCKET_ENV: address,
        KEY_ENV: key.hex(),
        "OMP_NUM_THREADS": os.environ.get(
            "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices))
        ),
    }
    visible = getattr(job, "visible_gpus", None)
    if visible is not None:  # the GPUs the engine gave this run; LOCAL_RANK counts among them
        env["CUDA_VISIBLE_DEVICES"] = visible
    with open(folder / "torchrun.log", "wb") as out:
        proc = subprocess.Popen(
            command(devices, nodes, 0, plan.endpoint),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its ranks are one group: stopped together
        )
    log.info("run %s trains on %d devices: torchrun pid %d", run_id, plan.ranks, proc.pid)
    if nodes > 1:
        targets["recorder"].on_message(
            f"waiting for {nodes - 1} more node{'s' if nodes > 2 else ''}: copy {join} to each "
            f"and run `workbench join {JOIN_FILE}` there",
            "info",
        )
    conns: list[Connection] = []
    lost: list[str] = []
    answering: list[threading.Thread] = []
    link = _Later()  # stop, pause and the rest work while the ranks are awaited, too
    control = RemoteControl(link.send)
    try:
        with book.training(run_id, control):
            try:
                main, others = _accept(server, key, plan, proc, job, spec, run_dir, control)
            except _StoppedWaiting:
                return "stopped", f"stopped while waiting for its {plan.ranks} ranks to connect"
            conns = [main, *others.values()]

            def answer(rank: int, conn: Connection) -> None:
                if not serve_data(conn, targets) and not lost and proc.poll() is None:
                    lost.append(f"rank {rank} (node {rank // devices}) lost its link to the engine")
                    log.warning("run %s: %s; its ranks are stopped", run_id, lost[0])
                    _kill(proc)

            for rank, conn in others.items():
                answering.append(threading.Thread(target=answer, args=(rank, conn), daemon=True))
                answering[-1].start()
            link.connect(_sender(main))
            ended = serve(main, link.send, targets, job, lambda: _waited(proc))
            for thread in answering:  # each rank says goodbye before its link is closed
                thread.join(timeout=BYE_SECONDS)
            return ended
    except EngineError as exc:
        if lost:
            raise EngineError(
                f"{lost[0]} (killed, out of memory, or its machine gone)", exc.hint
            ) from None
        raise EngineError(exc.message + _tail(folder / "torchrun.log"), exc.hint) from None
    finally:
        join.unlink(missing_ok=True)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        server.close()
        _end(proc)
        shutil.rmtree(folder, ignore_errors=True)


class _StoppedWaiting(Exception):
    """The run was stopped before its ranks had all connected."""


class _Later:
    """A sender to rank 0 before it has connected: what is sent waits, then goes in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Any] = []
        self._send: Any = None

    def send(self, msg: Any) -> None:
        with self._lock:
            if self._send is None:
                self._waiting.append(msg)
                return
        self._send(msg)

    def connect(self, send: Any) -> None:
        with self._lock:
            for msg in self._waiting:
                send(msg)
            self._waiting.clear()
            self._send = send


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _accept(
    server: socket.socket,
    key: bytes,
    plan: Plan,
    proc: subprocess.Popen[bytes],
    job: Any,
    spec: tuple[Any, ...],
    run_dir: Path,
    control: Any,
) -> tuple[Connection, dict[int, Connection]]:
    """(rank 0's connection, the others' by rank), once every rank has connected and proven
    the key; each is sent the run (and, where it asks, the checkpoint it resumes from).
    Nodes that ask to join are told their node rank and the plan."""
    found: dict[int, Connection] = {}
    started = time.monotonic()
    while len(found) < plan.ranks:
        if job.cancel_requested:
            raise Cancelled()
        if control.stop_requested:
            raise _StoppedWaiting()
        if proc.poll() is not None:
            raise EngineError(
                f"torchrun ended (status {proc.returncode}) before its {plan.ranks} ranks connected"
            )
        waited = time.monotonic() - started
        if waited > CONNECT_SECONDS and (plan.nodes == 1 or waited > JOIN_SECONDS):
            missing = "" if plan.nodes == 1 else f"; nodes joined: {len(plan.joined) + 1}"
            raise EngineError(f"only {len(found)} of {plan.ranks} ranks connected in time{missing}")
        try:
            sock, _ = server.accept()
        except TimeoutError:
            continue
        sock.settimeout(None)
        _read_timeout(sock, HANDSHAKE_SECONDS)  # a peer that says nothing is not waited on
        conn = Connection(sock.detach())
        try:
            deliver_challenge(conn, key)
            answer_challenge(conn, key)
            hello = conn.recv()
        except Exception:  # not one of ours: never served
            conn.close()
            continue
        if isinstance(hello, tuple) and hello[:1] == ("join",) and plan.endpoint is not None:
            _answer_join(conn, plan, hello[1] if len(hello) > 1 else None)
            continue
        if not (isinstance(hello, tuple) and hello[:1] == ("hello",) and len(hello) >= 2):
            conn.close()
            continue
        rank, mirror = int(hello[1]), bool(hello[2]) if len(hello) > 2 else False
        if rank in found or not 0 <= rank < plan.ranks:
            conn.close()
            continue
        try:
            conn.send((*spec, _checkpoint_files(run_dir) if mirror and spec[3] else None))
        except OSError:
            conn.close()
            continue
        with socket.socket(fileno=os.dup(conn.fileno())) as again:
            _read_timeout(again, 0)  # from here a rank waits for the others as long as it takes
        found[rank] = conn
    return found.pop(0), found


def _answer_join(conn: Connection, plan: Plan, asked: Any) -> None:
    taken = plan.take(asked)
    with contextlib.suppress(OSError):
        if isinstance(taken, str):
            conn.send(("refused", taken))
        else:
            assert plan.endpoint is not None
            conn.send(("plan", plan.nodes, taken, plan.devices, *plan.endpoint))
        log.info("a node joins the run as node %s", taken)
    conn.close()


def _read_timeout(sock: socket.socket, seconds: int) -> None:
    """Reads on the socket's descriptor fail after `seconds` (0: never), as Connection reads."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, 0))


def _checkpoint_files(run_dir: Path) -> dict[str, bytes] | None:
    """The checkpoint a resumed run starts from, file by file (relative to the run folder), for
    ranks on another machine; None when the run has none."""
    from engine.training.checkpoint import resolve_checkpoint

    try:
        ckpt = resolve_checkpoint(run_dir / "checkpoints")
    except (EngineError, OSError):
        return None
    return {
        str(f.relative_to(run_dir)): f.read_bytes() for f in sorted(ckpt.rglob("*")) if f.is_file()
    }


def _waited(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        return None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop torchrun's ranks now: on SIGTERM it ends them (they run in sessions of their
    own, out of the group's reach), and _end makes sure."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """torchrun and its ranks gone: they end by themselves after rank 0's word, else stopped."""
    try:
        proc.wait(30)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(5)


def _tail(path: Path, chars: int = 600) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"; torchrun said: {text[-chars:]}" if text else ""
