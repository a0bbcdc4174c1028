"""Optimizer groups and the learning-rate schedules."""

from __future__ import annotations

import math

import pytest
import torch

from engine.training.config import TrainConfig
from engine.training.optim import build_optimizer, build_scheduler, lr_factor, set_lr, warmup_steps
from tests.helpers.training import BagClassifier

CPU = torch.device("cpu")


def test_schedules_warm_up_then_follow_their_shape() -> None:
    linear, cosine, constant = (lr_factor(s, 4, 14) for s in ("linear", "cosine", "constant"))
    for fn in (linear, cosine, constant):
        assert [fn(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert [linear(i) for i in (4, 9, 13)] == pytest.approx([1.0, 0.5, 0.1])
    assert cosine(9) == pytest.approx(0.5) and cosine(14) == pytest.approx(0.0)
    assert cosine(6) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
    assert all(constant(i) == 1.0 for i in range(4, 20))


def test_warmup_ratio_is_a_share_of_all_steps() -> None:
    assert warmup_steps(TrainConfig(warmup_ratio=0.1), 95) == 10
    assert warmup_steps(TrainConfig(warmup_steps=7), 95) == 7


def test_matrices_decay_and_biases_do_not() -> None:
    model = BagClassifier(vocab=10)
    opt = build_optimizer(model, TrainConfig(weight_decay=0.1), CPU)
    assert isinstance(opt, torch.optim.AdamW)
    decay, rest = opt.param_groups
    assert decay["weight_decay"] == 0.1 and {p.dim() for p in decay["params"]} == {2}
    assert rest["weight_decay"] == 0.0 and {p.dim() for p in rest["params"]} == {1}
    assert opt.defaults.get("fused")  # one fused kernel on the CPU too
    sgd = build_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.8), CPU)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.8


def test_set_lr_rescales_the_rest_of_the_schedule() -> None:
    model = BagClassifier(vocab=10)
    config = TrainConfig(lr=1.0, schedule="linear")
    opt = build_optimizer(model, config, CPU)
    sched = build_scheduler(opt, config, total_steps=10)
    for _ in range(5):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)
    set_lr(sched, 0.2)
    assert all(g["lr"] == 0.2 for g in opt.param_groups)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2 * 0.4 / 0.5)
