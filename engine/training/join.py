"""A machine joining a run on several nodes (`workbench join FILE`): it proves the run's key
to the engine (the address and key in the run's join.json), is told its node rank, the
number of nodes, the ranks per node and the rendezvous, and starts torchrun here with them.
Its ranks reach the engine over the same TCP address; they get the run (and, on a resume,
its checkpoint) from it, so nothing of the run needs to be on this machine but the
workbench itself. Imports no torch: torchrun's ranks do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.errors import EngineError
from engine.training.rank import KEY_ENV, MIRROR_ENV, SOCKET_ENV, connect


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


def command(
    devices: int, nodes: int = 1, node_rank: int = 0, endpoint: tuple[str, int] | None = None
) -> list[str]:
    """torchrun's command line for `devices` ranks on this machine, one of `nodes`."""
    if nodes == 1 or endpoint is None:
        where = ["--standalone"]
    else:  # static rendezvous: node ranks fixed, so global rank 0 is on node 0
        where = [
            f"--nnodes={nodes}",
            f"--node-rank={node_rank}",
            f"--master-addr={endpoint[0]}",
            f"--master-port={endpoint[1]}",
        ]
    return [torchrun(), *where, f"--nproc-per-node={devices}", "-m", "engine.training.rank"]


@dataclass(frozen=True)
class Joined:
    """What the engine told a joining node."""

    run: str
    address: str
    key: bytes
    nodes: int
    node_rank: int
    devices: int
    endpoint: tuple[str, int]

    def command(self) -> list[str]:
        return command(self.devices, self.nodes, self.node_rank, self.endpoint)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            SOCKET_ENV: self.address,
            KEY_ENV: self.key.hex(),
            MIRROR_ENV: "1",
            "OMP_NUM_THREADS": os.environ.get(
                "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // self.devices))
            ),
        }


def read_join_file(path: Path) -> dict[str, Any]:
    """The address, key and run in a join.json, or EngineError saying what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        address, key, run = str(data["address"]), bytes.fromhex(data["key"]), str(data["run"])
    except FileNotFoundError:
        raise EngineError(
            f"no file {path}",
            hint="copy join.json from the run's folder on the engine's machine (the run's "
            "message names it)",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(
            f"{path} is not a run's join.json ({type(exc).__name__}: {exc})",
            hint="copy it again from the run's folder: it holds the address and key",
        ) from None
    if not address.startswith("tcp://") or len(key) != 32:
        raise EngineError(f"{path} is not a run's join.json (no TCP address or key)")
    return {"address": address, "key": key, "run": run}


def ask(path: Path, node_rank: int | None = None) -> Joined:
    """Join the run that path (a join.json) names: EngineError when the engine is not
    reached, the key is not the run's, or the run has no room for this node."""
    info = read_join_file(path)
    try:
        conn = connect(info["address"], info["key"])
    except (OSError, EOFError) as exc:
        raise EngineError(
            f"cannot reach the run at {info['address']}: {exc}",
            hint="is it still waiting for its nodes, and does this machine reach that address?",
        ) from None
    except Exception as exc:  # multiprocessing's AuthenticationError: another key
        raise EngineError(
            f"the engine at {info['address']} refused the key ({type(exc).__name__})",
            hint="the run was started again since: copy its new join.json",
        ) from None
    try:
        conn.send(("join", node_rank))
        answer = conn.recv()
    except (OSError, EOFError) as exc:
        raise EngineError(f"the run at {info['address']} hung up: {exc}") from None
    finally:
        conn.close()
    if answer[0] == "refused":
        raise EngineError(f"the run refuses this node: {answer[1]}")
    _, nodes, rank, devices, host, port = answer
    return Joined(info["run"], info["address"], info["key"], nodes, rank, devices, (host, port))


def run(joined: Joined) -> int:
    """torchrun for this node's ranks, in the foreground; its exit status."""
    return subprocess.call(joined.command(), env=joined.env(), stdin=subprocess.DEVNULL)
