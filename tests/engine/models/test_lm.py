"""The language models on tiny configs: logits [B, T, V], causal (a later token never changes
an earlier position), padding-free, able to memorise 16 sequences; and generate: seeded,
greedy at temperature 0, stopping at eos."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from engine.core.errors import EngineError
from engine.models.lm import generate
from tests.helpers.models import (
    VOCAB,
    assert_padding_free,
    build,
    left_padded,
    overfit_lm,
    tiny_batch,
)

TINY: dict[str, dict[str, Any]] = {
    "lstm-lm": {"embed_dim": 32, "hidden_size": 32, "num_layers": 2, "dropout": 0.0},
    "transformer-lm": {
        "d_model": 32,
        "num_heads": 2,
        "num_layers": 2,
        "ff_size": 64,
        "dropout": 0.0,
        "max_len": 16,
    },
}
ARCHS = pytest.mark.parametrize("arch", list(TINY))


@ARCHS
def test_logits_cover_every_position_and_the_whole_vocabulary(arch: str) -> None:
    model = build(arch, TINY[arch])
    ids, mask, _ = tiny_batch(n=3)
    out = model(ids, mask)
    assert model.task == "lm"
    assert out.shape == (3, ids.shape[1], VOCAB)
    assert torch.isfinite(out).all()


@ARCHS
def test_a_later_token_never_changes_an_earlier_position(arch: str) -> None:
    model = build(arch, TINY[arch])
    ids = torch.tensor([[3, 7, 2, 9, 11, 5]])
    mask = torch.ones_like(ids)
    changed = ids.clone()
    changed[0, 3] = 15
    before, after = model(ids, mask), model(changed, mask)
    torch.testing.assert_close(before[:, :3], after[:, :3], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, 3:], after[:, 3:])  # the change is seen from there on


@ARCHS
def test_padding_does_not_change_the_real_positions(arch: str) -> None:
    model = build(arch, TINY[arch])
    ids, mask, _ = tiny_batch(n=6, seed=1)
    assert_padding_free(model, ids, mask)
    left_ids, left_mask = left_padded(ids, mask)
    with torch.no_grad():
        right, left = model(ids, mask), model(left_ids, left_mask)
    for row, n in enumerate(mask.sum(dim=1).tolist()):
        width = ids.shape[1]
        torch.testing.assert_close(left[row, width - n :], right[row, :n], atol=1e-5, rtol=0)


@ARCHS
def test_it_memorises_16_sequences(arch: str) -> None:
    # every first token differs, so each next token is determined by what came before
    ids, mask, _ = tiny_batch(n=16, seed=2, min_len=4, max_len=8)
    loss, steps = overfit_lm(build(arch, TINY[arch]), ids, mask)
    assert loss < 0.05, f"{arch}: loss {loss:.3f} after {steps} steps"


@ARCHS
def test_generate_is_deterministic_for_a_seed(arch: str) -> None:
    model = build(arch, TINY[arch])
    model.train()
    first = generate(model, [3, 4], 20, temperature=1.0, top_k=None, seed=7)
    assert len(first) == 20 and all(0 <= t < VOCAB for t in first)
    assert generate(model, [3, 4], 20, temperature=1.0, seed=7) == first
    assert generate(model, [3, 4], 20, temperature=1.0, seed=8) != first
    assert model.training  # its mode is given back


@ARCHS
def test_temperature_zero_and_top_k_one_are_greedy(arch: str) -> None:
    model = build(arch, TINY[arch])
    greedy = generate(model, [5], 6, temperature=0.0, seed=1)
    ids = [5]
    for _ in range(6):  # the argmax, one step at a time, by hand
        x = torch.tensor([ids])
        ids.append(int(model(x, torch.ones_like(x))[0, -1].argmax()))
    assert greedy == ids[1:]
    assert generate(model, [5], 6, temperature=1.5, top_k=1, seed=123) == greedy


@ARCHS
def test_generate_stops_after_eos(arch: str) -> None:
    model = build(arch, TINY[arch])
    free = generate(model, [2, 9], 12, temperature=0.0)
    stop = next(i for i in range(1, len(free)) if free[i] not in free[:i])
    assert generate(model, [2, 9], 12, temperature=0.0, eos_id=free[stop]) == free[: stop + 1]


def test_generation_longer_than_the_context_reads_the_last_max_len_tokens() -> None:
    model = build("transformer-lm", TINY["transformer-lm"])  # max_len 16
    out = generate(model, list(range(1, 13)), 10, temperature=0.8, top_k=5, seed=0)
    assert len(out) == 10
    with pytest.raises(EngineError, match="longer than the model's max_len of 16"):
        x = torch.ones((1, 17), dtype=torch.long)
        model(x, torch.ones_like(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt_ids": []}, "the prompt is empty"),
        ({"prompt_ids": [VOCAB]}, "outside the vocabulary"),
        ({"temperature": -1.0}, "temperature must be 0"),
        ({"max_new_tokens": -2}, "max_new_tokens must be"),
        ({"top_k": -1}, "top_k must be"),
    ],
)
def test_generate_rejects_what_it_cannot_do(kwargs: dict[str, Any], message: str) -> None:
    model = build("lstm-lm", TINY["lstm-lm"])
    args: dict[str, Any] = {"prompt_ids": [1, 2], "max_new_tokens": 3, **kwargs}
    with pytest.raises(EngineError, match=message):
        generate(model, **args)
