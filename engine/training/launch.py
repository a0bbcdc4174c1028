"""A run on several devices: torchrun starts its ranks (python -m engine.training.rank), which
connect back to the engine over a private socket (a 0700 folder, a random key both sides
prove they hold); rank 0 is served as a one-device worker is, the others read data only.

`[train] devices = N` on one machine (torchrun --standalone --nproc-per-node N): nccl on
CUDA, gloo on the CPU. When the ranks cannot all connect, or torchrun ends before rank 0
has said how the run ended, the run fails with the reason; the engine goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

from engine.core.errors import Cancelled, EngineError
from engine.training.rank import KEY_ENV, SOCKET_ENV, SPEC_ENV
from engine.training.worker import RemoteControl, _sender, serve, serve_data

log = logging.getLogger("engine.training.launch")
CONNECT_SECONDS = 120.0  # for every rank to start (torch loads in each) and connect


def torchrun() -> str:
    """The torchrun beside this python (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("torchrun")
    found = str(beside) if beside.is_file() else shutil.which("torchrun")
    if not found:
        raise EngineError(
            "a run on several devices needs torchrun, and there is none beside the engine's "
            "python or on PATH",
            hint="install torch in the engine's environment, or set devices = 1",
        )
    return found


def command(devices: int) -> list[str]:
    """torchrun's command line for `devices` ranks on this machine."""
    return [
        torchrun(),
        "--standalone",
        f"--nproc-per-node={devices}",
        "-m",
        "engine.training.rank",
    ]


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
    folder = Path(tempfile.mkdtemp(prefix="wb-train-"))  # 0700: ours alone
    path = folder / "ranks.sock"
    key = secrets.token_bytes(32)
    spec = folder / "spec.pickle"
    spec.write_bytes(pickle.dumps((cfg, run_id, run_dir, resume)))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o600)
    server.listen(devices)
    server.settimeout(0.5)
    env = {
        **os.environ,
        SOCKET_ENV: str(path),
        KEY_ENV: key.hex(),
        SPEC_ENV: str(spec),
        "OMP_NUM_THREADS": os.environ.get(
            "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices))
        ),
    }
    visible = getattr(job, "visible_gpus", None)
    if visible is not None:  # the GPUs the engine gave this run; LOCAL_RANK counts among them
        env["CUDA_VISIBLE_DEVICES"] = visible
    with open(folder / "torchrun.log", "wb") as out:
        proc = subprocess.Popen(
            command(devices),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its ranks are one group: stopped together
        )
    log.info("run %s trains on %d devices: torchrun pid %d", run_id, devices, proc.pid)
    conns: list[Connection] = []
    try:
        main, others = _accept(server, key, devices, proc, job)
        conns = [main, *others]
        for conn in others:
            threading.Thread(target=serve_data, args=(conn, targets), daemon=True).start()
        send = _sender(main)
        with book.training(run_id, RemoteControl(send)):
            return serve(main, send, targets, job, lambda: _waited(proc))
    except EngineError as exc:
        raise EngineError(exc.message + _tail(folder / "torchrun.log"), exc.hint) from None
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        server.close()
        _end(proc)
        shutil.rmtree(folder, ignore_errors=True)


def _accept(
    server: socket.socket, key: bytes, devices: int, proc: subprocess.Popen[bytes], job: Any
) -> tuple[Connection, list[Connection]]:
    """(rank 0's connection, the others'), once every rank has connected and proven the key."""
    found: dict[int, Connection] = {}
    deadline = time.monotonic() + CONNECT_SECONDS
    while len(found) < devices:
        if job.cancel_requested:
            raise Cancelled()
        if proc.poll() is not None:
            raise EngineError(
                f"torchrun ended (status {proc.returncode}) before its {devices} ranks connected"
            )
        if time.monotonic() > deadline:
            raise EngineError(f"only {len(found)} of {devices} ranks connected in time")
        try:
            sock, _ = server.accept()
        except TimeoutError:
            continue
        sock.settimeout(None)
        conn = Connection(sock.detach())
        try:
            deliver_challenge(conn, key)
            answer_challenge(conn, key)
            hello = conn.recv()
        except Exception:  # not one of ours: never served
            conn.close()
            continue
        if isinstance(hello, tuple) and hello[:1] == ("hello",) and hello[1] not in found:
            found[int(hello[1])] = conn
    return found.pop(0), list(found.values())


def _waited(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        return None


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
