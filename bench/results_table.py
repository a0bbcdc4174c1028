"""The README's results table: every architecture's test accuracy and training time on Rotten
Tomatoes and 20 Newsgroups, on the CPU.

    python -m bench.results_table [--quick] [--only ARCH ...] [--datasets rt 20ng]

Each cell is one real engine run, in this process: the engine's own training service (tokenizing,
model building, the Trainer, checkpoints) on a throwaway home, the
configuration being examples/<arch>-*.toml with the per-dataset changes in SETTINGS. Training
time is the run's wall clock (tokenizing and the per-epoch validation included). The run's best
checkpoint (by validation accuracy, or perplexity for language models) is then scored once on
the test split, which no run ever sees before.

Rotten Tomatoes uses its own train / validation / test splits. 20 Newsgroups has only the
official train and test splits: 10% of train (stratified, seed 13) is held out for validation
and the official test split is left untouched. features-logreg is fitted the way
the engine's run path fits it,
on the train split, with no validation.

--quick runs every cell on a small sample of each dataset with a few steps: a smoke check of
the whole path (minutes), not figures to report.
Writes bench/results/table.md and bench/results/table.json (table-quick.* with --quick,
table-partial.* when --only or --datasets leave something out).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import load_note, temp_home

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RESULTS = ROOT / "bench" / "results"
SEED = 13
HOLDOUT = 0.1  # the share of 20 Newsgroups' train split held out for validation

DATASETS = {"rt": "rotten-tomatoes", "20ng": "20-newsgroups"}
TITLES = {"rotten-tomatoes": "Rotten Tomatoes", "20-newsgroups": "20 Newsgroups"}

EXAMPLE_FILES = {
    "embedding-bag": "embeddingbag-rotten-tomatoes.toml",
    "pooling": "pooling-rotten-tomatoes.toml",
    "cnn": "cnn-rotten-tomatoes.toml",
    "rnn": "rnn-rotten-tomatoes.toml",
    "lstm": "lstm-rotten-tomatoes.toml",
    "gru": "gru-reuters-r8.toml",
    "attention-rnn": "attention-rnn-rotten-tomatoes.toml",
    "transformer": "transformer-20-newsgroups.toml",
    "bert-finetune": "bert-finetune-rotten-tomatoes.toml",
    "features-logreg": "features-logreg-rotten-tomatoes.toml",
    "lstm-lm": "lstm-lm-rotten-tomatoes.toml",
    "transformer-lm": "transformer-lm-rotten-tomatoes.toml",
}

# Changes to the example configuration, per architecture and dataset: {section: {key: value}}.
# Every classifier picks its best checkpoint by validation accuracy; language models by
# perplexity. The budget is about 40 minutes for the whole table on a shared 2-core CPU: the
# small models train a few epochs (Rotten Tomatoes models peak within two or three); 20
# Newsgroups texts are long (median 187 wordpieces, a third over 256), so the recurrent and
# attention models read the first 128 tokens there, and the pretrained encoders and language
# models (whose 30,522-way output layer dominates their cost) are capped by steps.


def _classify(epochs: int, length: int, batch: int = 64, **train: Any) -> dict[str, Any]:
    train = {"metric": "accuracy", "epochs": epochs, "batch_size": batch, "eval_every": 0, **train}
    return {"data": {"max_length": length}, "train": train}


def _lm(length: int, steps: int) -> dict[str, Any]:
    return {"data": {"max_length": length}, "train": {"epochs": 1, "max_steps": steps}}


SETTINGS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "embedding-bag": {
        "rotten-tomatoes": _classify(3, 128),
        "20-newsgroups": _classify(8, 256, lr=1e-2),
    },
    "pooling": {
        "rotten-tomatoes": _classify(3, 128),
        "20-newsgroups": {**_classify(8, 256, lr=1e-2), "model": {"mode": "mean"}},
    },
    "cnn": {"rotten-tomatoes": _classify(3, 128), "20-newsgroups": _classify(5, 256)},
    "rnn": {"rotten-tomatoes": _classify(3, 128), "20-newsgroups": _classify(4, 128)},
    "lstm": {"rotten-tomatoes": _classify(3, 128), "20-newsgroups": _classify(4, 128)},
    "gru": {
        "rotten-tomatoes": _classify(3, 128, token_budget=8192),
        "20-newsgroups": _classify(3, 128, token_budget=8192),
    },
    "attention-rnn": {"rotten-tomatoes": _classify(3, 128), "20-newsgroups": _classify(4, 128)},
    "transformer": {
        "rotten-tomatoes": _classify(3, 128, token_budget=8192),
        "20-newsgroups": _classify(3, 128, token_budget=8192),
    },
    "bert-finetune": {
        "rotten-tomatoes": _classify(1, 128, batch=32),
        "20-newsgroups": _classify(1, 128, batch=32, max_steps=150, lr=1e-4),
    },
    "features-logreg": {
        "rotten-tomatoes": {"data": {"max_length": 128}, "model": {"max_len": 128}},
        "20-newsgroups": {"data": {"max_length": 128}, "model": {"max_len": 128}},
    },
    "lstm-lm": {"rotten-tomatoes": _lm(96, 100), "20-newsgroups": _lm(48, 60)},
    "transformer-lm": {"rotten-tomatoes": _lm(96, 100), "20-newsgroups": _lm(48, 60)},
}

# --quick: a sample of each dataset and a few steps per run.
QUICK_ROWS = {"train": 400, "validation": 100, "test": 150}
QUICK_STEPS = 5
QUICK_LENGTH = 48
DASH = "\u2013"  # an empty cell


@dataclass
class Cell:
    """One architecture on one dataset: its settings, scores and times."""

    arch: str
    dataset: str
    task: str = "classify"
    settings: dict[str, Any] = field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None
    perplexity: float | None = None
    val_metric: str = ""
    val_best: float | None = None
    best_step: int | None = None
    steps: int | None = None
    train_examples: int = 0
    test_examples: int = 0
    train_seconds: float | None = None
    test_seconds: float | None = None
    message: str = ""
    error: str = ""


# --------------------------------------------------------------------------- configurations


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(config: dict[str, Any]) -> str:
    """A RunConfig's TOML (top-level keys, then one table per section)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for section, values in config.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def run_config(arch: str, dataset: str, stored_as: str, quick: bool) -> dict[str, Any]:
    """The example's configuration with this table's changes, as a TOML-ready dict."""
    base = tomllib.loads((EXAMPLES / EXAMPLE_FILES[arch]).read_text(encoding="utf-8"))
    config = _merge(base, SETTINGS[arch][dataset])
    config["name"] = f"table-{arch}-{dataset}"
    config["data"]["dataset"] = stored_as
    config["data"]["validation_split"] = "validation"  # never the test split
    config["train"]["seed"] = SEED
    if arch == "features-logreg":
        config["data"]["validation_split"] = ""  # fitted on train, no validation
    if quick:
        config["train"]["max_steps"] = QUICK_STEPS
        config["train"]["epochs"] = 1
        config["train"].pop("eval_every", None)
        config["data"]["max_length"] = min(config["data"]["max_length"], QUICK_LENGTH)
        if arch == "features-logreg":
            config["model"]["max_len"] = QUICK_LENGTH
    return config


def describe_settings(arch: str, dataset: str, config: dict[str, Any], model_cfg: Any) -> str:
    """What a reader needs to repeat the cell: epochs or steps, batch, tokens read per text,
    and any learning rate or model setting that differs from the example."""
    data, train = config["data"], config["train"]
    changed = SETTINGS[arch][dataset]
    extra = [f"lr {train['lr']:g}"] if "lr" in changed.get("train", {}) else []
    extra += [f"{k} {v}" for k, v in changed.get("model", {}).items() if k != "max_len"]
    if arch == "features-logreg":
        return f"fit once, len {min(data['max_length'], model_cfg.max_len)}"
    length = data["max_length"]
    model_max = getattr(model_cfg, "max_len", None)
    if model_max:
        length = min(length, int(model_max))
    epochs = int(train.get("epochs", 3))
    cap = train.get("max_steps")
    run = f"{epochs} ep" if not cap else f"≤{cap} steps"
    return ", ".join([run, f"batch {train.get('batch_size', 32)}", f"len {length}", *extra])


# --------------------------------------------------------------------------- datasets


def prepare_datasets(datasets: Any, wanted: list[str], quick: bool, tmp: Path) -> dict[str, str]:
    """The stored dataset each benchmark dataset runs on: {table name: stored name}.

    20 Newsgroups becomes a copy whose train split loses 10% (stratified, seed 13) to a
    validation split; its test split is the official one. --quick samples every split."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine import protocol as P
    from engine.core.errors import NullContext
    from engine.datasets.splitting import VALIDATION, Fractions, assign_splits

    out: dict[str, str] = {}
    for name in wanted:
        ds = datasets.get(name)
        if name == "rotten-tomatoes" and not quick:
            out[name] = name
            continue
        splits = {s: (ds.texts(s), ds.labels(s)) for s in ("train", "validation", "test")}
        if not splits["validation"][0]:
            texts, labels = splits["train"]
            names = sorted({lab for lab in labels if lab is not None})
            codes = np.array([names.index(lab) if lab is not None else -1 for lab in labels])
            assigned = assign_splits(
                len(texts), Fractions(1 - HOLDOUT, HOLDOUT, 0.0), SEED, labels=codes
            ).codes
            held = assigned == VALIDATION
            splits["train"] = (
                [t for t, h in zip(texts, held, strict=True) if not h],
                [lab for lab, h in zip(labels, held, strict=True) if not h],
            )
            splits["validation"] = (
                [t for t, h in zip(texts, held, strict=True) if h],
                [lab for lab, h in zip(labels, held, strict=True) if h],
            )
        rows: dict[str, list[Any]] = {"text": [], "label": [], "split": []}
        rng = np.random.default_rng(SEED)
        for split, (texts, labels) in splits.items():
            picked = range(len(texts))
            if quick:
                n = min(QUICK_ROWS[split], len(texts))
                picked = sorted(rng.choice(len(texts), n, replace=False).tolist())
            rows["text"] += [texts[i] for i in picked]
            rows["label"] += [labels[i] for i in picked]
            rows["split"] += [split] * len(picked)
        stored = f"{name}-{'quick' if quick else 'holdout'}"
        path = tmp / f"{stored}.parquet"
        pq.write_table(pa.table(rows), path)
        datasets.import_(
            P.DatasetImport(
                source=str(path),
                name=stored,
                text_column="text",
                label_column="label",
                split_column="split",
            ),
            NullContext(),
        )
        got = datasets.get(stored).info().splits
        want = {s: rows["split"].count(s) for s in ("train", "validation", "test")}
        if got != want:
            raise RuntimeError(f"{stored} was stored with splits {got}, not {want}")
        out[name] = stored
    return out


# --------------------------------------------------------------------------- running


class _Job:
    """What the training service's submit returns and a run reports progress to."""

    id = "table"
    cancel_requested = False  # what the run's worker link polls
    visible_gpus = None  # the device queue's pick: none here, the worker finds its own

    def progress(self, done: float, total: float, message: str = "") -> None:
        return None

    def check_cancelled(self) -> None:
        return None


class Engine:
    """The engine's services as the engine builds them, with jobs run in this thread."""

    def __init__(self, home: Any) -> None:
        from engine.core.events import EventBus
        from engine.core.store import Store
        from engine.wiring import build_services

        home.ensure()
        self.store = Store(home.db)
        services = build_services(home, self.store, EventBus(), self._submit)
        self.datasets = services.datasets
        self.training = services.training

    def _submit(
        self,
        kind: str,
        title: str,
        work: Any,
        lane: str = "",
        on_done: Any = None,
        **queue: Any,  # devices, on_wait: the device queue, which one job at a time needs not
    ) -> _Job:
        job = _Job()
        work(job)  # raises what the run raised; the run's state is stored first
        return job


def run_cell(engine: Engine, arch: str, dataset: str, stored_as: str, quick: bool) -> Cell:
    import torch

    from engine.models import service as registry
    from engine.training.config import RunConfig
    from engine.training.metrics import evaluate

    spec = registry.ARCHITECTURES[arch]
    cell = Cell(arch=arch, dataset=dataset, task=spec.task)
    config = run_config(arch, dataset, stored_as, quick)
    text = to_toml(config)
    cfg = RunConfig.from_toml(text)
    model_cfg = registry.config_from_dict(arch, cfg.model)
    cell.settings = {
        "summary": describe_settings(arch, dataset, config, model_cfg),
        "config": config,
    }
    torch.manual_seed(SEED)
    if spec.trained_by == "fit":
        return fit_cell(engine, cell, cfg, model_cfg, quick)
    started = time.perf_counter()
    info = engine.training.start(text)
    cell.train_seconds = time.perf_counter() - started
    info = engine.training.info(info.run_id)
    cell.message = info.message
    cell.steps = info.step
    if info.state != "finished":
        cell.error = f"run ended {info.state}: {info.message}"
        return cell
    evals = engine.store.evals(info.run_id)
    metric = str(cfg.train.get("metric", "loss"))
    scored = [e for e in evals if metric in e.get("metrics", {})]
    if scored:
        pick = min if metric in ("loss", "perplexity") else max
        best = pick(scored, key=lambda e: e["metrics"][metric])
        cell.val_metric, cell.val_best, cell.best_step = (
            metric,
            best["metrics"][metric],
            best["step"],
        )
    # the best checkpoint (by the validation metric), scored once on the test split
    trained = engine.training.trained(info.run_id)
    model, tok, names = trained.model, trained.run.tokenizer, trained.run.labels
    model_max = getattr(model_cfg, "max_len", None)
    if model_max and cfg.max_length > model_max:
        cfg.max_length = int(model_max)  # as the training job does
    train_cfg = config["train"]
    started = time.perf_counter()
    test, _ = engine.training.work.examples(
        cfg, "test", spec.task, names or None, tok, trained.run.pad_id
    )
    result = evaluate(
        model,
        test,
        torch.device("cpu"),
        batch_size=int(train_cfg.get("batch_size", 32)),
        token_budget=train_cfg.get("token_budget"),
    )
    cell.test_seconds = time.perf_counter() - started
    cell.test_examples = result.examples
    cell.train_examples = len(engine.datasets.texts(cfg.dataset, cfg.train_split))
    cell.accuracy, cell.macro_f1, cell.perplexity = (
        result.accuracy,
        result.macro_f1,
        result.perplexity,
    )
    return cell


def fit_cell(engine: Engine, cell: Cell, cfg: Any, model_cfg: Any, quick: bool) -> Cell:
    """features-logreg fitted as the engine's run path fits it, then scored on the test split."""
    from engine.models import service as registry
    from engine.training.metrics import classification_scores

    started = time.perf_counter()
    texts, y, names = engine.training.work.labelled(cfg, cfg.train_split, None)
    model = registry.build_model(
        cfg.arch, model_cfg, vocab_size=1, num_classes=len(names), pad_id=0
    )
    report = model.fit(texts, y)
    cell.train_seconds = time.perf_counter() - started
    cell.train_examples = report.examples
    cell.message = (
        f"fitted on {report.examples:,} texts, {report.iterations} iterations"
        + ("" if report.converged else " (not converged)")
        + f", train accuracy {report.train_accuracy:.3f}"
    )
    started = time.perf_counter()
    test_texts, test_y, _ = engine.training.work.labelled(cfg, "test", names)
    scores = classification_scores(test_y, model.predict(test_texts), len(names), names)
    cell.test_seconds = time.perf_counter() - started
    cell.test_examples = len(test_texts)
    cell.accuracy, cell.macro_f1 = scores["accuracy"], scores["macro_f1"]
    return cell


# --------------------------------------------------------------------------- the table


def _seconds(s: float | None) -> str:
    if s is None:
        return DASH
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min"


def _score(cell: Cell | None) -> str:
    if cell is None:
        return DASH
    if cell.error:
        return "failed"
    if cell.task == "lm":
        return DASH if cell.perplexity is None else f"ppl {cell.perplexity:.1f}"
    if cell.accuracy is None:
        return DASH
    return f"{100 * cell.accuracy:.1f}% ({100 * (cell.macro_f1 or 0):.1f})"


def machine_note() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {threads} " + (
        "thread" if threads == 1 else "threads"
    )


def markdown(cells: list[Cell], header: dict[str, str], datasets: list[str]) -> str:
    by = {(c.arch, c.dataset): c for c in cells}
    archs = list(dict.fromkeys(c.arch for c in cells))
    head = ["architecture"]
    for d in datasets:
        head += [f"{TITLES[d]}: test acc (macro-F1)", "train time"]
    head.append("settings (" + " / ".join(TITLES[d] for d in datasets) + ")")
    lines = [
        f"Measured {header['date']} on {header['machine']}; {header['load_before']} "
        f"before, {header['load_after']} after; {header['total']} in all "
        f"(`{header.get('command', 'python -m bench.results_table')}`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:", "---:"] * len(datasets) + ["---"]) + "|",
    ]
    for arch in archs:
        row = [f"`{arch}`"]
        settings = []
        for d in datasets:
            cell = by.get((arch, d))
            row += [_score(cell), _seconds(cell.train_seconds if cell else None)]
            settings.append(cell.settings.get("summary", DASH) if cell else DASH)
        row.append(" / ".join(settings))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", header["note"]]
    return "\n".join(lines) + "\n"


NOTE = (
    "Test accuracy and macro-F1 (in brackets, %) of the best checkpoint by validation accuracy, "
    "scored once on the test split; language models give test perplexity per wordpiece "
    "(best checkpoint by validation perplexity). Train time is the run's wall clock on the CPU: "
    "tokenizing, training and each epoch's validation. Rotten Tomatoes: its own train / "
    "validation / test splits (10,226 / 1,289 / 1,293). 20 Newsgroups: 10% of the official "
    "train split (stratified, seed 13) is held out for validation, so models train on 10,164 "
    "texts, and the official test split (7,528) is scored. features-logreg is fitted once on "
    "the train split (the same 10,164 texts on 20 Newsgroups), with no validation. All runs "
    "use seed 13, the minilm-wordpiece tokenizer and the settings of examples/*.toml except "
    "as listed: ep = epochs, "
    "batch = texts per step, len = most tokens read per text, ≤N steps = a step cap."
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.results_table")
    parser.add_argument("--quick", action="store_true", help="tiny samples and a few steps")
    parser.add_argument("--only", nargs="*", help="architectures (default: all)")
    parser.add_argument(
        "--datasets", nargs="*", default=list(DATASETS), help="rt, 20ng (default: both)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's own); 1 is steadier on a CPU shared with others",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from engine.models import service as registry

    archs = args.only or list(registry.ARCHITECTURES)
    unknown = [a for a in archs if a not in SETTINGS]
    if unknown:
        parser.error(f"unknown architecture(s) {', '.join(unknown)}; have {', '.join(SETTINGS)}")
    datasets = [DATASETS.get(d, d) for d in args.datasets]
    bad = [d for d in datasets if d not in TITLES]
    if bad:
        parser.error(f"unknown dataset(s) {', '.join(bad)}; have {', '.join(DATASETS)}")
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine_note(),
        "load_before": load_note(),
        "command": " ".join(["python -m bench.results_table", *sys.argv[1:]]),
    }
    started = time.perf_counter()
    cells: list[Cell] = []
    # a run of some architectures or datasets never overwrites the whole table
    partial = bool(args.only) or set(datasets) != set(DATASETS.values())
    suffix = ("-quick" if args.quick else "") + ("-partial" if partial else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with temp_home() as home:
        engine = Engine(home)
        stored = prepare_datasets(engine.datasets, datasets, args.quick, home.data_dir)
        for dataset in datasets:
            for arch in archs:
                t0 = time.perf_counter()
                print(f"{arch} on {dataset} ...", flush=True)
                try:
                    cell = run_cell(engine, arch, dataset, stored[dataset], args.quick)
                except Exception as exc:
                    cell = Cell(arch=arch, dataset=dataset, task=registry.ARCHITECTURES[arch].task)
                    cell.error = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                cells.append(cell)
                print(
                    f"  {_score(cell)}  train {_seconds(cell.train_seconds)}  "
                    f"test {_seconds(cell.test_seconds)}  "
                    f"({time.perf_counter() - t0:.0f} s in all; "
                    f"{cell.settings.get('summary', '')}; {cell.error or cell.message})",
                    flush=True,
                )
                _write(cells, header, datasets, started, suffix, partial=True)
        engine.core.store.close()
    _write(cells, header, datasets, started, suffix, partial=False)
    print((RESULTS / f"table{suffix}.md").read_text(encoding="utf-8"))


def _write(
    cells: list[Cell],
    header: dict[str, str],
    datasets: list[str],
    started: float,
    suffix: str,
    partial: bool,
) -> None:
    total = time.perf_counter() - started
    header = {
        **header,
        "load_after": load_note(),
        "total": f"{total / 60:.1f} min" + (" so far" if partial else ""),
        "note": NOTE,
    }
    if suffix:
        header["note"] = "QUICK MODE: small samples, a few steps; not figures to report. " + NOTE
    (RESULTS / f"table{suffix}.md").write_text(markdown(cells, header, datasets), encoding="utf-8")
    payload = {
        "header": header,
        "seconds": total,
        "partial": partial,
        "cells": [c.__dict__ for c in cells],
    }
    (RESULTS / f"table{suffix}.json").write_text(
        json.dumps(payload, indent=1, default=str), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
