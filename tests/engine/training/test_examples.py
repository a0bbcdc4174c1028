"""Every examples/*.toml loads, names real settings, and its model takes a training step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.seq2seq import EOS, SEP
from engine.training.config import TrainConfig
from engine.training.data import TextExamples, collate
from engine.training.losses import loss_sum
from engine.training.service import RunConfig
from tests.helpers.engine import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def test_there_is_an_example_for_every_architecture() -> None:
    archs = {RunConfig.from_toml(p.read_text()).arch for p in EXAMPLES}
    assert archs == set(registry.ARCHITECTURES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads_and_takes_a_step(path: Path) -> None:
    cfg = RunConfig.from_toml(path.read_text())
    assert path.stem.startswith(
        cfg.arch.replace("-", "").replace("embeddingbag", "embeddingbag")[:4]
    ) or cfg.arch in path.stem.replace("embeddingbag", "embedding-bag")
    assert cfg.dataset in path.stem
    try:
        model_cfg = registry.config_from_dict(cfg.arch, cfg.model)
    except EngineError as exc:
        if "optional package" not in exc.message:
            raise
        pytest.skip(exc.message)  # SmolLM2 (make llm) is not installed
    train_cfg = TrainConfig.from_dict(cfg.train)
    spec = registry.ARCHITECTURES[cfg.arch]
    train_cfg.validate(device_type="cpu", task=spec.task, has_validation=True)
    if spec.trained_by == "fit":
        model = registry.build_model(cfg.arch, model_cfg, vocab_size=1, num_classes=2, pad_id=0)
        report = model.fit(["a great film", "a dull film", "loved it", "hated it"], [1, 0, 1, 0])
        assert report.examples == 4
        return
    vocab = 30522 if spec.pretrained_tokenizer else 500
    torch.manual_seed(0)
    model = registry.build_model(cfg.arch, model_cfg, vocab_size=vocab, num_classes=2, pad_id=0)
    ids = torch.randint(4, 400, (2, 12))
    if spec.task == "seq2seq":  # a pair row: source SEP target EOS
        ids[:, 5], ids[:, -1] = SEP, EOS
    mask = torch.ones_like(ids)
    logits = model(ids, mask)
    target = torch.zeros(2, dtype=torch.long)
    if spec.task == "seq2seq":
        loss = loss_sum("seq2seq", logits, collate(TextExamples(ids.tolist(), pairs=True), [0, 1]))
    elif spec.task == "lm":
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )
    else:
        loss = torch.nn.functional.cross_entropy(logits, target)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=float(train_cfg.lr))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
