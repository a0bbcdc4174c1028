"""Fetching a page of rows from a 100,000-row dataset, through the engine.

Peer: the same StoredDataset.rows() call in-process (no socket, no msgpack),
measured alternately, so the ratio is what the engine round trip costs.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.common import pct, row
from engine import protocol as P
from engine.datasets.stored import StoredDataset
from engine.paths import Home
from workbench.engine.client import EngineClient

N_ROWS = 100_000
WORDS = "the a film movie great awful plot actor scene story boring brilliant slow fast".split()


def make_csv(path: Path, n: int = N_ROWS, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("text,label\n")
        for i in range(n):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
            fh.write(f'"{words} #{i}",{rng.choice(["pos", "neg", "neutral"])}\n')
    return path


async def _import(client: EngineClient, csv: Path, name: str) -> None:
    done = asyncio.Event()
    client.subscribe(
        lambda evs, _: done.set() if any(isinstance(e, P.JobEnded) for e in evs) else None
    )
    await client.ask(
        P.DatasetImport(source=str(csv), name=name, text_column="text", label_column="label")
    )
    await asyncio.wait_for(done.wait(), 300)


async def page_fetch(home: Home, n: int = 300) -> list[dict[str, str]]:
    csv = make_csv(home.data_dir / "rows100k.csv")
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    await _import(client, csv, "rows100k")
    local = StoredDataset.open(home.datasets_dir / "rows100k")
    out = []
    for label, search in [("unfiltered", ""), ("filtered by substring", "brilliant")]:
        first = await client.ask(P.DatasetRows(name="rows100k", search=search, limit=1))
        pages = max(first.total // 100, 1)
        rng = random.Random(1)
        ours, direct = [], []
        for _ in range(n):
            offset = rng.randrange(pages) * 100
            call = P.DatasetRows(name="rows100k", offset=offset, limit=100, search=search)
            t0 = time.perf_counter()
            await client.ask(call)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            local.rows(call)
            direct.append(time.perf_counter() - t0)
        o50, d50 = pct(ours, 50) * 1e3, pct(direct, 50) * 1e3
        out.append(
            row(
                f"page of 100 rows, 100k dataset, {label} (p50 / p99)",
                f"{o50:.2f} / {pct(ours, 99) * 1e3:.2f} ms",
                "< 20 ms",
                f"{d50:.2f} ms in-process",
                f"{o50 / d50:.2f}x in-process",
            )
        )
    await client.close()
    return out
