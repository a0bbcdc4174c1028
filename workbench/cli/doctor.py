"""`workbench doctor`: the engine's machine and devices, and what a run would train on.

It asks the engine (which may run on another machine), so it tells what runs there: the
device picked and why, CUDA, cuDNN and driver versions, bf16/fp16, NVML, free memory, the
distributed backends and torchrun, and the problems in the way.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine import protocol as P
from workbench.cli.common import emit_json, out, run, table, with_json
from workbench.engine.client import EngineClient


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def rows_of(d: P.DoctorResult) -> list[list[Any]]:
    """The doctor's table, a [what, value] row each."""
    rows: list[list[Any]] = [
        ["host", d.host],
        ["picked", f"{d.picked} ({d.picked_why})"],
        ["python / torch", f"{d.python} / {d.torch}"],
        ["CUDA (torch built with)", d.cuda_version or "none: a CPU build"],
        ["cuDNN", d.cudnn_version or "-"],
        ["driver", d.driver_version or "-"],
        ["NVML", d.nvml],
    ]
    for gpu in d.gpus:
        kinds = ", ".join(k for k, ok in (("bf16", gpu.bf16), ("fp16", gpu.fp16)) if ok)
        rows.append(
            [
                f"GPU {gpu.index}",
                f"{gpu.name} (sm {gpu.capability}) {_gib(gpu.memory_free)} free of "
                f"{_gib(gpu.memory_total)}; {kinds or 'fp32 only'}",
            ]
        )
    rows += [
        ["MPS", "available" if d.mps_available else "no"],
        [
            "CPU",
            f"{d.cpu_count} cores, {d.threads} torch threads, bf16 {'yes' if d.bf16_cpu else 'no'}",
        ],
        ["memory", f"{_gib(d.memory_available)} available of {_gib(d.memory_total)}"],
        ["distributed", ", ".join(d.distributed) or "none"],
        ["torchrun", d.torchrun or "missing"],
    ]
    rows += [[f"env {k}", v] for k, v in sorted(d.env.items())]
    rows += [["problem", p] for p in d.problems]
    return rows


def cmd_doctor(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        result = await client.ask(P.Doctor(), timeout=120)
        if args.json:
            emit_json(result)
        else:
            out.print(table(f"doctor: the engine on {result.host}", ["", ""], rows_of(result)))
        return 1 if args.strict and result.problems else 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    doc = sub.add_parser(
        "doctor", help="the engine's machine: device, CUDA, bf16, memory, what a run gets"
    )
    doc.add_argument(
        "--strict", action="store_true", help="exit 1 when a problem is found (for scripts)"
    )
    with_json(doc)
    doc.set_defaults(handler=cmd_doctor)
