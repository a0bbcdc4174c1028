"""Trainer: it learns, it evaluates, and a stopped or killed run resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.training import checkpoint as ck
from engine.training.config import TrainConfig
from engine.training.data import TextExamples
from engine.training.metrics import evaluate
from engine.training.trainer import Trainer
from tests.helpers.training import (
    BagClassifier,
    BigramLM,
    Recorder,
    counting_lm_data,
    encode,
    rotten_tomatoes,
    synthetic_classify,
)
from tests.helpers.training import (
    resume_config as _resume_config,
)
from tests.helpers.training import (
    resume_model as _model,
)

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[3]


def rt_data() -> tuple[TextExamples, TextExamples, int]:
    texts, labels = rotten_tomatoes(300, seed=0)
    ids, vocab = encode(texts[:250])
    val_ids, _ = encode(texts[250:], vocab)
    return TextExamples(ids, labels[:250]), TextExamples(val_ids, labels[250:]), len(vocab) + 2


def test_loss_goes_down_on_rotten_tomatoes(tmp_path: Path) -> None:
    train, val, vocab = rt_data()
    torch.manual_seed(0)
    model = BagClassifier(vocab, dim=32)
    rec = Recorder()
    config = TrainConfig(lr=0.05, batch_size=16, epochs=6, metric="accuracy")
    result = Trainer(model, train, val, config, tmp_path, CPU, rec).fit()
    assert result.state == "completed"
    assert result.step == 6 * 16 == len(result.losses)
    first, last = np.mean(result.losses[:16]), np.mean(result.losses[-16:])
    assert first > 0.6 and last < 0.1, (first, last)
    assert evaluate(model, train, CPU).accuracy > 0.95  # it fits its training texts
    assert [s for s, _ in rec.evals] == [16 * e for e in range(1, 7)]  # one per epoch
    best = max(range(6), key=lambda i: (rec.evals[i][1]["accuracy"], -i))
    assert result.best_step == rec.evals[best][0]
    assert (
        ck.resolve_checkpoint(tmp_path / "checkpoints", "best").name == f"ckpt-{result.best_step}"
    )
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 0.05
    json.dumps(result.to_dict())
    metrics = rec.steps[0][2]
    for key in ("loss", "lr", "samples_per_s", "tokens_per_s", "padded_share", "grad_norm"):
        assert np.isfinite(metrics[key]) and key in metrics
    assert rec.results == [result]


def test_language_model_learns_and_its_perplexity_falls(tmp_path: Path) -> None:
    train, val = counting_lm_data(200, seed=0), counting_lm_data(40, seed=1)
    torch.manual_seed(0)
    model = BigramLM(vocab=12, dim=16)
    before = evaluate(model, val, CPU).perplexity
    rec = Recorder()
    config = TrainConfig(lr=0.05, batch_size=16, epochs=5, metric="perplexity", eval_every=20)
    result = Trainer(model, train, val, config, tmp_path, CPU, rec).fit()
    after = evaluate(model, val, CPU)
    assert before is not None and before > 8
    assert after.perplexity is not None and after.perplexity < 1.3
    # the trainer evaluates in batches of 16, evaluate() in 64: sums differ in the last bits
    assert after.perplexity == pytest.approx(min(e["perplexity"] for _, e in rec.evals))
    assert result.best_value == pytest.approx(after.perplexity)
    assert [s for s, _ in rec.evals][-1] == result.step


def test_stop_then_resume_repeats_the_uninterrupted_run(tmp_path: Path) -> None:
    train, val = synthetic_classify(120, seed=0), synthetic_classify(30, seed=1)
    full = Trainer(_model(0), train, val, _resume_config(), tmp_path / "a", CPU).fit()
    assert full.step == 45

    rec = Recorder()
    first = Trainer(_model(0), train, val, _resume_config(), tmp_path / "b", CPU, rec)
    k = 19  # mid-epoch, between evaluations
    rec.hooks[k] = [first.control.stop]
    stopped = first.fit()
    assert stopped.state == "stopped" and stopped.step == k
    assert stopped.losses == full.losses[:k]
    assert stopped.last_checkpoint is not None and stopped.last_checkpoint.endswith(f"ckpt-{k}")

    resumed_model = _model(123)  # other weights: the checkpoint must replace them
    again = Trainer(resumed_model, train, val, _resume_config(), tmp_path / "b", CPU)
    result = again.fit(resume_from=tmp_path / "b")
    assert result.state == "completed" and result.start_step == k
    assert result.losses == full.losses[k:]
    assert [e["loss"] for e in result.evals] == [e["loss"] for e in full.evals if e["step"] > k]
    assert result.best_step == full.best_step and result.best_value == full.best_value
    want = _final_weights(tmp_path / "a")
    for name, value in resumed_model.state_dict().items():
        assert torch.allclose(value, want[name], rtol=0, atol=1e-7), name


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    model = _model(7)
    ck.load_checkpoint(run_dir / "checkpoints", model, restore_rng=False)
    return model.state_dict()


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
import torch
from engine.training.trainer import Trainer
from tests.helpers.training import Recorder, synthetic_classify
from tests.helpers.training import resume_model as _model, resume_config as _resume_config

config = _resume_config()
config.checkpoint_every = 10
rec = Recorder()
rec.hooks[14] = [lambda: os.kill(os.getpid(), signal.SIGKILL)]
train, val = synthetic_classify(120, seed=0), synthetic_classify(30, seed=1)
Trainer(_model(0), train, val, config, Path(sys.argv[1]), torch.device("cpu"), rec).fit()
"""


def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_RUN), str(run_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert ck.resolve_checkpoint(run_dir / "checkpoints").name == "ckpt-10"
    assert max(s for s, _ in ck.list_checkpoints(run_dir / "checkpoints")) == 10

    config = _resume_config()
    config.checkpoint_every = 10
    train, val = synthetic_classify(120, seed=0), synthetic_classify(30, seed=1)
    full = Trainer(_model(0), train, val, config, tmp_path / "full", CPU).fit()
    model = _model(5)
    result = Trainer(model, train, val, config, run_dir, CPU).fit(resume_from=run_dir)
    assert result.start_step == 10 and result.losses == full.losses[10:]
    want = _final_weights(tmp_path / "full")
    for name, value in model.state_dict().items():
        assert torch.allclose(value, want[name], rtol=0, atol=1e-7), name


def test_bucketing_pads_less_than_shuffled_batches(tmp_path: Path) -> None:
    train, _, vocab = rt_data()
    shares = {}
    for bucketing in (True, False):
        torch.manual_seed(0)
        config = TrainConfig(batch_size=16, epochs=1, bucketing=bucketing)
        model = BagClassifier(vocab)
        result = Trainer(model, train, None, config, tmp_path / str(bucketing), CPU).fit()
        shares[bucketing] = result.padded_share
        assert result.real_tokens == int(train.lengths.sum())
    assert shares[True] < 0.1 < 0.3 < shares[False], shares


def test_token_budget_caps_every_batch(tmp_path: Path) -> None:
    train = synthetic_classify(300, seed=3)
    rec = Recorder()
    config = TrainConfig(batch_size=64, epochs=1, token_budget=256)
    Trainer(_model(0), train, None, config, tmp_path, CPU, rec).fit()
    assert max(m["computed_tokens"] for _, _, m in rec.steps) <= 256
    assert max(m["samples"] for _, _, m in rec.steps) >= 32  # short texts share big batches
    assert sum(m["samples"] for _, _, m in rec.steps) == 300


def test_bf16_autocast_runs_on_cpu(tmp_path: Path) -> None:
    train = synthetic_classify(64, seed=4)
    config = TrainConfig(batch_size=16, epochs=2, precision="bf16", lr=0.05)
    result = Trainer(_model(0), train, None, config, tmp_path, CPU).fit()
    assert result.state == "completed" and all(np.isfinite(result.losses))


def test_compile_wraps_the_forward_pass_and_checkpoints_the_plain_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, object]] = []

    def spy(model: torch.nn.Module, **kwargs: object) -> torch.nn.Module:
        calls.append(kwargs)
        return model  # real compilation takes 20 s on this CPU; the wiring is what is tested

    monkeypatch.setattr(torch, "compile", spy)
    config = TrainConfig(batch_size=16, epochs=1, compile=True)
    Trainer(_model(0), synthetic_classify(32, seed=4), None, config, tmp_path, CPU).fit()
    assert calls == [{"dynamic": True}]
    fresh = _model(1)
    ck.load_checkpoint(tmp_path / "checkpoints", fresh, restore_rng=False)  # plain names


def test_total_steps_is_known_before_the_run() -> None:
    train = synthetic_classify(100, seed=5)  # 13 batches of 8 an epoch
    trainer = Trainer(_model(0), train, None, TrainConfig(batch_size=8, epochs=3), Path("x"), CPU)
    assert trainer.total_steps == 39
    capped = Trainer(_model(0), train, None, TrainConfig(batch_size=8, max_steps=5), Path("x"), CPU)
    assert capped.total_steps == 5
