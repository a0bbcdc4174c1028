"""Scaling from one training process to two on the CPU: the workbench's Trainer on the same
model, data and global batch, as one process (every core's threads) and as two torchrun ranks
with DDP over gloo (the cores shared out), side by side. Efficiency = (samples/s with two) /
(2 x samples/s with one); on a machine whose cores one process already keeps busy, expect
well under 1: the figure says what the gradient all-reduce and the split cost.

    python -m bench --only ddp
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, median, row

SCRIPT = ROOT / "tests/helpers/ddp_train.py"
STEPS = 120


def _one(out: Path, ranks: int, threads: int) -> float:
    """samples/s of one run."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "DDP_DIM": "256",
        "DDP_BATCH": "64",
        "HF_HUB_OFFLINE": "1",
    }
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = (
        [sys.executable, str(SCRIPT), str(out), str(STEPS)]
        if ranks == 1
        else [str(torchrun), "--standalone", f"--nproc-per-node={ranks}", str(SCRIPT)]
        + [str(out), str(STEPS)]
    )
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    done = json.loads((out / "losses-0.json").read_text())
    return float(done["samples"]) / float(done["seconds"])


def ddp_bench(rounds: int = 3) -> list[dict[str, str]]:
    cores = os.cpu_count() or 1
    one: list[float] = []  # one process, a thread per core
    single: list[float] = []  # one process, one thread (what each rank has)
    two: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wb-ddp-bench-") as tmp:
        for i in range(rounds):  # alternate: the machine is shared
            one.append(_one(Path(tmp) / f"one-{i}", 1, cores))
            single.append(_one(Path(tmp) / f"single-{i}", 1, max(1, cores // 2)))
            two.append(_one(Path(tmp) / f"two-{i}", 2, max(1, cores // 2)))
    a, b = max(median(one), median(single)), median(two)
    return [
        row(
            "training samples/s, one process: a thread per core / one thread",
            f"{median(one):,.0f} / {median(single):,.0f} samples/s",
            "report",
        ),
        row(
            f"training samples/s, 2 ranks (DDP, gloo) vs 1 process, {cores} cores",
            f"{b:,.0f} samples/s",
            "report",
            f"{a:,.0f} samples/s in one process (its best)",
            f"{b / a:.2f}x speed-up, efficiency {b / (2 * a):.0%}",
        ),
    ]
