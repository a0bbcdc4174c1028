"""Run every benchmark side by side and print figures with their peers and ratios.

    make bench            (or: python -m bench [--quick])
    python -m bench --only train [--quick]   (training figures: about 8 minutes, 3 with --quick)
    python -m bench --only generate [--quick]   (generation: about 2 minutes)
    python -m bench --only attack [--n 100]   (against TextAttack: minutes)
    python -m bench --only attack-art [--quick]   (embedding attacks against ART: about 4 minutes)
    python -m bench --only serve   (the app in Chromium through `workbench serve`: about 2 minutes)
    python -m bench --only ssh   (a request through an ssh forward, beside the engine's socket)
    python -m bench --only ddp   (training on two torchrun ranks against one process: 2 minutes)
Results also go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.attack_art_bench import attack_art_bench
from bench.attack_bench import attack_bench
from bench.common import load_note, running_engine, temp_home
from bench.ddp_bench import ddp_bench
from bench.embed_bench import neighbour_latency, tsne_time
from bench.generate_bench import generate_bench
from bench.predict_bench import predict_bench
from bench.protocol_bench import event_throughput, round_trip
from bench.rows_bench import page_fetch
from bench.screens_bench import screens
from bench.serve_bench import serve_bench
from bench.ssh_bench import ssh_bench
from bench.startup_bench import startup
from bench.tokenize_bench import encode_throughput, keystroke_latency, padding_costs
from bench.train_bench import FULL, QUICK, train_bench
from bench.ui_bench import ui_lag


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--only",
        nargs="*",
        help="protocol, ui, rows, startup, tokenize, embed, screens; train, predict, generate and "
        "attack, attack-art, serve, ssh, ddp (not in the default set: they take minutes)",
    )
    parser.add_argument("--n", type=int, default=100, help="attack: examples per recipe")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rounds = 2 if args.quick else 5
    want = set(args.only or ["protocol", "ui", "rows", "startup", "tokenize", "embed", "screens"])
    rows: list[dict[str, str]] = []
    if "generate" in want:  # read when torch loads, here and in the engine started below
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    before = load_note()
    engine_benches = {
        "protocol",
        "ui",
        "rows",
        "tokenize",
        "embed",
        "screens",
        "predict",
        "generate",
        "attack",
        "serve",
        "ssh",
    }
    with temp_home() as home, running_engine(home) if want & engine_benches else nullcontext():
        if "protocol" in want:
            rows += asyncio.run(round_trip(home, rounds=rounds))
            rows += asyncio.run(event_throughput(home, rounds=min(rounds, 3)))
        if "ui" in want:
            rows += asyncio.run(ui_lag(home, rounds=min(rounds, 3)))
        if "rows" in want:
            rows += asyncio.run(page_fetch(home))
        if "tokenize" in want:
            rows += asyncio.run(encode_throughput(home, rounds=rounds))
            rows += keystroke_latency(home)
            rows += asyncio.run(padding_costs(home))
        if "screens" in want:
            rows += screens(home)
        if "embed" in want:
            rows += asyncio.run(neighbour_latency(home, rounds=rounds))
            rows += asyncio.run(tsne_time(home, rounds=min(rounds, 3)))
        if "predict" in want:
            rows += predict_bench(home, quick=args.quick)
        if "generate" in want:
            rows += asyncio.run(generate_bench(home, rounds=min(rounds, 3), quick=args.quick))
        if "attack" in want:  # TextAttack side by side: minutes (shared/anchors/textattack)
            rows += attack_bench(home, n=args.n)
        if "serve" in want:  # needs Debian's chromium and playwright (the test extra)
            rows += serve_bench(home)
        if "ssh" in want:  # needs Debian's openssh-server and root (a loopback sshd)
            rows += ssh_bench(home, rounds=rounds)
    if "startup" in want:
        rows += startup(rounds=rounds)
    if "attack-art" in want:  # no engine: ART and our attacks on one victim in this process
        rows += attack_art_bench(quick=args.quick)
    if "ddp" in want:  # no engine: the Trainer as one process and as two torchrun ranks
        rows += ddp_bench(rounds=min(rounds, 3))
    if "train" in want:  # its own home, no engine: it drives the trainers in this process
        rows += train_bench(QUICK if args.quick else FULL)
    table = Table(title="workbench benchmarks", title_justify="left")
    for col in ("figure", "value", "aim", "peer", "ratio"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r.values())
    console = Console(width=160)
    console.print(table)
    console.print(
        f"machine: {platform.processor() or platform.machine()}, before: {before}, "
        f"after: {load_note()}"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {"when": time.time(), "load_before": before, "load_after": load_note(), "rows": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
