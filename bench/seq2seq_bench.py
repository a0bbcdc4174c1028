"""Sequence to sequence on the generated tasks: what examples/seq2seq-dates.toml learns, and
greedy decoding against beam search side by side.

    python -m bench.seq2seq_bench [--quick] [--size 10000] [--beam 4]

For each task (dates, number-words) a fresh engine on a throwaway home generates `size` pairs
(seed 0, 0.8/0.1/0.1), trains the example's GRU encoder-decoder with additive attention (its
settings; the number task reads words), and reports the validation split's token accuracy,
exact match and BLEU as the run recorded them. Its best checkpoint then translates every test
pair through the engine (workbench translate), greedily and with a beam, one request per pair:
exact match and milliseconds per output for each, with the beam's ratio to greedy. Writes
bench/results/seq2seq.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tomllib
from pathlib import Path

import tomli_w

from bench.common import load_note, run_job, running_engine, temp_home
from engine import protocol as P
from engine.paths import Home
from workbench.engine.client import EngineClient

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "seq2seq-dates.toml"
OUT = Path(__file__).parent / "results" / "seq2seq.md"


def config(task: str, quick: bool) -> str:
    data = tomllib.loads(EXAMPLE.read_text())
    data["name"] = f"seq2seq-{task}"
    data["data"]["dataset"] = task
    if task == "number-words":
        data["model"]["max_output"] = 8
    if quick:
        data["train"]["epochs"] = 1
        data["train"]["max_steps"] = 20
    return tomli_w.dumps(data)


async def _rows(client: EngineClient, name: str) -> tuple[list[str], list[str]]:
    sources, targets = [], []
    offset = 0
    while True:
        page = await client.ask(
            P.DatasetRows(name=name, split="test", offset=offset, limit=500, max_chars=0)
        )
        sources += [r.text for r in page.rows]
        targets += [r.extra.get("target", "") for r in page.rows]
        offset += len(page.rows)
        if not page.rows or offset >= page.total:
            return sources, targets


async def _decode(
    client: EngineClient, run_id: str, sources: list[str], targets: list[str], beam: int
) -> tuple[float, float]:
    """(exact match, ms per output) over the pairs, one translate request each."""
    right = 0
    t0 = time.perf_counter()
    for source, target in zip(sources, targets, strict=True):
        res = await client.ask(P.Translate(model=run_id, source=source, beam_width=beam))
        right += res.output == target
    return right / max(len(sources), 1), 1000 * (time.perf_counter() - t0) / max(len(sources), 1)


async def _task(home: Home, task: str, size: int, beam: int, quick: bool) -> list[str]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    try:
        made = await run_job(client, P.DatasetGenerate(task=task, size=size, seed=0))
        assert made.end.error is None, made.end.error
        t0 = time.perf_counter()
        run = (await client.ask(P.RunStart(config_toml=config(task, quick)))).run
        while True:
            shown = await client.ask(P.RunShow(run_id=run.run_id, max_points=1))
            if shown.run.state not in ("queued", "running"):
                break
            await asyncio.sleep(0.5)
        trained = time.perf_counter() - t0
        assert shown.run.state == "finished", shown.run.message
        val = [e for e in shown.evals if e.split == "validation"][-1].metrics
        sources, targets = await _rows(client, task)
        if quick:
            sources, targets = sources[:50], targets[:50]
        greedy, greedy_ms = await _decode(client, run.run_id, sources, targets, 1)
        wide, wide_ms = await _decode(client, run.run_id, sources, targets, beam)
    finally:
        await client.close()
    return [
        f"| {task} | {size:,} | {shown.run.step:,} | {trained:.0f} s "
        f"| {val['token_accuracy']:.3f} | {val['exact_match']:.3f} | {val['bleu']:.1f} "
        f"| {greedy:.3f} ({greedy_ms:.1f} ms) | {wide:.3f} ({wide_ms:.1f} ms) "
        f"| {wide / max(greedy, 1e-9):.3f}x EM, {wide_ms / max(greedy_ms, 1e-9):.2f}x time |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few steps and 50 test pairs")
    parser.add_argument("--size", type=int, default=10_000, help="pairs generated per task")
    parser.add_argument("--beam", type=int, default=4, help="the beam compared with greedy")
    args = parser.parse_args()
    lines = [
        f"# Sequence to sequence on generated tasks ({load_note()})",
        "",
        "examples/seq2seq-dates.toml's GRU encoder-decoder (char level, additive attention), "
        "validation metrics as the run recorded them; test exact match through `translate`, "
        f"greedy and beam {args.beam}.",
        "",
        "| task | pairs | steps | trained | val token acc | val exact match | val BLEU "
        f"| test EM greedy | test EM beam {args.beam} | beam / greedy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in ("dates", "number-words"):
        with temp_home() as home, running_engine(home):
            lines += asyncio.run(_task(home, task, args.size, args.beam, args.quick))
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(text)


if __name__ == "__main__":
    main()
