"""A tiny training run on the bundled data, as a TOML file."""

from __future__ import annotations

from pathlib import Path

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
