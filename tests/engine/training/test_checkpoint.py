"""Checkpoints: safetensors + JSON only, exact round trip, atomic writes, pruning."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.errors import EngineError
from engine.training import checkpoint as ck
from engine.training.config import TrainConfig
from engine.training.optim import build_optimizer, build_scheduler
from tests.helpers.training import BagClassifier, BigramLM

CPU = torch.device("cpu")


def _setup(
    optimizer: str = "adamw", seed: int = 0
) -> tuple[BigramLM, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    torch.manual_seed(seed)
    model = BigramLM(vocab=30)
    config = TrainConfig(optimizer=optimizer, lr=0.05, schedule="cosine", warmup_steps=2)
    opt = build_optimizer(model, config, CPU)
    return model, opt, build_scheduler(opt, config, total_steps=20)


def _train(
    model: BigramLM,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LambdaLR,
    steps: int,
) -> list[float]:
    losses = []
    for _ in range(steps):
        ids = torch.randint(0, 30, (4, 6))  # draws from the global RNG, restored by a load
        logits = model(ids, torch.ones_like(ids))
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, 30), ids[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_round_trip_continues_exactly(tmp_path: Path, optimizer: str) -> None:
    model, opt, sched = _setup(optimizer)
    _train(model, opt, sched, 3)
    path = ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 3, "note": "x"})
    assert path == tmp_path / "ckpt-3"
    np_draw, py_draw = np.random.rand(), random.random()
    want_losses = _train(model, opt, sched, 4)
    want = {k: v.clone() for k, v in model.state_dict().items()}

    fresh, opt2, sched2 = _setup(optimizer, seed=99)  # other weights, fresh optimizer state
    state = ck.load_checkpoint(tmp_path, fresh, opt2, sched2)
    assert state["step"] == 3 and state["note"] == "x"
    assert fresh.out.weight is fresh.embed.weight  # tying survives the load
    assert np.random.rand() == np_draw and random.random() == py_draw
    assert _train(fresh, opt2, sched2, 4) == want_losses
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, want[k]), k
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_only_safetensors_and_json_on_disk(tmp_path: Path) -> None:
    model, opt, sched = _setup()
    _train(model, opt, sched, 1)
    path = ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 1})
    names = sorted(p.name for p in path.iterdir())
    assert names == [
        "model.safetensors",
        "optimizer.json",
        "optimizer.safetensors",
        "rng.json",
        "rng.safetensors",
        "scheduler.json",
        "state.json",
    ]
    for name in names:
        if name.endswith(".json"):
            json.loads((path / name).read_text())
    # the tied weight is stored once
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        assert sorted(f.keys()) == ["embed.weight", "hidden.bias", "hidden.weight"]
    assert json.loads((tmp_path / "last.json").read_text()) == {"checkpoint": "ckpt-1", "step": 1}


def test_a_crash_mid_write_leaves_the_previous_checkpoint_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, opt, sched = _setup()
    _train(model, opt, sched, 2)
    ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 2})
    good = {k: v.clone() for k, v in model.state_dict().items()}
    _train(model, opt, sched, 2)

    def crash(folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ck, "_write_rng", crash)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 4})
    assert (tmp_path / "ckpt-4.tmp").is_dir() and not (tmp_path / "ckpt-4").exists()
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [2]

    fresh, opt2, sched2 = _setup(seed=5)
    assert ck.load_checkpoint(tmp_path, fresh, opt2, sched2)["step"] == 2
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, good[k])

    monkeypatch.undo()
    ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 5})
    assert not (tmp_path / "ckpt-4.tmp").exists()  # the leftover is cleared
    assert ck.load_checkpoint(tmp_path, fresh)["step"] == 5


def test_keeps_the_last_n_and_the_best(tmp_path: Path) -> None:
    model, opt, sched = _setup()
    for step in range(1, 6):
        ck.save_checkpoint(tmp_path, model, opt, sched, {"step": step}, keep_last=2, best=step == 2)
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [2, 4, 5]
    assert ck.resolve_checkpoint(tmp_path, "best") == tmp_path / "ckpt-2"
    assert ck.resolve_checkpoint(tmp_path) == tmp_path / "ckpt-5"


def test_the_same_step_saved_twice_replaces_it(tmp_path: Path) -> None:
    model, opt, sched = _setup()
    ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 3, "v": 1})
    ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 3, "v": 2})
    assert ck.load_checkpoint(tmp_path, model)["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-3", "last.json"]


def test_wrong_model_or_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    model, opt, sched = _setup()
    ck.save_checkpoint(tmp_path, model, opt, sched, {"step": 1})
    with pytest.raises(EngineError, match="does not fit this model"):
        ck.load_checkpoint(tmp_path, BagClassifier(vocab=30))
    with pytest.raises(EngineError) as err:
        ck.load_checkpoint(tmp_path / "nowhere", model)
    assert err.value.code == "not_found"
