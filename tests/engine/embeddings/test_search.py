"""Exact cosine top-k: the two-stage top-k against a plain sort, and the index against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.embeddings import search
from engine.embeddings.search import CosineIndex, top_k
from engine.embeddings.static import unit_rows


@pytest.mark.parametrize(("n", "k"), [(100_000, 10), (100_003, 7), (640, 1), (500, 200), (5000, 5)])
def test_two_stage_top_k_equals_a_full_sort(n: int, k: int) -> None:
    gen = torch.Generator().manual_seed(n + k)
    scores = torch.randn(3, n, generator=gen)
    values, cols = top_k(scores, k)
    expected = torch.sort(scores, dim=1, descending=True)
    assert torch.equal(values, expected.values[:, :k])
    assert torch.equal(torch.gather(scores, 1, cols), values)  # the columns hold those values


def test_the_best_score_in_the_short_last_block_is_found() -> None:
    scores = torch.zeros(1, 64 * 100 + 5)
    scores[0, -1] = 5.0  # in the 5-wide tail block
    scores[0, 3] = 4.0
    values, cols = top_k(scores, 2)
    assert cols.tolist() == [[64 * 100 + 4, 3]]
    assert values.tolist() == [[5.0, 4.0]]


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    rng = np.random.default_rng(7)
    return unit_rows(rng.standard_normal((20_000, 24)).astype(np.float32))


def brute(table: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(q @ table.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("order", ["F", "C"])
def test_single_and_batched_searches_match_numpy(table: np.ndarray, order: str) -> None:
    rng = np.random.default_rng(8)
    queries = rng.standard_normal((70, 24)).astype(np.float32)  # more than one query group
    index = CosineIndex(np.asarray(table, order=order))
    scores, rows = index.search(queries, 10)
    assert np.array_equal(rows, brute(table, queries, 10))
    one_scores, one_rows = index.search(queries[:1] * 3.0, 10)  # length does not matter
    assert np.array_equal(one_rows[0], rows[0])
    np.testing.assert_allclose(one_scores[0], scores[0], rtol=1e-5)
    assert scores.max() <= 1.0 + 1e-5 and np.all(np.diff(scores, axis=1) <= 0)


def test_batched_search_merges_row_blocks(
    table: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "TABLE_ROWS", 1000)  # 20 blocks; the best rows span several
    rng = np.random.default_rng(9)
    queries = rng.standard_normal((5, 24)).astype(np.float32)
    _, rows = CosineIndex(table).search(queries, 50)
    assert np.array_equal(rows, brute(table, queries, 50))


def test_nearest_leaves_out_excluded_rows_and_still_returns_k(table: np.ndarray) -> None:
    index = CosineIndex(table)
    query = table[[5, 9]].copy()
    assert [h[0][0] for h in index.nearest(query, 5)] == [5, 9]  # each row is its own nearest
    hits = index.nearest(query, 5, [{5, 42}, {9}])
    order = brute(table, query, 10)
    assert [r for r, _ in hits[0]] == [r for r in order[0] if r not in (5, 42)][:5]
    assert [r for r, _ in hits[1]] == [r for r in order[1] if r != 9][:5]


def test_k_out_of_range_is_refused(table: np.ndarray) -> None:
    index = CosineIndex(table)
    with pytest.raises(ValueError, match="between 1 and 20000"):
        index.search(table[:1], 0)
    with pytest.raises(ValueError):
        index.search(table[:1], 20_001)
    _, rows = index.search(table[:1], 20_000)  # the whole table, sorted
    assert sorted(rows[0].tolist()) == list(range(20_000))


def test_the_whole_table_path_used_on_gpus_agrees(table: np.ndarray) -> None:
    index = CosineIndex(table)  # the GPU path's logic, run on the CPU tensors
    q = torch.nn.functional.normalize(torch.from_numpy(table[:3] + 0.1), dim=1)
    values, cols = index._search_whole(q, 7)
    assert np.array_equal(cols.numpy(), brute(table, q.numpy(), 7))
    np.testing.assert_allclose(values.numpy(), index.search(q.numpy(), 7)[0], rtol=1e-5)
