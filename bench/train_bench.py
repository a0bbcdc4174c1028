"""Training figures: our trainer against the Hugging Face `Trainer`, and padding efficiency.

1. Throughput in real tokens per second (attention-mask ones, padding not counted) of
   engine.training.Trainer (bucketed batches) and of transformers.Trainer with its default random
   sampler + DataCollatorWithPadding, and with train_sampling_strategy="group_by_length". Same
   model (the bundled MiniLM with a new 2-class head, fp32), same tokenized Rotten Tomatoes train
   split (max length 128), batch 32, AdamW at the same learning rate, linear schedule, gradient
   clipping at 1, the same number of optimizer steps. The first `warmup` steps are not timed; the
   clock runs from the end of the last warmup step to the end of the last step, read in each
   trainer's own after-step hook, so each side's per-step overheads (data, hooks, logging) count.
   The set-ups run in rounds (A, B, C, A, B, C, ...): the machine is shared. Both run with 2 torch
   threads and OMP_WAIT_POLICY=PASSIVE unless it is set (see wait_policy). transformers.Trainer
   needs `accelerate`, which the project does not install: without it those rows say so.
2. Padding efficiency: real / computed tokens of the trainer's batch plan (plan_batches) on Rotten
   Tomatoes and 20 Newsgroups beside shuffled batches, and whether bucketing costs accuracy: a
   cheap classifier trained with and without bucketing over several seeds.

    python -m bench --only train [--quick]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load_note, median, row, temp_home

LR = 5e-5
BATCH = 32
MAX_LEN = 128
THREADS = 2
SETUPS = ("ours", "hf-dynamic", "hf-grouped")
ACC_DIM, ACC_LR = 32, 1e-2  # the accuracy runs' embedding-bag classifier


@dataclass
class Size:
    rounds: int  # of the three throughput set-ups
    warmup: int  # untimed steps of each
    steps: int  # timed steps of each
    seeds: int  # accuracy runs with and without bucketing
    epochs: int  # of each accuracy run
    rows: int | None = None  # the first texts of each split only (None: all of them)
    plans: int = 5  # epochs' batch plans averaged for the padding figures
    threads: int = THREADS  # torch threads of the throughput runs


# Quick keeps the 40 timed steps: HF's LengthGroupedSampler serves each mega-batch of 50 batches
# longest first, so a shorter window would time mostly long batches, which carry the per-step
# costs over more tokens and flatter its tokens/s.
FULL = Size(rounds=3, warmup=5, steps=40, seeds=5, epochs=3)
QUICK = Size(rounds=1, warmup=5, steps=40, seeds=2, epochs=2)
# the test's: seconds, no figures (one thread: two beside a busy neighbour can take 6x longer)
TINY = Size(rounds=1, warmup=1, steps=2, seeds=1, epochs=1, rows=640, plans=1, threads=1)


@dataclass
class Window:
    """The timed steps of one run."""

    seconds: float
    steps: int
    samples: int
    real: int  # tokens under the attention mask
    computed: int  # rows x longest row, summed over the batches

    @property
    def rate(self) -> float:
        """Real tokens a second."""
        return self.real / self.seconds

    def describe(self) -> str:
        return (
            f"{self.steps} steps in {self.seconds:.2f} s, {self.rate:,.0f} real tokens/s, "
            f"{self.real / self.steps:.0f} real tokens a step, "
            f"{100 * (1 - self.real / self.computed):.1f}% padded"
        )


@dataclass
class Timed:
    """What each step of a run did, and the clock after each step."""

    times: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    real: list[int] = field(default_factory=list)
    computed: list[int] = field(default_factory=list)

    def add(self, samples: int, real: int, computed: int) -> None:
        self.times.append(time.perf_counter())
        self.samples.append(samples)
        self.real.append(real)
        self.computed.append(computed)

    def window(self, warmup: int) -> Window:
        """The steps after the warmup, timed from the end of the last warmup step."""
        steps = len(self.times) - warmup
        if warmup < 1 or steps < 1:
            raise RuntimeError(f"expected more than {warmup} steps, got {len(self.times)}")
        return Window(
            self.times[-1] - self.times[warmup - 1],
            steps,
            sum(self.samples[warmup:]),
            sum(self.real[warmup:]),
            sum(self.computed[warmup:]),
        )


# --- data


@dataclass
class Split:
    ids: list[list[int]]
    labels: list[int]


def _dataset_texts(home: Any, name: str) -> tuple[Any, list[str]]:
    from engine.core.catalog import quiet
    from engine.core.store import Store
    from engine.datasets.service import DatasetService

    home.ensure()
    service = DatasetService(home, Store(home.db), quiet("datasets"))
    ds = service.get(name)
    return ds, list(ds.label_names())


def _tokenizer(max_length: int | None) -> Any:
    from engine.tokenizers.sources import BUILTINS, load_builtin

    tok = load_builtin(BUILTINS["minilm-wordpiece"])  # the bundled MiniLM's own tokenizer.json
    if max_length is not None:
        tok.enable_truncation(max_length)  # keeps [SEP]: truncation happens before the template
    return tok


def load_splits(
    home: Any, name: str, splits: tuple[str, ...], max_length: int, limit: int | None = None
) -> dict[str, Split]:
    """Token ids (MiniLM WordPiece, [CLS] .. [SEP], at most max_length) and class numbers of the
    first `limit` texts of each split (None: all)."""
    ds, names = _dataset_texts(home, name)
    tok = _tokenizer(max_length)
    index = {lab: i for i, lab in enumerate(names)}
    out = {}
    for split in splits:
        texts, labels = ds.texts(split)[:limit], ds.labels(split)[:limit]
        ids = [e.ids for e in tok.encode_batch_fast(texts)]
        keep = [i for i, lab in enumerate(labels) if lab in index and ids[i]]
        out[split] = Split([ids[i] for i in keep], [index[labels[i]] for i in keep])
    return out


# --- 1. throughput: ours vs the Hugging Face Trainer


def _minilm(seed: int) -> Any:
    """The bundled MiniLM as a 2-class sequence classifier, fp32, its head seeded."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from engine.models.pretrained import load_pretrained, resolve_folder

    torch.manual_seed(seed)
    model = load_pretrained(AutoModelForSequenceClassification, resolve_folder(""), num_labels=2)
    return model.float()


def run_ours(data: Split, seed: int, warmup: int, steps: int, pad_id: int) -> Timed:
    import torch

    from engine.models.pretrained import PretrainedClassifier, resolve_folder
    from engine.training.config import TrainConfig
    from engine.training.control import Callbacks
    from engine.training.data import TextExamples
    from engine.training.trainer import Trainer

    timed = Timed()

    class Clock(Callbacks):
        def on_step(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
            timed.add(
                int(metrics["samples"]), int(metrics["tokens"]), int(metrics["computed_tokens"])
            )

    model = PretrainedClassifier(_minilm(seed), resolve_folder(""), pad_id)
    config = TrainConfig(
        optimizer="adamw",
        lr=LR,
        weight_decay=0.01,
        schedule="linear",
        batch_size=BATCH,
        epochs=1,
        max_steps=warmup + steps,
        grad_clip=1.0,
        seed=seed,
        precision="fp32",
        checkpoint_every=10**9,  # none while timing (fit() still writes one at its end)
        keep_checkpoints=1,
        bucketing=True,
    )
    examples = TextExamples(data.ids, data.labels, pad_id=pad_id)
    with tempfile.TemporaryDirectory(prefix="wb-train-bench-") as tmp:
        result = Trainer(
            model, examples, None, config, Path(tmp), torch.device("cpu"), Clock()
        ).fit()
    if result.state != "completed":
        raise RuntimeError(f"our trainer ended {result.state}")
    return timed


def run_hf(data: Split, seed: int, warmup: int, steps: int, grouped: bool) -> Timed:
    import datasets
    from transformers import (
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from engine.models.pretrained import quiet_transformers, resolve_folder

    timed = Timed()
    made: deque[tuple[int, int, int]] = deque()  # the collator may run a batch ahead of the step

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(str(resolve_folder("")), local_files_only=True)
    pad = DataCollatorWithPadding(tokenizer)

    def collate(features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = pad(features)
        mask = batch["attention_mask"]
        made.append((int(mask.shape[0]), int(mask.sum()), int(mask.numel())))
        return batch  # type: ignore[no-any-return]

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            timed.add(*made.popleft())

    train = datasets.Dataset.from_dict(
        {
            "input_ids": data.ids,
            "attention_mask": [[1] * len(i) for i in data.ids],
            "label": data.labels,
            "length": [len(i) for i in data.ids],
        }
    )
    with tempfile.TemporaryDirectory(prefix="wb-train-bench-") as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=BATCH,
            learning_rate=LR,
            weight_decay=0.01,
            lr_scheduler_type="linear",
            warmup_steps=0,
            max_grad_norm=1.0,
            max_steps=warmup + steps,
            seed=seed,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_num_workers=0,
            train_sampling_strategy="group_by_length" if grouped else "random",
        )
        with quiet_transformers():
            trainer = Trainer(
                model=_minilm(seed),
                args=args,
                train_dataset=train,
                data_collator=collate,
                callbacks=[Clock()],
            )
            trainer.remove_callback(PrinterCallback)  # it prints the run's summary to stdout
            trainer.train()
    return timed


def _pad_id() -> int:
    tok = _tokenizer(None)
    pid = tok.token_to_id("[PAD]")
    return 0 if pid is None else int(pid)


def throughput(home: Any, size: Size, verbose: bool = False) -> list[dict[str, str]]:
    try:
        import accelerate  # noqa: F401  (transformers.Trainer needs it)
    except ImportError:
        return [
            row(
                "training throughput vs HF Trainer",
                "not measured",
                "",
                "transformers.Trainer needs accelerate: pip install accelerate",
            )
        ]
    data = load_splits(home, "rotten-tomatoes", ("train",), MAX_LEN, size.rows)["train"]
    pad_id = _pad_id()
    runs: dict[str, list[Window]] = {s: [] for s in SETUPS}
    for r in range(size.rounds):  # alternate A, B, C: the machine is shared
        for setup in SETUPS:
            if setup == "ours":
                timed = run_ours(data, r, size.warmup, size.steps, pad_id)
            else:
                timed = run_hf(data, r, size.warmup, size.steps, grouped=setup == "hf-grouped")
            w = timed.window(size.warmup)
            runs[setup].append(w)
            if verbose:
                print(f"  round {r + 1} {setup:10s}: {w.describe()} ({load_note()})", flush=True)
    rate = {s: median([w.rate for w in runs[s]]) for s in SETUPS}

    def summary(setup: str) -> str:
        ws = runs[setup]
        samples = median([w.samples / w.seconds for w in ws])
        per_step = sum(w.real for w in ws) / sum(w.steps for w in ws)
        padded = 1 - sum(w.real for w in ws) / sum(w.computed for w in ws)
        return (
            f"{rate[setup]:,.0f} real tokens/s ({samples:.1f} samples/s, {per_step:.0f} real "
            f"tokens a step, {100 * padded:.1f}% padded)"
        )

    def ratio(peer: str) -> str:
        rounds = [o.rate / p.rate for o, p in zip(runs["ours"], runs[peer], strict=True)]
        return f"{rate['ours'] / rate[peer]:.2f}x (rounds: {', '.join(f'{v:.2f}' for v in rounds)})"

    what = (
        f"MiniLM + 2-class head, Rotten Tomatoes train, batch {BATCH}, fp32, max {MAX_LEN}, "
        f"{size.threads} thread{'s' if size.threads > 1 else ''}, {size.steps} steps after {size.warmup} untimed, median of "
        f"{size.rounds} round{'s' if size.rounds > 1 else ''}"
    )
    return [
        row(
            f"training throughput, ours (bucketed): {what}",
            summary("ours"),
            "",
            "BASELINES.md (quiet machine): HF dynamic 972, grouped 1,914 real tokens/s",
        ),
        row(
            "same, vs HF Trainer default (random sampler, DataCollatorWithPadding)",
            f"{rate['ours']:,.0f} real tokens/s",
            ">= 1.9x",
            summary("hf-dynamic"),
            ratio("hf-dynamic"),
        ),
        row(
            'same, vs HF Trainer train_sampling_strategy="group_by_length"',
            f"{rate['ours']:,.0f} real tokens/s",
            ">= 1.0x",
            summary("hf-grouped"),
            ratio("hf-grouped"),
        ),
    ]


# --- 2. padding efficiency and what bucketing does to accuracy


def _efficiency(
    lengths: np.ndarray, plans: int, bucketing: bool, batch: int, token_budget: int | None
) -> float:
    """Real / computed tokens of the trainer's batch plans of the first `plans` epochs."""
    from engine.training.data import padding_stats, plan_batches

    real = computed = 0
    for epoch in range(plans):
        plan = plan_batches(lengths, batch, 0, epoch, bucketing, token_budget)
        r, c = padding_stats(lengths, plan)
        real, computed = real + r, computed + c
    return real / computed


def padding_efficiency(home: Any, size: Size) -> list[dict[str, str]]:
    """Real / computed tokens of the trainer's plans, bucketed and shuffled, batch 32 and a budget
    of 4096 tokens (rows x longest row) with at most 256 rows."""
    out = []
    budget, cap = 4096, 256
    for name in ("rotten-tomatoes", "20-newsgroups"):
        ids = load_splits(home, name, ("train",), 256, size.rows)["train"].ids
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        plans = size.plans
        b32, s32 = (_efficiency(lengths, plans, b, BATCH, None) for b in (True, False))
        bb, sb = (_efficiency(lengths, plans, b, cap, budget) for b in (True, False))
        out.append(
            row(
                f"real / computed tokens, {name} train ({len(lengths):,} texts, MiniLM WordPiece, "
                f"max 256, {plans} epochs' plans): batch {BATCH}; token budget {budget} "
                f"(<= {cap} rows)",
                f"bucketed {b32:.4f}; {bb:.4f}",
                ">= 0.98",
                f"shuffled {s32:.4f}; {sb:.4f}",
                f"{b32 / s32:.2f}x; {bb / sb:.2f}x shuffled",
            )
        )
    return out


def bucketing_accuracy(home: Any, size: Size, verbose: bool = False) -> list[dict[str, str]]:
    """Accuracy of an embedding-bag classifier trained with and without bucketing.

    One thread: only accuracy counts here, and tiny ops on two threads beside a busy neighbour
    wait on each other (seconds become minutes).
    """
    from engine.models import service as registry
    from engine.training.config import TrainConfig
    from engine.training.data import TextExamples
    from engine.training.metrics import evaluate
    from engine.training.trainer import Trainer

    splits = load_splits(home, "rotten-tomatoes", ("train", "validation", "test"), 256, size.rows)
    pad_id = _pad_id()
    vocab = _tokenizer(None).get_vocab_size()

    def examples(name: str) -> TextExamples:
        return TextExamples(splits[name].ids, splits[name].labels, pad_id=pad_id)

    train, val, test = examples("train"), examples("validation"), examples("test")
    acc: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    cpu = torch_device()
    seconds = time.perf_counter()
    for seed in range(size.seeds):
        for bucketing in (True, False):
            seed_everything(seed)
            cfg = registry.config_from_dict("embedding-bag", {"embed_dim": ACC_DIM})
            model = registry.build_model("embedding-bag", cfg, vocab, 2, pad_id)
            config = TrainConfig(
                lr=ACC_LR,
                batch_size=BATCH,
                epochs=size.epochs,
                seed=seed,
                bucketing=bucketing,
                checkpoint_every=10**9,
                keep_checkpoints=1,
            )
            with tempfile.TemporaryDirectory(prefix="wb-train-bench-") as tmp:
                result = Trainer(model, train, None, config, Path(tmp), cpu).fit()
            if result.state != "completed":
                raise RuntimeError(f"training ended {result.state}")
            pair = (evaluate(model, val, cpu).accuracy, evaluate(model, test, cpu).accuracy)
            acc[bucketing].append(pair)
            if verbose:
                print(
                    f"  seed {seed} bucketing={bucketing}: validation {pair[0]:.4f}, "
                    f"test {pair[1]:.4f} ({load_note()})",
                    flush=True,
                )
    seconds = time.perf_counter() - seconds
    mean = {
        k: (statistics.mean(p[0] for p in v), statistics.mean(p[1] for p in v))
        for k, v in acc.items()
    }
    dv = 100 * (mean[True][0] - mean[False][0])
    dt = 100 * (mean[True][1] - mean[False][1])
    return [
        row(
            f"accuracy, bucketed vs shuffled batches: embedding-bag ({ACC_DIM}), Rotten Tomatoes "
            f"({len(train):,} texts), batch {BATCH}, {size.epochs} epoch"
            f"{'s' if size.epochs > 1 else ''}, mean of {size.seeds} seed"
            f"{'s' if size.seeds > 1 else ''} (validation; test), {seconds:.0f} s",
            f"{100 * mean[True][0]:.2f}%; {100 * mean[True][1]:.2f}%",
            "within 0.5 points",
            f"shuffled: {100 * mean[False][0]:.2f}%; {100 * mean[False][1]:.2f}%",
            f"{dv:+.2f}; {dt:+.2f} points",
        )
    ]


def torch_device() -> Any:
    import torch

    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def wait_policy() -> str:
    """OpenMP's wait policy for torch: PASSIVE unless set. It is read when torch loads.

    With the default (spinning), two torch threads on two cores beside one busy neighbour made a
    MiniLM forward + backward 6x slower (5 s instead of 0.8 s, one thread 0.8 s): each waiting
    thread spins on the core the other needs. Both trainers run under the same policy.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return os.environ["OMP_WAIT_POLICY"]
    return os.environ.get("OMP_WAIT_POLICY", "default (torch was loaded before the bench)")


def train_bench(size: Size = FULL, verbose: bool | None = None) -> list[dict[str, str]]:
    """Every training figure, on a throwaway home of its own (no engine needed)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if verbose is None:
        verbose = bool(os.environ.get("WB_BENCH_VERBOSE"))
    policy = wait_policy()
    before = load_note()
    with temp_home() as home:
        with _threads(size.threads):
            rows = throughput(home, size, verbose)
        rows += padding_efficiency(home, size)
        with _threads(1):
            rows += bucketing_accuracy(home, size, verbose)
    rows.append(
        row(
            "training benchmarks: machine load",
            f"before: {before}; after: {load_note()}",
            "",
            f"OMP_WAIT_POLICY {policy}",
        )
    )
    return rows


if __name__ == "__main__":
    for r in train_bench(QUICK if "--quick" in sys.argv else FULL, verbose=True):
        print(" | ".join(r.values()))
