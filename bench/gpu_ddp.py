"""GPU readiness (issue 14), the DDP part: torch.distributed with nccl, started by torchrun.

    torchrun --standalone --nproc_per_node=N bench/gpu_ddp.py --rows FILE [--smoke]

Each process takes one GPU (LOCAL_RANK), joins an nccl process group and
1. checks an all_reduce (the sum of every rank's rank + 1) and times one of a large bf16 tensor:
   algorithm bandwidth = bytes / seconds, bus bandwidth = that * 2 (n - 1) / n (nccl-tests' names);
   with one process nccl still initialises and runs the collective, but nothing crosses between
   GPUs, so the bus bandwidth is 0 and the figure is a local pass, said so in the row;
2. takes one DistributedDataParallel step of a tiny model on rank-dependent data and checks
   that every rank ends with the same parameters (the gradients were averaged).
Rank 0 writes the rows (JSON lines, bench.gpu_bench.Row's fields) to --rows.

The workbench has no DDP training path yet (another part of issue 14); when it has one, the
second check switches to a run of it (engine.training) in place of the tiny model here.
--smoke runs the same on the CPU with gloo (torchrun --nproc_per_node=2), tiny sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any


def row(status: str, name: str, value: str = "", detail: str = "") -> dict[str, str]:
    return {"part": "ddp", "name": name, "status": status, "value": value, "detail": detail}


def all_reduce_check(dist: Any, torch: Any, device: Any, smoke: bool) -> dict[str, str]:
    """Correctness of a small all_reduce, then the bandwidth of a large one."""
    world, rank = dist.get_world_size(), dist.get_rank()
    x = torch.full((1024,), float(rank + 1), device=device)
    dist.all_reduce(x)
    want = world * (world + 1) / 2
    if not bool(torch.all(x == want)):
        raise RuntimeError(f"all_reduce gave {float(x[0])}, expected {want}")
    numel = 2**16 if smoke else 2**28  # 512 MiB of bf16 on a GPU
    big = torch.ones(numel, dtype=torch.bfloat16, device=device)
    for _ in range(2 if smoke else 5):  # warmup: nccl builds its rings/trees on first use
        dist.all_reduce(big)
    reps = 3 if smoke else 20
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dist.barrier()
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        dist.all_reduce(big)
    sync()
    seconds = (time.perf_counter() - start) / reps
    nbytes = numel * big.element_size()
    algbw = nbytes / seconds / 1e9
    busbw = algbw * 2 * (world - 1) / world
    note = (
        "1 process: nccl init + all_reduce exercised, no traffic between GPUs (bus bandwidth 0)"
        if world == 1
        else f"{world} processes"
    )
    return row(
        "CPU" if smoke else "PASS",
        f"{dist.get_backend()} all_reduce, {world} process{'es' if world > 1 else ''}",
        f"algbw {algbw:,.1f} GB/s, busbw {busbw:,.1f} GB/s",
        f"sum correct; {nbytes / 2**20:.3g} MiB bf16, mean of {reps} after warmup; {note}",
    )


def ddp_step_check(dist: Any, torch: Any, device: Any, smoke: bool) -> dict[str, str]:
    """One DDP step of a tiny model on rank-dependent data; parameters agree afterwards."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # the same initial weights everywhere (DDP broadcasts rank 0's anyway)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.GELU(), torch.nn.Linear(64, 2)
    ).to(device)
    ids = [device.index] if device.type == "cuda" else None
    ddp = DDP(model, device_ids=ids)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-2, fused=device.type == "cuda")
    g = torch.Generator().manual_seed(100 + rank)
    x = torch.randn(16, 32, generator=g).to(device)
    y = torch.randint(0, 2, (16,), generator=g).to(device)
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(ddp(x), y)
    loss.backward()
    opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    spread = flat.clone()
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    low = flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    gap = float((spread - low).abs().max())
    if gap > 1e-6:
        raise RuntimeError(f"parameters differ between ranks by {gap:g} after the step")
    return row(
        "CPU" if smoke else "PASS",
        f"DDP step (tiny MLP), {world} process{'es' if world > 1 else ''}",
        f"parameters agree across ranks (max gap {gap:g})",
        f"loss {float(loss):.4f}, first step {1000 * seconds:.0f} ms; a stand-in until the "
        "workbench's own DDP path exists",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=Path, required=True)
    ap.add_argument("--smoke", action="store_true", help="CPU and gloo, tiny sizes")
    args = ap.parse_args(argv)
    import torch
    import torch.distributed as dist

    smoke = args.smoke or not torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if smoke:
        torch.set_num_threads(1)
        device, backend = torch.device("cpu"), "gloo"
    else:
        device, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(device)
    rows: list[dict[str, str]] = []
    try:
        kw: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
        dist.init_process_group(backend, timeout=timedelta(seconds=60), **kw)
        for check in (all_reduce_check, ddp_step_check):
            try:
                rows.append(check(dist, torch, device, smoke))
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                rows.append(row("FAIL", check.__name__, "", f"{type(exc).__name__}: {exc}"))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        rows.append(
            row("FAIL", f"{backend} init_process_group", "", f"{type(exc).__name__}: {exc}")
        )
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if local == 0 and int(os.environ.get("RANK", "0")) == 0:
        with args.rows.open("a", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
