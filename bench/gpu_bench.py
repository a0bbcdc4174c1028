"""GPU readiness (issue 14): the parts bench/gpu.sh runs, each in its own process, one table.

Parts (``--part NAME``), each writing its rows as JSON lines to ``--rows FILE`` and catching its
own failure (a FAIL row with the reason):

trainer  our Trainer against the Hugging Face Trainer through bench/train_bench.py's own run_ours
         and run_hf, with GPU settings put in around them (gpu_settings): CUDA, bf16 autocast,
         SDPA attention (load_pretrained's default), fused AdamW (ours: build_optimizer on CUDA;
         HF: optim="adamw_torch_fused"), torch.compile with --compile. Same model, data and
         steps on both sides; samples/s and our ratio. The bundled MiniLM and Rotten Tomatoes
         when this Python has them, else a MiniLM-shaped model built from config (random
         weights: the same speed) and synthetic lengths, said so in the row.
mfu      model FLOPs utilisation of our Trainer on a BERT-base-shaped classifier built from
         config (12 layers, hidden 768, 12 heads, sequence 128, no padding), bf16:
         FLOPs per token = 6 * N + 12 * L * d * T, N the parameters outside the embedding tables
         (every matrix a token passes through, forward 2N, backward 4N), the second term the
         attention scores and their weighted sum (QK^T and AV: 2 * 2 * T * d forward per layer,
         three times that with the backward). MFU = tokens/s * FLOPs per token / the GPU's dense
         bf16 peak (PEAK_TFLOPS; an unknown GPU leaves MFU blank).
oom      the out-of-memory guard (engine/training/accumulate.py, BatchGradients) on a real CUDA
         out-of-memory: most of the GPU's free memory is held by one tensor, then a batch too
         large for the rest is trained; the row says whether the guard halved the micro-batch
         and the run went on to complete its steps.
table    ``--table FILE``: print the rows gathered in FILE as one table.

--smoke runs every part on the CPU at tiny sizes (the whole script in well under a minute): the
same code paths, with fp32 for the trainer comparison, a simulated out-of-memory (the Trainer's
fault_hook raises torch.OutOfMemoryError, as the unit tests do) and rows marked CPU.

The DDP part is bench/gpu_ddp.py, started by gpu.sh under torchrun.

    bash bench/gpu.sh [--smoke] [--compile]
    python -m bench.gpu_bench --part mfu --rows /tmp/rows.jsonl [--smoke] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

PARTS = ("trainer", "mfu", "oom")
# dense bf16 tensor-core peaks in TFLOP/s (the vendors' sheets, no sparsity), matched in order
# as substrings of torch.cuda.get_device_name(); the first match wins
PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),  # SXM ("NVIDIA H100 80GB HBM3")
    ("GH200", 989.4),
    ("A100", 312.0),
    ("L40S", 362.1),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L4", 121.0),
)
STATUSES = ("PASS", "FAIL", "CPU", "SKIP")


@dataclass
class Row:
    """One line of the table: part, what, status (PASS, FAIL, CPU, SKIP), value, detail."""

    part: str
    name: str
    status: str
    value: str = ""
    detail: str = ""


def write_rows(path: Path, rows: list[Row]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(dataclasses.asdict(r)) + "\n")


def read_rows(path: Path) -> list[Row]:
    if not path.is_file():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def peak_tflops(name: str) -> float | None:
    """The dense bf16 peak of the GPU called name (TFLOP/s), None when it is not in the table."""
    for key, peak in PEAK_TFLOPS:
        if key.lower() in name.lower():
            return peak
    return None


@dataclass
class Setting:
    """Where and how the parts run: the GPU's (full) or the CPU smoke test's."""

    smoke: bool
    compile: bool
    device: Any  # torch.device

    @property
    def cpu(self) -> bool:
        return bool(self.device.type == "cpu")

    @property
    def ok(self) -> str:
        return "CPU" if self.cpu else "PASS"


def setting(smoke: bool, compile: bool) -> Setting:
    import torch

    cuda = torch.cuda.is_available() and not smoke
    return Setting(smoke, compile, torch.device("cuda" if cuda else "cpu"))


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- trainer: ours vs the Hugging Face Trainer through bench/train_bench.py


@dataclass
class Shape:
    """A BERT encoder's shape (transformers.BertConfig's names)."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512


MINILM = Shape(30522, 384, 6, 12, 1536)  # all-MiniLM-L6-v2's shape
BERT_BASE = Shape(30522, 768, 12, 12, 3072)
TINY = Shape(1000, 64, 2, 2, 128, 256)  # the smoke test's


def bert_classifier(shape: Shape, seed: int = 0) -> Any:
    """A randomly initialised BertForSequenceClassification (2 classes) of this shape, SDPA."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(**dataclasses.asdict(shape))
    config.num_labels = 2
    config._attn_implementation = "sdpa"
    return BertForSequenceClassification(config)


def write_model_folder(folder: Path, shape: Shape) -> Path:
    """A Hugging Face folder (random weights, a word-level tokenizer.json with [PAD] 0) that
    train_bench's _minilm and run_hf load in place of the bundled MiniLM."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    from engine.models.pretrained import quiet_transformers

    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        bert_classifier(shape).save_pretrained(str(folder))
    vocab = {"[PAD]": 0, "[UNK]": 1, **{f"w{i}": i for i in range(2, shape.vocab_size)}}
    Tokenizer(WordLevel(vocab, unk_token="[UNK]")).save(str(folder / "tokenizer.json"))
    meta = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "model_max_length": shape.max_position_embeddings,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(meta))
    return folder


def synthetic_split(rows: int, vocab: int, max_len: int, seed: int = 0) -> Any:
    """rows texts of random ids with short-sentence lengths (lognormal around 30, 4..max_len)."""
    import numpy as np

    from bench.train_bench import Split

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(30), 0.5, rows).astype(int), 4, max_len)
    ids = [rng.integers(2, vocab, int(n)).tolist() for n in lengths]
    return Split(ids, rng.integers(0, 2, rows).tolist())


@contextlib.contextmanager
def gpu_settings(
    device: Any, precision: str, compile: bool, batch: int, folder: Path | None
) -> Iterator[None]:
    """train_bench's run_ours and run_hf, as they are, on device in precision.

    They hard-code the CPU and fp32 (bench/train_bench.py is the CPU benchmark), so for the
    block: our Trainer is given device and TrainConfig(precision, compile); TrainingArguments
    gets use_cpu, bf16, optim="adamw_torch_fused" and torch_compile to match; train_bench's
    batch is batch; each step's clock reading waits for the GPU (ours waits anyway: it reads
    the loss); folder (not None) stands in for the bundled MiniLM.
    """
    import transformers

    import bench.train_bench as tb
    import engine.models.pretrained as pretrained
    import engine.training.trainer as trainer_mod

    base = trainer_mod.Trainer
    hf_args = transformers.TrainingArguments

    class OnDevice(base):  # type: ignore[misc, valid-type]
        def __init__(self, model: Any, train: Any, val: Any, config: Any, *a: Any, **kw: Any):
            config = dataclasses.replace(config, precision=precision, compile=compile)
            a = (a[0], device, *a[2:]) if len(a) >= 2 else a
            super().__init__(model, train, val, config, *a, **kw)

    def args(**kw: Any) -> Any:
        kw.update(
            use_cpu=device.type == "cpu",
            bf16=precision == "bf16",
            optim="adamw_torch_fused",
            torch_compile=compile,
        )
        return hf_args(**kw)

    class Synced(tb.Timed):
        def add(self, samples: int, real: int, computed: int) -> None:
            _sync(device)
            super().add(samples, real, computed)

    patches: list[Any] = [
        mock.patch.object(trainer_mod, "Trainer", OnDevice),
        mock.patch.object(transformers, "TrainingArguments", args),
        mock.patch.object(tb, "Timed", Synced),
        mock.patch.object(tb, "BATCH", batch),
    ]
    if folder is not None:
        patches.append(mock.patch.object(pretrained, "resolve_folder", lambda _f: folder))
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield


def _bundled(max_len: int, rows: int | None) -> tuple[Any, int, str]:
    """Rotten Tomatoes train (MiniLM WordPiece) and the MiniLM pad id, as train_bench loads
    them; raises when this Python lacks the bundled assets."""
    import bench.train_bench as tb
    from bench.common import temp_home
    from engine.models.pretrained import resolve_folder

    resolve_folder("")  # raises EngineError without the bundled MiniLM
    with temp_home() as home:
        data = tb.load_splits(home, "rotten-tomatoes", ("train",), max_len, rows)["train"]
    return data, tb._pad_id(), "the bundled MiniLM, Rotten Tomatoes train"


def trainer_part(s: Setting) -> list[Row]:
    """Ours against HF's Trainer (default sampler and group_by_length): samples/s, ratio."""
    import bench.train_bench as tb
    from bench.common import median

    warmup, steps, rounds, batch = (1, 3, 1, 8) if s.cpu else (10, 100, 2, 32)
    precision = "fp32" if s.cpu else "bf16"
    if s.compile:  # compilation (and recompiles for new shapes) happen early; one round
        warmup, rounds = max(warmup, 20), 1
    rows_needed = (warmup + steps) * batch
    with tempfile.TemporaryDirectory(prefix="wb-gpu-bench-") as tmp:
        folder: Path | None = None
        if s.smoke:
            data = synthetic_split(rows_needed, TINY.vocab_size, 64)
            pad_id, source = 0, "tiny BERT (2 x 64) from config, synthetic lengths"
            folder = write_model_folder(Path(tmp) / "model", TINY)
        else:
            try:
                data, pad_id, source = _bundled(tb.MAX_LEN, None)
            except Exception as exc:  # no assets in this Python: the same shape, random weights
                data = synthetic_split(rows_needed, MINILM.vocab_size, tb.MAX_LEN)
                pad_id = 0
                source = (
                    f"MiniLM-shaped BERT from config (random weights), synthetic lengths "
                    f"(bundled assets unavailable: {_reason(exc)})"
                )
                folder = write_model_folder(Path(tmp) / "model", MINILM)
        if len(data.ids) < rows_needed:
            raise RuntimeError(f"{len(data.ids)} texts for {rows_needed} rows of steps")
        runs: dict[str, list[Any]] = {name: [] for name in tb.SETUPS}
        failed: dict[str, str] = {}  # an HF set-up that raised (accelerate or datasets missing)
        with gpu_settings(s.device, precision, s.compile, batch, folder):
            for r in range(rounds):
                for setup in tb.SETUPS:
                    if setup == "ours":
                        timed = tb.run_ours(data, r, warmup, steps, pad_id)
                    elif setup in failed:
                        continue
                    else:
                        try:
                            grouped = setup == "hf-grouped"
                            timed = tb.run_hf(data, r, warmup, steps, grouped=grouped)
                        except Exception as exc:
                            traceback.print_exc(file=sys.stderr)
                            failed[setup] = _reason(exc)
                            continue
                    runs[setup].append(timed.window(warmup))
    what = (
        f"{source}; batch {batch}, {precision}, SDPA, fused AdamW, "
        f"compile {'on' if s.compile else 'off'}, {steps} steps after {warmup}, "
        f"median of {rounds} round{'s' if rounds > 1 else ''}"
    )

    def samples(setup: str) -> float:
        return median([w.samples / w.seconds for w in runs[setup]])

    def tokens(setup: str) -> float:
        return median([w.rate for w in runs[setup]])

    ours = samples("ours")
    out = [
        Row(
            "trainer",
            "ours (engine.training.Trainer, bucketed)",
            s.ok,
            f"{ours:,.1f} samples/s",
            f"{tokens('ours'):,.0f} real tokens/s; {what}",
        )
    ]
    for setup, label in (("hf-dynamic", "default sampler"), ("hf-grouped", "group_by_length")):
        name = f"HF Trainer, {label}"
        if setup in failed:
            out.append(Row("trainer", name, "FAIL", "", failed[setup]))
            continue
        theirs = samples(setup)
        out.append(
            Row(
                "trainer",
                name,
                s.ok,
                f"{theirs:,.1f} samples/s; ours {ours / theirs:.2f}x",
                f"{tokens(setup):,.0f} real tokens/s",
            )
        )
    return out


# --- mfu: BERT-base through our Trainer


def flops_per_token(shape: Shape, seq: int, params: int) -> float:
    """Training FLOPs per token: 6 * params (outside the embedding tables) + 12 * L * d * T."""
    return 6 * params + 12 * shape.num_hidden_layers * shape.hidden_size * seq


def matmul_params(model: Any) -> int:
    """Parameters outside the embedding tables (word, position, token type)."""
    embeddings = model.model.bert.embeddings
    table = sum(
        p.numel()
        for m in (
            embeddings.word_embeddings,
            embeddings.position_embeddings,
            embeddings.token_type_embeddings,
        )
        for p in m.parameters()
    )
    return int(sum(p.numel() for p in model.parameters()) - table)


def step_clock(device: Any) -> Any:
    """Callbacks for our Trainer that keep each step's clock reading (after the GPU is done),
    computed tokens and accumulation, and every message (the guard's among them)."""
    from engine.training.control import Callbacks

    class Clock(Callbacks):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.tokens: list[int] = []
            self.messages: list[str] = []

        def on_step(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
            _sync(device)
            self.times.append(time.perf_counter())
            self.tokens.append(int(metrics["computed_tokens"]))

        def on_message(self, text: str, level: str = "info") -> None:
            self.messages.append(text)

    return Clock()


def fixed_examples(rows: int, seq: int, vocab: int) -> Any:
    """rows texts of exactly seq random ids, random 2-class labels."""
    import numpy as np

    from engine.training.data import TextExamples

    rng = np.random.default_rng(0)
    ids = rng.integers(2, vocab, (rows, seq)).tolist()
    return TextExamples(ids, rng.integers(0, 2, rows).tolist(), pad_id=0)


def our_config(batch: int, steps: int, precision: str, compile: bool) -> Any:
    from engine.training.config import TrainConfig

    return TrainConfig(
        optimizer="adamw",
        lr=5e-5,
        batch_size=batch,
        epochs=1,
        max_steps=steps,
        precision=precision,
        compile=compile,
        checkpoint_every=10**9,
        keep_checkpoints=1,
        bucketing=True,
    )


def mfu_part(s: Setting) -> list[Row]:
    """BERT-base (tiny in the smoke test) in our Trainer: tokens/s, TFLOP/s and MFU."""
    import torch

    from engine.models.pretrained import PretrainedClassifier
    from engine.training.trainer import Trainer

    shape, seq, batch, warmup, steps = (
        (TINY, 32, 8, 1, 3) if s.cpu else (BERT_BASE, 128, 256, 10, 40)
    )
    if s.compile:
        warmup = max(warmup, 5)
    precision = "fp32" if s.cpu else "bf16"
    model = PretrainedClassifier(bert_classifier(shape), Path("."), pad_id=0)
    params = matmul_params(model)
    per_token = flops_per_token(shape, seq, params)
    train = fixed_examples(batch * (warmup + steps), seq, shape.vocab_size)
    clock = step_clock(s.device)
    with tempfile.TemporaryDirectory(prefix="wb-gpu-bench-") as tmp:
        config = our_config(batch, warmup + steps, precision, s.compile)
        result = Trainer(model, train, None, config, Path(tmp), s.device, clock).fit()
    if result.state != "completed":
        raise RuntimeError(f"training ended {result.state}")
    seconds = clock.times[-1] - clock.times[warmup - 1]
    rate = sum(clock.tokens[warmup:]) / seconds
    achieved = rate * per_token / 1e12
    name = torch.cuda.get_device_name(s.device) if not s.cpu else "CPU"
    peak = None if s.cpu else peak_tflops(name)
    mfu = f"MFU {100 * achieved / peak:.1f}%" if peak else "MFU (no peak known)"
    peak_note = f"{name} bf16 dense peak {peak:g} TFLOP/s" if peak else f"{name}: no peak in table"
    what = "BERT-base" if shape is BERT_BASE else "tiny BERT"
    return [
        Row(
            "mfu",
            f"{what} ({shape.num_hidden_layers}x{shape.hidden_size}, "
            f"{shape.num_attention_heads} heads), seq {seq}, batch {batch}, {precision}",
            s.ok,
            (mfu if not s.cpu else "MFU blank (CPU)") + f"; {achieved:.3g} TFLOP/s",
            f"{rate:,.0f} tokens/s; FLOPs/token = 6*N + 12*L*d*T = 6*{params:,} + "
            f"12*{shape.num_hidden_layers}*{shape.hidden_size}*{seq} = {per_token / 1e9:.4g} "
            f"GFLOP (N: parameters outside the embedding tables); our Trainer; {peak_note}; "
            f"compile {'on' if s.compile else 'off'}; {steps} steps after {warmup}",
        )
    ]


# --- oom: the halving guard on a real CUDA out-of-memory


def oom_part(s: Setting) -> list[Row]:
    """Train a batch too large for the free memory; did the guard halve it and go on?"""
    import torch

    from engine.models.pretrained import PretrainedClassifier
    from engine.training.trainer import Trainer

    shape, seq, batch, steps = (TINY, 32, 16, 2) if s.cpu else (BERT_BASE, 256, 1024, 2)
    model = PretrainedClassifier(bert_classifier(shape), Path("."), pad_id=0)
    train = fixed_examples(batch * steps, seq, shape.vocab_size)
    clock = step_clock(s.device)
    hook: Callable[[int, int], None] | None = None
    hog = None
    left = 0
    if s.cpu:  # no real out-of-memory on a CPU: simulate it above 4 rows, as the unit tests do

        def hook(step: int, rows: int) -> None:
            if rows > 4:
                raise torch.OutOfMemoryError(f"simulated: {rows} rows")

    else:  # hold all but 6 GiB (of free memory) in one tensor: the batch needs tens of GiB
        model.to(s.device)
        free = torch.cuda.mem_get_info(s.device)[0]
        left = 6 * 2**30
        hog = torch.empty(max(free - left, 0), dtype=torch.uint8, device=s.device)
    try:
        with tempfile.TemporaryDirectory(prefix="wb-gpu-bench-") as tmp:
            config = our_config(batch, steps, "fp32" if s.cpu else "bf16", False)
            trainer = Trainer(
                model, train, None, config, Path(tmp), s.device, clock, fault_hook=hook
            )
            result = trainer.fit()
    finally:
        del hog
        if not s.cpu:
            torch.cuda.empty_cache()
    halvings = [m for m in clock.messages if m.startswith("out of memory")]
    accumulation = trainer.loop.accumulation
    micro = -(-batch // accumulation)
    went_on = result.state == "completed" and result.step == steps
    ok = bool(halvings) and went_on
    how = "simulated out-of-memory (fault_hook)" if s.cpu else "real CUDA out-of-memory"
    where = (
        f"BERT-base, batch {batch} x {seq} tokens, bf16, "
        f"{left / 2**30:.0f} GiB left free beside a held tensor"
        if not s.cpu
        else f"tiny BERT, batch {batch} x {seq}, fault_hook raises above 4 rows"
    )
    value = (
        f"halved {len(halvings)}x to {micro} rows (accumulation {accumulation}), "
        f"{result.step}/{steps} steps, {result.state}"
    )
    return [
        Row(
            "oom",
            f"OOM-halving guard, {how}",
            (s.ok if ok else "FAIL"),
            value if ok else f"{'no halving' if not halvings else 'did not go on'}: {value}",
            f"{where}; last message: {halvings[-1] if halvings else '-'}",
        )
    ]


# --- running a part, printing the table


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def run_part(part: str, s: Setting) -> list[Row]:
    """The part's rows, or one FAIL row with the reason when it raised."""
    fn = {"trainer": trainer_part, "mfu": mfu_part, "oom": oom_part}[part]
    try:
        return fn(s)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return [Row(part, part, "FAIL", "", _reason(exc))]


def table(rows: list[Row], width: int = 70) -> str:
    """The rows as one plain-text table (| separated, the detail wrapped to width)."""
    import textwrap

    heads = ("part", "figure", "status", "value")
    cols = [[r.part, r.name, r.status, r.value] for r in rows]
    sizes = [max([len(h)] + [len(c[i]) for c in cols]) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        padded = [c.ljust(n) for c, n in zip(cells[:-1], sizes, strict=False)]
        return " | ".join([*padded, cells[-1]])  # no padding after the last column

    out = [line(list(heads)), "-+-".join("-" * n for n in sizes)]
    indent = " " * (sizes[0] + 3)
    for r, c in zip(rows, cols, strict=True):
        out.append(line(c))
        for piece in textwrap.wrap(r.detail, width):
            out.append(f"{indent}  {piece}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gpu_bench", description=__doc__)
    ap.add_argument("--part", help=f"one or more of {', '.join(PARTS)}, comma-separated")
    ap.add_argument("--rows", type=Path, help="JSON lines file the part's rows go to")
    ap.add_argument("--table", type=Path, help="print the rows in this file as a table")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes")
    ap.add_argument("--compile", action="store_true", help="torch.compile the models")
    args = ap.parse_args(argv)
    if args.table is not None:
        print(table(read_rows(args.table)))
        return 0
    if args.part is None:
        ap.error("give --part or --table")
    parts = args.part.split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part {', '.join(unknown)}: give {', '.join(PARTS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.smoke:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_bench.wait_policy
    s = setting(args.smoke, args.compile)
    if s.cpu:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    for part in parts:  # each part's rows are written as soon as it ends
        rows = run_part(part, s)
        if args.rows is not None:
            write_rows(args.rows, rows)
        else:
            print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
