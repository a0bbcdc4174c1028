"""One rank of a run on several devices: what torchrun starts (python -m engine.training.rank).

Every rank connects back to the engine over the run's private socket (WORKBENCH_TRAIN_SOCKET,
authenticated with WORKBENCH_TRAIN_KEY), is sent the run, and runs the run's TrainingWork: rank 0 with the
engine's run book, recorder and job behind it, as a one-device worker has them; the other
ranks read the same datasets, tokenizers and vectors through the engine and report nothing
(engine.training.distributed: rank 0 tells them when to stop).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

SOCKET_ENV = "WORKBENCH_TRAIN_SOCKET"  # a Unix socket's path, or tcp://HOST:PORT
KEY_ENV = "WORKBENCH_TRAIN_KEY"
# set on a node joined from another machine: the run's folder is not here, so a resumed rank
# is sent its checkpoint and works in a private folder of its own
MIRROR_ENV = "WORKBENCH_TRAIN_MIRROR"


def connect(address: str, key: bytes) -> Connection:
    """The rank's end of the run's socket, both sides proven to hold the key."""
    if address.startswith("tcp://"):
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        sock.settimeout(None)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
    conn = Connection(sock.detach())
    answer_challenge(conn, key)
    deliver_challenge(conn, key)
    return conn


def mirror(files: dict[str, bytes] | None) -> Path:
    """A private folder standing in for the run's folder, holding the checkpoint sent."""
    folder = Path(tempfile.mkdtemp(prefix="wb-rank-"))
    for name, data in (files or {}).items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            continue  # a name that climbs out is never written
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def main() -> None:
    from engine.training.distributed import World
    from engine.training.worker import run_rank

    world = World.from_env()
    key = bytes.fromhex(os.environ[KEY_ENV])
    conn = connect(os.environ[SOCKET_ENV], key)
    elsewhere = bool(os.environ.get(MIRROR_ENV))
    conn.send(("hello", world.rank, elsewhere))
    spec: Any = conn.recv()
    cfg, run_id, run_dir, resume, files = spec
    local = mirror(files) if elsewhere else None
    try:
        run_rank(conn, cfg, run_id, local or run_dir, resume, main=world.main)
    finally:
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
