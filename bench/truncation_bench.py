"""Truncation strategies on 20 Newsgroups' long posts: one model, read five ways.

    python -m bench.truncation_bench [--quick] [--length 128] [--arch embedding-bag]

One run trains (the engine's own run path, in this process, on a throwaway home) on 20
Newsgroups (10% of train held out for validation, as the results table does) reading the
head of each post (max_length tokens). Its best checkpoint then classifies the official test
split five ways, side by side: head, tail, head+tail (a quarter head), and sliding windows
(stride half a window) pooled by the mean and by the max of their logits. Accuracy on every
test post and on the long ones (more tokens than max_length), with each strategy's ratio to
the head. Writes bench/results/truncation.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import load_note, temp_home
from bench.results_table import RESULTS, Engine, prepare_datasets, to_toml

STRATEGIES = [
    ("head", {}),
    ("tail", {"how": "tail"}),
    ("head+tail", {"how": "head+tail"}),
    ("windows, mean", {"how": "windows", "pool": "mean"}),
    ("windows, max", {"how": "windows", "pool": "max"}),
]


def config(arch: str, dataset: str, length: int, quick: bool) -> str:
    train = {"lr": 1e-2, "epochs": 1 if quick else 8, "batch_size": 64, "metric": "accuracy"}
    if quick:
        train["max_steps"] = 5
    return to_toml(
        {
            "name": "truncation",
            "data": {
                "dataset": dataset,
                "tokenizer": "minilm-wordpiece",
                "validation_split": "validation",
                "max_length": length,
            },
            "model": {"arch": arch, "embed_dim": 64},
            "train": {**train, "seed": 13},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a sample and a few steps")
    parser.add_argument("--length", type=int, default=128, help="tokens a window reads")
    parser.add_argument("--arch", default="embedding-bag")
    args = parser.parse_args()
    from engine.models import loading
    from engine.models.truncation import Truncation

    before = load_note()
    with temp_home() as home, tempfile.TemporaryDirectory() as tmp:
        engine = Engine(home)
        stored = prepare_datasets(engine.datasets, ["20-newsgroups"], args.quick, Path(tmp))
        started = time.perf_counter()
        info = engine.training.start(
            config(args.arch, stored["20-newsgroups"], args.length, args.quick)
        )
        trained_s = time.perf_counter() - started
        info = engine.training.info(info.run_id)
        assert info.state == "finished", info.message
        trained = engine.training.trained(info.run_id)
        texts = engine.datasets.texts(stored["20-newsgroups"], "test")
        gold = engine.datasets.labels(stored["20-newsgroups"], "test")
        names = list(trained.run.labels)
        y = np.array([names.index(g) for g in gold])
        lengths = np.array([len(e.ids) for e in trained.run.tokenizer.encode_batch_fast(texts)])
        long = lengths > args.length
        rows = []
        for title, how in STRATEGIES:
            run = dataclasses.replace(trained.run, truncation=Truncation(**how) if how else None)
            model = dataclasses.replace(trained, run=run)
            t0 = time.perf_counter()
            proba = loading.class_probabilities(model, texts, args.length)
            seconds = time.perf_counter() - t0
            hit = proba.argmax(axis=1) == y
            rows.append((title, hit.mean(), hit[long].mean(), seconds))
    head_all, head_long = rows[0][1], rows[0][2]
    lines = [
        f"| strategy (reading {args.length} tokens a window) | test accuracy, all "
        f"{len(texts):,} posts | long posts ({int(long.sum()):,}, over {args.length} tokens) "
        "| vs head on long posts | scoring time |",
        "|---|---:|---:|---:|---:|",
    ]
    for title, acc, acc_long, seconds in rows:
        lines.append(
            f"| {title} | {acc:.1%} | {acc_long:.1%} | {acc_long / head_long:.3f}x | {seconds:.1f} s |"
        )
    note = (
        f"{args.arch}, trained on the head ({info.step} steps, {trained_s:.0f} s), best "
        f"checkpoint by validation; machine before: {before}, after: {load_note()}"
    )
    text = "\n".join(lines) + "\n\n" + note + "\n"
    print(text)
    print(f"head: {head_all:.1%} of all posts")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "truncation-quick.md" if args.quick else "truncation.md"
    (RESULTS / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
