"""BatchGradients: a batch's gradients in micro-batches equal the whole batch's, and running out
of memory halves the micro-batch until one text is left."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.training.accumulate import BatchGradients, FaultHook
from engine.training.data import Batch, DataOrder, collate
from engine.training.losses import loss_sum, target_count
from engine.training.resume import LoopState
from tests.helpers.training import BagClassifier, Recorder, synthetic_classify

CPU = torch.device("cpu")


def gradients_of(
    accumulation: int, fault_hook: FaultHook | None = None, batch_size: int = 16
) -> tuple[BatchGradients, LoopState, Recorder, BagClassifier]:
    torch.manual_seed(0)
    model = BagClassifier(vocab=50, dropout=0.0)
    loop = LoopState(DataOrder(0), step=4, accumulation=accumulation)
    rec = Recorder()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    grads = BatchGradients(
        model,
        "classify",
        optimizer,
        None,
        None,
        CPU,
        batch_size,
        loop,
        rec,
        fault_hook,
    )
    return grads, loop, rec, model


def a_batch(rows: int = 16) -> Batch:
    return collate(synthetic_classify(rows, seed=3), np.arange(rows))


def done(outcome: tuple[float, int] | str) -> tuple[float, int]:
    assert not isinstance(outcome, str), outcome
    return outcome


@pytest.mark.parametrize("accumulation", [2, 4, 16])
def test_micro_batches_give_the_whole_batchs_mean_loss_and_gradients(accumulation: int) -> None:
    batch = a_batch()
    whole, _, _, model = gradients_of(1)
    loss, computed = done(whole(batch))
    logits = model(batch.input_ids, batch.attention_mask)
    want = loss_sum("classify", logits, batch) / target_count("classify", batch)
    assert loss == pytest.approx(float(want.detach()), rel=1e-6)
    assert computed == batch.computed_tokens
    expected = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    split, _, _, other = gradients_of(accumulation)
    split_loss, _ = done(split(batch))
    assert split_loss == pytest.approx(loss, rel=1e-5)
    for got, grad in zip([p.grad for p in other.parameters()], expected, strict=True):
        torch.testing.assert_close(got, grad, atol=1e-6, rtol=1e-5)


def test_out_of_memory_doubles_the_loops_accumulation_and_retries() -> None:
    seen: list[tuple[int, int]] = []

    def hook(step: int, rows: int) -> None:
        seen.append((step, rows))
        if rows > 4:
            raise torch.OutOfMemoryError("simulated")

    grads, loop, rec, _ = gradients_of(1, hook)
    loss, _ = done(grads(a_batch()))
    assert np.isfinite(loss) and loop.accumulation == 4
    assert seen[:3] == [(5, 16), (5, 8), (5, 4)] and all(r <= 4 for _, r in seen[2:])
    assert [level for level, _ in rec.messages] == ["warning", "warning"]
    assert rec.messages[-1][1] == (
        "out of memory at step 5: batch halved to 4 texts, gradient accumulation doubled to 4 "
        "(the effective batch stays 16)"
    )


def test_out_of_memory_with_one_text_left_is_the_steps_failure() -> None:
    def hook(step: int, rows: int) -> None:
        raise torch.OutOfMemoryError("simulated")

    grads, loop, _, model = gradients_of(1, hook, batch_size=4)
    outcome = grads(a_batch(4))
    assert outcome == "failed: out of memory with one text per batch at step 5"
    assert loop.accumulation == 4
    assert all(p.grad is None for p in model.parameters())  # zeroed after the failed try
