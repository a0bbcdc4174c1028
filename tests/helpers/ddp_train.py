"""Trains the test BagClassifier on Rotten Tomatoes texts with the workbench's Trainer, as one
process or as a torchrun rank (the Trainer reads RANK / WORLD_SIZE itself), then writes what
the test compares: this rank's parameters and the losses it saw.

    torchrun --standalone --nproc-per-node 2 tests/helpers/ddp_train.py OUT STEPS [RESUME]
    python tests/helpers/ddp_train.py OUT STEPS [RESUME]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.training.config import TrainConfig  # noqa: E402
from engine.training.data import TextExamples  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402
from tests.helpers.training import BagClassifier, Recorder, encode, rotten_tomatoes  # noqa: E402


def main() -> None:
    out, steps = Path(sys.argv[1]), int(sys.argv[2])
    resume = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    rank = int(os.environ.get("RANK", "0"))
    texts, labels = rotten_tomatoes(300, seed=0)
    ids, vocab = encode(texts[:250])
    val_ids, _ = encode(texts[250:], vocab)
    train = TextExamples(ids, labels[:250])
    val = TextExamples(val_ids, labels[250:])
    torch.manual_seed(0)
    dim = int(os.environ.get("DDP_DIM", "32"))  # the bench trains a wider one
    batch = int(os.environ.get("DDP_BATCH", "16"))
    model = BagClassifier(len(vocab) + 2, dim=dim, dropout=0.0)  # masks differ by rank
    config = TrainConfig(
        lr=0.05, batch_size=batch, epochs=50, max_steps=steps, metric="accuracy", schedule="constant",
        eval_every=8, checkpoint_every=8, seed=1,
    )  # fmt: skip
    rec = Recorder()
    result = Trainer(model, train, val, config, out / "run", torch.device("cpu"), rec).fit(
        resume_from=resume
    )
    torch.save(model.state_dict(), out / f"params-{rank}.pt")
    (out / f"losses-{rank}.json").write_text(
        json.dumps(
            {
                "state": result.state,
                "losses": result.losses,
                "steps": len(rec.steps),
                "seconds": result.train_seconds,
                "samples": result.samples,
            }
        )
    )


if __name__ == "__main__":
    main()
