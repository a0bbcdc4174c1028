"""Tiny language-model runs for generation tests: a WordPiece transformer-lm (its texts start
with [CLS] and end with [SEP]) and a character LSTM with no specials (nothing ends its text),
trained a few seeded steps on three_splits' dataset; and a real engine asked in one go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from engine import protocol as P
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from workbench.engine.client import EngineClient

T = TypeVar("T")

TRANSFORMER_LM = """
name = "tiny-transformer-lm"
[data]
dataset = "three"
tokenizer = "minilm-wordpiece"
max_length = 16
[model]
arch = "transformer-lm"
d_model = 16
num_heads = 2
num_layers = 1
ff_size = 32
max_len = 32
[train]
lr = 0.01
epochs = 1
batch_size = 16
max_steps = 6
eval_every = 3
checkpoint_every = 3
metric = "perplexity"
seed = 1
"""

LSTM_LM = """
name = "tiny-char-lstm"
[data]
dataset = "three"
tokenizer = "three-chars"
max_length = 40
[model]
arch = "lstm-lm"
embed_dim = 16
hidden_size = 256
num_layers = 2
[train]
lr = 0.01
epochs = 1
batch_size = 16
max_steps = 4
eval_every = 2
checkpoint_every = 2
metric = "perplexity"
seed = 1
"""


def train(engine: RunningEngine, tmp: Path, config: str, name: str) -> str:
    """Train a run from config to its end; its id."""
    path = tmp / f"{name}.toml"
    path.write_text(config)
    done = wb(engine, "train", str(path), "--follow")
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    runs = [r for r in wb_json(engine, "runs", "list") if r["name"] == name]
    return str(runs[-1]["run_id"])


def char_tokenizer(engine: RunningEngine) -> None:
    """three-chars: characters of the dataset three, no template (no start or end token)."""
    out = wb(engine, "tokenizers", "train", "three-chars", "--kind", "char", "--dataset", "three")
    assert out.returncode == 0, out.stdout + out.stderr


def ask(engine: RunningEngine, go: Callable[[EngineClient], Awaitable[T]]) -> T:
    """go(client) against the engine, in a fresh client."""

    async def main() -> T:
        client = EngineClient(engine.home, name="test")
        await client.connect(start=False)
        try:
            return await go(client)
        finally:
            await client.close()

    return asyncio.run(main())


async def generate(
    client: EngineClient, on_start: Callable[[str], Awaitable[None]] | None = None, **kw: Any
) -> tuple[P.JobEnded, list[P.GeneratedTokens]]:
    """Start a generation, gather its token events, and wait for its end. on_start(job_id) runs
    once the first tokens arrived (it may cancel the job)."""
    events: list[P.Event] = []
    got = asyncio.Event()
    client.subscribe(lambda evs, _d: (events.extend(evs), got.set()))
    started = await client.ask(P.Generate(**kw))
    job = started.job_id
    cancelled = False
    for _ in range(6000):
        mine = [e for e in events if isinstance(e, P.GeneratedTokens) and e.job_id == job]
        if on_start is not None and mine and not cancelled:
            cancelled = True
            await on_start(job)
        ended = [e for e in events if isinstance(e, P.JobEnded) and e.job.job_id == job]
        if ended:
            mine = [e for e in events if isinstance(e, P.GeneratedTokens) and e.job_id == job]
            return ended[0], mine
        got.clear()
        try:
            await asyncio.wait_for(got.wait(), 0.05)
        except TimeoutError:
            pass
    raise AssertionError("the generation did not end")


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
