"""One rank of a run on several devices: what torchrun starts (python -m engine.training.rank).

Every rank connects back to the engine over the run's private socket (WORKBENCH_TRAIN_SOCKET,
authenticated with WORKBENCH_TRAIN_KEY) and runs the run's TrainingWork: rank 0 with the
engine's run book, recorder and job behind it, as a one-device worker has them; the other
ranks read the same datasets, tokenizers and vectors through the engine and report nothing
(engine.training.distributed: rank 0 tells them when to stop).
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

SOCKET_ENV = "WORKBENCH_TRAIN_SOCKET"
KEY_ENV = "WORKBENCH_TRAIN_KEY"
SPEC_ENV = "WORKBENCH_TRAIN_SPEC"


def connect(path: str, key: bytes) -> Connection:
    """The rank's end of the run's socket, both sides proven to hold the key."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    conn = Connection(sock.detach())
    answer_challenge(conn, key)
    deliver_challenge(conn, key)
    return conn


def main() -> None:
    from engine.training.distributed import World
    from engine.training.worker import run_rank

    world = World.from_env()
    key = bytes.fromhex(os.environ[KEY_ENV])
    conn = connect(os.environ[SOCKET_ENV], key)
    conn.send(("hello", world.rank))
    spec: Any = pickle.loads(Path(os.environ[SPEC_ENV]).read_bytes())
    cfg, run_id, run_dir, resume = spec
    run_rank(conn, cfg, run_id, run_dir, resume, main=world.main)


if __name__ == "__main__":
    sys.exit(main())
