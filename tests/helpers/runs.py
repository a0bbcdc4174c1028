"""Tiny training runs: one on the bundled data as a TOML file, and a two-class dataset with
three splits (80 train, 20 validation, 20 test rows) with its run."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import wb_json
from tests.helpers.engine import RunningEngine

TINY = """
name = "tiny-bag"
[data]
dataset = "reuters-r8"
tokenizer = "minilm-wordpiece"
validation_split = "test"
max_length = 48
[model]
arch = "embedding-bag"
embed_dim = 16
[train]
lr = 1e-2
epochs = 1
batch_size = 32
max_steps = {steps}
eval_every = {every}
checkpoint_every = {every}
metric = "macro_f1"
seed = 3
"""


def write(tmp: Path, steps: int = 30, every: int = 10) -> Path:
    path = tmp / "tiny.toml"
    path.write_text(TINY.format(steps=steps, every=every))
    return path


WORDS = {"pos": "great lovely superb fine", "neg": "awful dull boring poor"}

THREE_RUN = """
name = "{name}"
[data]
dataset = "three"
tokenizer = "minilm-wordpiece"
max_length = 16
[model]
arch = "embedding-bag"
embed_dim = 8
[train]
lr = 0.05
epochs = {epochs}
batch_size = 8
eval_every = {every}
checkpoint_every = {every}
metric = "accuracy"
seed = 1
"""


def three_splits(engine: RunningEngine, tmp: Path, name: str = "three") -> None:
    """Two classes, a few words each, 80 train / 20 validation / 20 test rows."""
    rows = []
    for i in range(60):
        for lab in ("pos", "neg"):
            split = "validation" if i % 6 == 1 else "test" if i % 6 == 2 else "train"
            noise = WORDS["neg" if lab == "pos" else "pos"].split()[i % 4] if i % 7 == 0 else ""
            text = f"a {WORDS[lab].split()[i % 4]} film {noise} number {i}"
            rows.append({"text": text, "label": lab, "split": split})
    data = tmp / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    wb_json(engine, "datasets", "import", str(data), "--name", name, "--split-column", "split")


def three_config(tmp: Path, epochs: int = 2, every: int = 5, name: str = "three-splits") -> Path:
    """The run of three_splits' dataset as a TOML file: evaluated and saved every `every` steps."""
    path = tmp / "run.toml"
    path.write_text(THREE_RUN.format(epochs=epochs, every=every, name=name))
    return path


def features_config(tmp: Path) -> Path:
    """A features-logreg run (MiniLM features, a fitted head) of three_splits' dataset."""
    path = tmp / "features.toml"
    path.write_text(
        'name = "feat"\n[data]\ndataset = "three"\ntokenizer = "minilm-wordpiece"\n'
        '[model]\narch = "features-logreg"\nmax_len = 16\nbatch_size = 16\n'
    )
    return path
