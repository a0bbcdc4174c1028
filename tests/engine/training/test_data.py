"""Training data: examples, padded batches, bucketing and token budget, data order, prefetch."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from engine.core.errors import EngineError
from engine.training.data import (
    BatchPrefetcher,
    DataOrder,
    TextExamples,
    collate,
    padding_stats,
    plan_batches,
)
from tests.helpers.training import synthetic_classify


def test_examples_refuse_bad_input() -> None:
    with pytest.raises(EngineError, match="no examples"):
        TextExamples([])
    with pytest.raises(EngineError, match="3 texts but 2 labels"):
        TextExamples([[1], [2], [3]], [0, 1])
    with pytest.raises(EngineError, match="1 text\\(s\\) has no tokens; the first is row 1"):
        TextExamples([[1], [], [2]], [0, 1, 0])
    with pytest.raises(EngineError, match="fewer than 2 tokens"):
        TextExamples([[1, 2], [3]])
    with pytest.raises(EngineError, match="labels must be class numbers from 0"):
        TextExamples([[1], [2]], [0, -1])


def test_examples_task_and_classes() -> None:
    cls = TextExamples([[5, 6], [7]], [0, 2], label_names=["a", "b", "c", "d"])
    assert cls.task == "classify" and cls.num_classes == 4 and len(cls) == 2
    assert cls.row(0).tolist() == [5, 6] and cls.row(1).tolist() == [7]
    lm = TextExamples([[1, 2, 3]])
    assert lm.task == "lm" and lm.num_classes == 0
    assert cls.fingerprint() != TextExamples([[5, 6], [7]], [1, 2]).fingerprint()


def test_collate_pads_right_to_the_longest_row_with_a_mask() -> None:
    ex = TextExamples([[5], [6, 7, 8], [9, 10]], [0, 1, 2], pad_id=0)
    batch = collate(ex, np.array([0, 1, 2]))
    assert batch.rows.tolist() == [1, 2, 0]  # longest first
    assert batch.input_ids.tolist() == [[6, 7, 8], [9, 10, 0], [5, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert batch.labels is not None and batch.labels.tolist() == [1, 2, 0]
    assert batch.input_ids.dtype == torch.int64 and batch.attention_mask.dtype == torch.int64
    assert batch.real_tokens == 6 and batch.computed_tokens == 9


def test_split_keeps_rows_and_trims_each_piece() -> None:
    ex = TextExamples([[1] * n for n in (9, 2, 7, 3, 1)], [0, 1, 0, 1, 0])
    batch = collate(ex, np.arange(5))
    parts = batch.split(2)
    assert [p.rows.tolist() for p in parts] == [[0, 2, 3], [1, 4]]
    assert [p.input_ids.shape[1] for p in parts] == [9, 2]
    assert sum(p.real_tokens for p in parts) == batch.real_tokens
    assert len(batch.split(99)) == 5  # never an empty piece


def test_plan_covers_every_row_once_and_is_reproducible() -> None:
    lengths = np.random.default_rng(1).integers(1, 50, 1000)
    a = plan_batches(lengths, 32, seed=7, epoch=0)
    assert sorted(np.concatenate(a).tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in a)
    b = plan_batches(lengths, 32, seed=7, epoch=0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = plan_batches(lengths, 32, seed=7, epoch=1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


def test_bucketing_keeps_padded_share_low() -> None:
    ex = synthetic_classify(3000, seed=2)
    bucketed = plan_batches(ex.lengths, 32, seed=0, epoch=0, bucketing=True)
    shuffled = plan_batches(ex.lengths, 32, seed=0, epoch=0, bucketing=False)
    real_b, computed_b = padding_stats(ex.lengths, bucketed)
    real_s, computed_s = padding_stats(ex.lengths, shuffled)
    assert real_b == real_s == int(ex.lengths.sum())
    share_b, share_s = 1 - real_b / computed_b, 1 - real_s / computed_s
    assert share_b < 0.05, share_b
    assert share_s > 0.35, share_s


@pytest.mark.parametrize("bucketing", [True, False])
def test_token_budget_caps_padded_tokens_per_batch(bucketing: bool) -> None:
    lengths = np.random.default_rng(3).integers(1, 200, 2000)
    plan = plan_batches(lengths, 64, seed=0, epoch=0, bucketing=bucketing, token_budget=1000)
    assert sorted(np.concatenate(plan).tolist()) == list(range(2000))
    assert max(len(b) * int(lengths[b].max()) for b in plan) <= 1000
    if bucketing:  # batches of short texts stay whole
        assert max(len(b) for b in plan) == 64
    with pytest.raises(
        EngineError, match="longest text has 199 tokens, more than the token budget"
    ):
        plan_batches(lengths, 64, seed=0, epoch=0, token_budget=100)


def test_data_order_round_trip() -> None:
    order = DataOrder(seed=3, epoch=2, position=17)
    assert DataOrder.from_dict(order.to_dict()) == order


def test_prefetcher_yields_the_plan_from_its_position() -> None:
    ex = synthetic_classify(200, seed=4)
    plan = plan_batches(ex.lengths, 16, seed=0, epoch=0)
    with BatchPrefetcher(ex, plan, start=5, depth=2) as stream:
        got = list(stream)
    assert [p for p, _ in got] == list(range(5, len(plan)))
    for position, batch in got:
        want = collate(ex, plan[position])
        assert torch.equal(batch.input_ids, want.input_ids)
        assert torch.equal(batch.attention_mask, want.attention_mask)


def test_prefetcher_stops_promptly_when_closed_half_way() -> None:
    ex = synthetic_classify(2000, seed=5)
    plan = plan_batches(ex.lengths, 4, seed=0, epoch=0)
    stream = BatchPrefetcher(ex, plan, depth=2)
    it = iter(stream)
    next(it)
    time.sleep(0.05)  # the thread fills the queue and blocks on it
    started = time.perf_counter()
    stream.close()
    assert not stream.alive
    assert time.perf_counter() - started < 1.0
    assert not [t for t in threading.enumerate() if t.name == "train-prefetch" and t.is_alive()]


def test_prefetcher_raises_errors_from_its_thread() -> None:
    ex = synthetic_classify(50, seed=6)
    plan = [np.array([0, 1]), np.array([10_000])]  # a row that does not exist
    with BatchPrefetcher(ex, plan) as stream, pytest.raises(IndexError):
        list(stream)
