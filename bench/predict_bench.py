"""Prediction figures, each side by side with its peer in one run:

- one text through the engine (training.predict over the socket) against the same function
  (predict_texts) on the same trained model in this process: the engine's overhead per text;
- 2,000 Rotten Tomatoes texts through a briefly fine-tuned MiniLM, our length-sorted batches
  under inference_mode against transformers.pipeline("text-classification") on the same
  exported folder (its default batching, and batch_size=64);
- integrated gradients on that MiniLM for a 32-token text at our default steps, against a bare
  Captum LayerIntegratedGradients call with the same settings, and the completeness gap.

    python -m bench --only predict [--quick]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import median, pct, row
from engine import protocol as P
from engine.paths import Home
from workbench.engine.client import EngineClient
from workbench.engine.endpoint import local

ROOT = Path(__file__).resolve().parents[1]
RUN = """
name = "bench-bag"
[data]
dataset = "rotten-tomatoes"
tokenizer = "minilm-wordpiece"
max_length = 64
[model]
arch = "embedding-bag"
embed_dim = 32
[train]
lr = 5e-3
epochs = 1
batch_size = 32
max_steps = 120
eval_every = 60
checkpoint_every = 60
seed = 7
"""
TEXT = "a gripping, beautifully acted film that never quite finds its footing"


def _wb(home: Home, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(home.root), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _trained_model(home: Home, run_id: str) -> tuple[Any, int]:
    """The run's best checkpoint loaded in this process, as the engine loads it."""
    from tokenizers import Tokenizer

    from engine.models.loading import TrainedRun, load_trained

    info = json.loads(_wb(home, "runs", "show", run_id, "--json"))["run"]
    folder = home.data_dir / "runs" / run_id
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    run = TrainedRun(
        run_id=run_id,
        folder=folder,
        checkpoint=folder / "checkpoints" / f"ckpt-{info['test_step']}",
        arch="embedding-bag",
        params={"embed_dim": 32},
        tokenizer=tok,
        pad_id=tok.token_to_id("[PAD]"),
        labels=json.loads((folder / "labels.json").read_text()),
        description="bench",
    )
    return load_trained(run), 64


async def engine_overhead(home: Home, n: int) -> list[dict[str, str]]:
    from engine.models.loading import predict_texts

    _wb(home, "datasets", "show", "rotten-tomatoes")
    config = Path(tempfile.mkdtemp()) / "run.toml"
    config.write_text(RUN)
    _wb(home, "train", str(config), "--follow")
    run_id = json.loads(_wb(home, "runs", "list", "--json"))[-1]["run_id"]
    kept, max_length = _trained_model(home, run_id)
    client = EngineClient(local(home), name="bench")
    await client.connect(start=False)
    call = P.RunPredict(run_id=run_id, texts=[TEXT])
    ours, local_times = [], []
    for _ in range(20):  # warm up both (the engine loads the model on the first call)
        await client.ask(call)
        predict_texts(kept, [TEXT], max_length)
    for _ in range(n):  # alternate: the machine is shared
        t = time.perf_counter()
        res = await client.ask(call)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        mine = predict_texts(kept, [TEXT], max_length)
        local_times.append(time.perf_counter() - t)
    await client.close()
    assert res.predictions[0].probabilities == mine[0].probabilities  # the same numbers
    e50, l50 = median(ours) * 1e3, median(local_times) * 1e3
    return [
        row(
            "predict one text: engine overhead",
            f"{e50 - l50:.2f} ms",
            "< 2 ms",
            f"{l50:.2f} ms in process (engine {e50:.2f} ms, p99 {pct(ours, 99) * 1e3:.2f})",
            f"{e50 / l50:.2f}x",
        )
    ]


def _rt_texts(home: Home, n: int) -> tuple[list[str], list[str]]:
    rows: list[dict[str, Any]] = []
    while len(rows) < n:  # pages of 400 (a page's text is capped)
        page = _wb(
            home,
            "datasets",
            "rows",
            "rotten-tomatoes",
            "--offset",
            str(len(rows)),
            "--limit",
            "400",
            "--json",
        )
        rows += json.loads(page)["rows"]
    rows = rows[:n]
    return [r["text"] for r in rows], [str(r["label"]) for r in rows]


def _fine_tuned_minilm(texts: list[str], labels: list[str], steps: int) -> tuple[Any, Any, Path]:
    """MiniLM with a 2-class head, fine-tuned a few steps; (model, tokenizer, exported folder)."""
    import torch
    from tokenizers import Tokenizer

    from engine.models import registry
    from engine.models.pretrained import export, resolve_folder

    tok = Tokenizer.from_file(str(resolve_folder("") / "tokenizer.json"))
    tok.no_padding()  # as the engine reads it: its file pads and cuts every text to 128
    tok.no_truncation()
    pad = tok.token_to_id("[PAD]")
    torch.manual_seed(0)
    config = registry.config_from_dict("bert-finetune", {})
    model = registry.build_model("bert-finetune", config, tok.get_vocab_size(), 2, pad)
    names = sorted(set(labels))
    y = torch.tensor([names.index(v) for v in labels])
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()
    for step in range(steps):
        idx = list(range(step * 16 % len(texts), step * 16 % len(texts) + 16))
        enc = [e.ids[:64] for e in tok.encode_batch([texts[i % len(texts)] for i in idx])]
        width = max(map(len, enc))
        ids = torch.tensor([e + [pad] * (width - len(e)) for e in enc])
        mask = (ids != pad).long()
        loss = torch.nn.functional.cross_entropy(model(ids, mask), y[[i % len(y) for i in idx]])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    folder = export(model, Path(tempfile.mkdtemp()) / "minilm-rt", labels=names)
    return model, tok, folder


def minilm(home: Home, quick: bool) -> list[dict[str, str]]:
    import torch
    from captum.attr import LayerIntegratedGradients
    from transformers import pipeline

    from engine.models import explain
    from engine.models.loading import TrainedModel, TrainedRun, class_probabilities
    from engine.models.registry import get_spec

    torch.set_num_threads(2)
    texts, labels = _rt_texts(home, 2000)
    model, tok, folder = _fine_tuned_minilm(texts[:800], labels[:800], 20 if quick else 60)
    names = sorted(set(labels))
    run = TrainedRun("bench", folder, folder, "bert-finetune", {}, tok, 0, names, "bench")
    kept = TrainedModel(run, model, get_spec("bert-finetune"), folder, 0)
    n = 500 if quick else 2000
    texts = texts[:n]
    rows = []
    # batch prediction: ours against the pipeline on the exported folder
    t = time.perf_counter()
    ours = class_probabilities(kept, texts, max_length=512)
    ours_s = time.perf_counter() - t
    pipe = pipeline("text-classification", model=str(folder), device="cpu")
    peers = {}
    for batch in (None, 64):
        kwargs = {"batch_size": batch} if batch else {}
        t = time.perf_counter()
        out = pipe(texts, truncation=True, top_k=None, **kwargs)
        peers[batch] = time.perf_counter() - t
    agree = sum(
        names[int(o.argmax())] == max(p, key=lambda d: d["score"])["label"]
        for o, p in zip(ours, out, strict=True)
    )
    rows.append(
        row(
            f"batch predict {n:,} RT texts, MiniLM",
            f"{n / ours_s:.0f} texts/s",
            ">= 2x pipeline",
            f"pipeline {n / peers[None]:.0f}/s (batch_size 64: {n / peers[64]:.0f}/s); "
            f"same label {agree / n:.1%}",
            f"{peers[None] / ours_s:.2f}x ({peers[64] / ours_s:.2f}x b64)",
        )
    )
    # integrated gradients on a 32-token text
    text = TEXT + ", though the score soars above a thin and familiar script about two brothers"
    text += " who drift apart over a long and quiet summer"
    tok.enable_truncation(32)  # [CLS] 30 words' tokens [SEP]
    enc = tok.encode(text)
    tok.no_truncation()
    ids = torch.tensor([enc.ids])
    mask = torch.ones_like(ids)
    target = 1
    hf = model.model
    keep = torch.tensor([enc.special_tokens_mask], dtype=torch.bool)
    base = torch.where(keep, ids, torch.zeros_like(ids))
    lig = LayerIntegratedGradients(
        lambda i, m: hf(input_ids=i, attention_mask=m).logits, hf.get_input_embeddings()
    )
    ig_ours, ig_bare = [], []
    gap = 0.0
    for _ in range(2 if quick else 3):
        t = time.perf_counter()
        ex = explain.explain(
            model,
            "bert-finetune",
            enc.ids,
            enc.special_tokens_mask,
            enc.offsets,
            text,
            target,
            names[target],
            "ig",
            0,
        )
        ig_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        _, delta = lig.attribute(
            ids,
            baselines=base,
            target=target,
            additional_forward_args=(mask,),
            n_steps=explain.DEFAULT_STEPS,
            method="riemann_trapezoid",
            internal_batch_size=explain.INTERNAL_BATCH,
            return_convergence_delta=True,
        )
        ig_bare.append(time.perf_counter() - t)
        assert ex.completeness is not None
        gap = ex.completeness.relative_gap
    o, b = median(ig_ours), median(ig_bare)
    rows.append(
        row(
            f"integrated gradients, MiniLM, {len(enc.ids)} tokens, {explain.DEFAULT_STEPS} steps",
            f"{o:.2f} s (completeness gap {gap:.2%}, bare {abs(float(delta)):.4f})",
            "within 10% of Captum",
            f"bare Captum {b:.2f} s",
            f"{o / b:.2f}x",
        )
    )
    return rows


def predict_bench(home: Home, quick: bool = False) -> list[dict[str, str]]:
    """Every prediction figure; the engine must be running for the home."""
    rows = asyncio.run(engine_overhead(home, 100 if quick else 300))
    rows += minilm(home, quick)
    return rows
