"""`workbench join FILE`: this machine joins a run on several nodes as one more node.

FILE is the run's join.json, copied from the run's folder on the engine's machine (0600: it
holds the run's key). The engine tells this node its rank (or the one --node-rank asks for),
the number of nodes and ranks per node and the rendezvous; torchrun then runs here, in the
foreground, until the run ends. The workbench must be installed here as it is there.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from workbench.cli.common import emit_json, err, out


def cmd_join(args: argparse.Namespace) -> int:
    from engine.core.errors import EngineError
    from engine.training import join

    try:
        joined = join.ask(Path(args.file), args.node_rank)
        line = shlex.join(joined.command())
    except EngineError as exc:
        if args.json:
            emit_json({"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}})
        else:
            err.print(f"error: {exc.message}", markup=False, highlight=False)
            if exc.hint:
                err.print(f"hint: {exc.hint}", markup=False, highlight=False)
        return 1
    said = (
        f"joined run {joined.run} as node {joined.node_rank} of {joined.nodes} "
        f"({joined.devices} rank{'s' if joined.devices > 1 else ''} here): {line}"
    )
    if args.json:
        emit_json(
            {
                "run_id": joined.run,
                "node_rank": joined.node_rank,
                "nodes": joined.nodes,
                "devices": joined.devices,
                "command": joined.command(),
            }
        )
    else:
        out.print(said, markup=False, highlight=False)
    try:
        code = join.run(joined)
    except KeyboardInterrupt:
        code = 130
    if not args.json:
        out.print(f"torchrun ended (status {code})", markup=False, highlight=False)
    return code


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "join",
        help="join a run on several nodes from this machine (its join.json)",
        description="Train one node of a run with nodes > 1: copy the run's join.json from "
        "its folder on the engine's machine (the run's message names it) and run this on "
        "each other machine; torchrun runs here until the run ends.",
    )
    p.add_argument("file", help="the run's join.json (it holds the run's key: keep it private)")
    p.add_argument(
        "--node-rank", type=int, help="this node's rank (default: the next free one, from 1)"
    )
    p.add_argument("--json", action="store_true", help="say what was joined as JSON first")
    p.set_defaults(handler=cmd_join)
