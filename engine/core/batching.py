"""Padding arithmetic: how many computed positions are padding under each batching strategy.

A batch costs (rows in it) x (its longest row): every shorter row is padded to that length.
Bucketing keeps batches random while making their rows alike in length: shuffle, cut into
mega-batches of many batches, sort each mega-batch by length, cut it into batches, shuffle the
batches' order. The trainer draws its batches from bucketed_batches.
"""

from __future__ import annotations

import numpy as np

from engine.core.errors import EngineError
from engine.protocol import PaddingCost

PAD_TO_MAX = "pad to max length"
SHUFFLED = "per batch, shuffled"
BUCKETED = "per batch, bucketed"
STRATEGIES = (PAD_TO_MAX, SHUFFLED, BUCKETED)
MEGA_BATCHES = 100  # batches sorted together; more packs tighter, fewer keeps batches random


def _check(batch_size: int, max_length: int | None = None) -> None:
    if batch_size < 1:
        raise EngineError(f"batch size must be at least 1 (it is {batch_size})", hint="use 32")
    if max_length is not None and max_length < 1:
        raise EngineError(f"max length must be at least 1 (it is {max_length})", hint="use 512")


def shuffled_batches(n: int, batch_size: int, seed: int) -> list[np.ndarray]:
    """Row indices in random order, cut into batches (the last may be short)."""
    _check(batch_size)
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def bucketed_batches(
    lengths: np.ndarray,
    batch_size: int,
    seed: int,
    mega_batches: int = MEGA_BATCHES,
    longest_first: bool = False,
) -> list[np.ndarray]:
    """Row indices in batches of alike lengths, the batches in random order.

    longest_first puts the batch with the longest row first, so running out of memory
    happens at once rather than late in an epoch.
    """
    _check(batch_size)
    if mega_batches < 1:
        raise EngineError(f"mega-batches must hold at least 1 batch (not {mega_batches})")
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    size = batch_size * mega_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        # Stable sort: rows of equal length keep their shuffled order.
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    if longest_first and batches:
        top = int(np.argmax([lengths[b].max() for b in batches]))
        batches.insert(0, batches.pop(top))
    return batches


def computed_positions(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    """Positions computed when each batch is padded to its longest row."""
    if not batches:
        return 0
    order = np.concatenate(batches)
    sizes = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    longest = np.maximum.reduceat(np.asarray(lengths, dtype=np.int64)[order], starts)
    return int((longest * sizes).sum())


def _cost(strategy: str, real: int, computed: int) -> PaddingCost:
    share = (computed - real) / computed if computed else 0.0
    return PaddingCost(
        strategy=strategy, padded_share=share, real_tokens=real, computed_tokens=computed
    )


def padding_cost(
    lengths: np.ndarray,
    batch_size: int,
    max_length: int,
    seed: int,
    mega_batches: int = MEGA_BATCHES,
) -> list[PaddingCost]:
    """What each strategy in STRATEGIES computes for rows of these token lengths.

    Rows longer than max_length are truncated to it first (in every strategy).
    """
    _check(batch_size, max_length)
    capped = np.minimum(np.asarray(lengths, dtype=np.int64), max_length)
    real = int(capped.sum())
    n = len(capped)
    return [
        _cost(PAD_TO_MAX, real, n * max_length),
        _cost(SHUFFLED, real, computed_positions(capped, shuffled_batches(n, batch_size, seed))),
        _cost(
            BUCKETED,
            real,
            computed_positions(capped, bucketed_batches(capped, batch_size, seed, mega_batches)),
        ),
    ]
