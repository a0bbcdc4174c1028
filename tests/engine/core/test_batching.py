"""Padding arithmetic against a brute-force count, and the shape of bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.batching import (
    BUCKETED,
    PAD_TO_MAX,
    SHUFFLED,
    bucketed_batches,
    computed_positions,
    padding_cost,
    shuffled_batches,
)
from engine.core.errors import EngineError


def brute_force(lengths: list[int], batches: list[list[int]]) -> int:
    """Positions computed, one row at a time: each row padded to its batch's longest row."""
    total = 0
    for batch in batches:
        longest = 0
        for i in batch:
            longest = max(longest, lengths[i])
        for _ in batch:
            total += longest
    return total


def random_lengths(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.lognormal(3.5, 1.0, n).astype(np.int64) + 1


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("n", "batch_size", "max_length"), [(1, 4, 8), (97, 8, 64), (1000, 32, 128)]
)
def test_costs_match_brute_force(seed: int, n: int, batch_size: int, max_length: int):
    lengths = random_lengths(seed, n)
    capped = [min(int(x), max_length) for x in lengths]
    costs = {c.strategy: c for c in padding_cost(lengths, batch_size, max_length, seed)}
    assert list(costs) == [PAD_TO_MAX, SHUFFLED, BUCKETED]
    shuffled = [list(b) for b in shuffled_batches(n, batch_size, seed)]
    bucketed = [list(b) for b in bucketed_batches(np.array(capped), batch_size, seed)]
    expected = {
        PAD_TO_MAX: n * max_length,
        SHUFFLED: brute_force(capped, shuffled),
        BUCKETED: brute_force(capped, bucketed),
    }
    for strategy, cost in costs.items():
        assert cost.real_tokens == sum(capped)
        assert cost.computed_tokens == expected[strategy], strategy
        padded = expected[strategy] - sum(capped)
        assert cost.padded_share == pytest.approx(padded / expected[strategy])
    assert expected[BUCKETED] <= expected[SHUFFLED] <= expected[PAD_TO_MAX]


def test_computed_positions_by_hand():
    lengths = np.array([3, 1, 4, 1, 5])
    assert computed_positions(lengths, [np.array([0, 1]), np.array([2, 3, 4])]) == 2 * 3 + 3 * 5
    assert computed_positions(lengths, []) == 0


@pytest.mark.parametrize(
    ("n", "batch_size", "mega"), [(0, 4, 2), (10, 4, 1), (1000, 32, 5), (999, 7, 100)]
)
def test_bucketed_batches_partition_the_rows(n: int, batch_size: int, mega: int):
    lengths = random_lengths(n, n)
    batches = bucketed_batches(lengths, batch_size, seed=1, mega_batches=mega)
    rows = np.concatenate(batches) if batches else np.array([], np.int64)
    assert sorted(rows.tolist()) == list(range(n))
    assert all(len(b) == batch_size for b in batches if len(b) != n % batch_size)
    assert sum(len(b) < batch_size for b in batches) == (1 if n % batch_size else 0)


def test_bucketing_is_seeded_and_random():
    lengths = random_lengths(3, 5000)
    a = bucketed_batches(lengths, 32, seed=7)
    b = bucketed_batches(lengths, 32, seed=7)
    c = bucketed_batches(lengths, 32, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    firsts = [int(lengths[x].max()) for x in a[:20]]
    assert firsts != sorted(firsts) and firsts != sorted(firsts, reverse=True)


def test_longest_first():
    lengths = random_lengths(4, 3000)
    batches = bucketed_batches(lengths, 16, seed=2, longest_first=True)
    assert lengths[batches[0]].max() == lengths.max()


def test_bucketing_packs_tightly_on_skewed_lengths():
    lengths = random_lengths(11, 12_000)
    costs = {c.strategy: c.padded_share for c in padding_cost(lengths, 32, 512, 13)}
    assert 0.3 < costs[SHUFFLED] < costs[PAD_TO_MAX]
    assert costs[BUCKETED] < costs[SHUFFLED] / 8


def test_bad_sizes_are_refused():
    with pytest.raises(EngineError, match="batch size must be at least 1"):
        padding_cost(np.array([1, 2]), 0, 8, 0)
    with pytest.raises(EngineError, match="max length must be at least 1"):
        padding_cost(np.array([1, 2]), 2, 0, 0)


def test_no_rows_cost_nothing():
    costs = padding_cost(np.array([], np.int64), 32, 128, 0)
    assert [c.computed_tokens for c in costs] == [0, 0, 0]
    assert [c.padded_share for c in costs] == [0.0, 0.0, 0.0]
