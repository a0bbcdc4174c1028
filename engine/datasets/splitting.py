"""Assigning rows to train/validation/test with scikit-learn: seeded, stratified, grouped."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.errors import EngineError
from engine.datasets.duplicates import shared_dictionary

TRAIN, VALIDATION, TEST = 0, 1, 2
MAX_FOLDS = 20


@dataclass(frozen=True)
class Fractions:
    train: float
    validation: float
    test: float


@dataclass(frozen=True)
class Assignment:
    """Split code per row (0 train, 1 validation, 2 test) and how it was made."""

    codes: np.ndarray
    stratified: bool
    note: str = ""


def check_fractions(train: float, validation: float, test: float) -> Fractions:
    """Fractions that are each >= 0, sum to 1 and leave some rows for training."""
    given = f"train {train:g}, validation {validation:g}, test {test:g}"
    if min(train, validation, test) < 0:
        raise EngineError(f"split fractions must not be negative ({given})")
    if train <= 0:
        raise EngineError(f"the train fraction must be above 0 ({given})")
    total = train + validation + test
    if abs(total - 1.0) > 1e-6:
        raise EngineError(
            f"split fractions must add up to 1; these add up to {total:g} ({given})",
            hint="for example train 0.8, validation 0.1, test 0.1",
        )
    return Fractions(train, validation, test)


def group_codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer per row naming its group; rows with an empty group are groups of one."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    chunks = shared_dictionary(pc.dictionary_encode(pc.if_else(pc.equal(column, ""), None, column)))
    if not chunks:
        return np.zeros(0, np.int64)
    codes = np.concatenate([c.indices.fill_null(-1).to_numpy() for c in chunks]).astype(np.int64)
    alone = np.flatnonzero(codes < 0)
    codes[alone] = len(chunks[-1].dictionary) + np.arange(len(alone))
    return codes


def assign_splits(
    n: int,
    fractions: Fractions,
    seed: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    label_names: Sequence[str] = (),
) -> Assignment:
    """Assign n rows; stratify by labels (codes, -1 for none) and keep groups whole if given.

    Falls back to an unstratified split, saying why in the note, when a class is too small.
    """
    wanted = 1 + (fractions.validation > 0) + (fractions.test > 0)
    if n < wanted:
        raise EngineError(f"cannot make {wanted} splits out of {n} rows")
    if groups is not None and len(np.unique(groups)) < wanted:
        raise EngineError(
            f"the group column has {len(np.unique(groups))} distinct value(s); "
            f"{wanted} splits need at least {wanted} groups",
            hint="group by a column with more distinct values, or split without grouping",
        )
    if wanted == 1:
        return Assignment(np.full(n, TRAIN, dtype=np.int8), stratified=False)
    note = ""
    if labels is not None:
        why = _too_small(labels, groups, fractions, label_names)
        if why:
            note = f"not stratified: {why}"
        else:
            try:
                codes = (
                    _stratified_grouped(labels, groups, fractions, seed)
                    if groups is not None
                    else _by_rows(n, fractions, seed, labels)
                )
                return Assignment(codes, stratified=True)
            except ValueError as exc:
                note = f"not stratified: {exc}"
    codes = (
        _grouped(groups, fractions, seed) if groups is not None else _by_rows(n, fractions, seed)
    )
    return Assignment(codes, stratified=False, note=note)


def _too_small(
    labels: np.ndarray, groups: np.ndarray | None, fr: Fractions, names: Sequence[str]
) -> str:
    """Why stratifying cannot work, or "" when it can."""
    classes, counts = np.unique(labels, return_counts=True)
    smallest = int(np.argmin(counts))
    count = int(counts[smallest])
    code = int(classes[smallest])
    name = names[code] if 0 <= code < len(names) else "(no label)"
    needed = 2
    if groups is not None:
        n_groups = len(np.unique(groups))
        needed, v, t = _folds(fr, n_groups)
        if v == t == 0:
            return f"{n_groups} groups are too few to stratify into these fractions"
    if count < needed:
        return f"class {name!r} has only {count} row(s), fewer than the {needed} it needs"
    return ""


def _sizes(n: int, fr: Fractions) -> tuple[int, int]:
    """(validation, test) counts out of n: rounded, at least one where the fraction is not 0."""
    val = max(1, round(fr.validation * n)) if fr.validation > 0 else 0
    test = max(1, round(fr.test * n)) if fr.test > 0 else 0
    if n - val - test < 1:
        raise EngineError(f"{n} rows or groups are too few for these fractions")
    return val, test


def _by_rows(n: int, fr: Fractions, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """train_test_split twice: test off the whole, then validation off the rest."""
    from sklearn.model_selection import train_test_split  # slow to import; only when splitting

    n_val, n_test = _sizes(n, fr)
    codes = np.full(n, TRAIN, dtype=np.int8)
    rest = np.arange(n)
    if n_test:
        rest, test = train_test_split(rest, test_size=n_test, random_state=seed, stratify=labels)
        codes[test] = TEST
    if n_val:
        strat = labels[rest] if labels is not None else None
        _, val = train_test_split(rest, test_size=n_val, random_state=seed, stratify=strat)
        codes[val] = VALIDATION
    return codes


def _grouped(groups: np.ndarray, fr: Fractions, seed: int) -> np.ndarray:
    """GroupShuffleSplit twice; the fractions apply to groups, not rows."""
    from sklearn.model_selection import GroupShuffleSplit

    n = len(groups)
    n_val, n_test = _sizes(len(np.unique(groups)), fr)
    codes = np.full(n, TRAIN, dtype=np.int8)
    rest = np.arange(n)
    if n_test:
        cut = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
        keep, test = next(cut.split(rest, groups=groups))
        codes[rest[test]] = TEST
        rest = rest[keep]
    if n_val:
        cut = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        _, val = next(cut.split(rest, groups=groups[rest]))
        codes[rest[val]] = VALIDATION
    return codes


def _folds(fr: Fractions, n_groups: int) -> tuple[int, int, int]:
    """(folds, validation folds, test folds) whose shares come closest to the fractions."""
    best: tuple[float, int, int, int] | None = None
    for k in range(2, min(MAX_FOLDS, n_groups) + 1):
        v, t = round(fr.validation * k), round(fr.test * k)
        if (fr.validation > 0 and v == 0) or (fr.test > 0 and t == 0) or k - v - t < 1:
            continue
        err = abs(v / k - fr.validation) + abs(t / k - fr.test)
        if best is None or err < best[0] - 1e-9:
            best = (err, k, v, t)
    if best is None:
        return (0, 0, 0)  # cannot be done: more folds than groups
    return best[1:]


def _stratified_grouped(
    labels: np.ndarray, groups: np.ndarray, fr: Fractions, seed: int
) -> np.ndarray:
    """StratifiedGroupKFold: the first folds become test, the next validation, the rest train."""
    from sklearn.model_selection import StratifiedGroupKFold

    k, v, t = _folds(fr, len(np.unique(groups)))
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    codes = np.full(len(labels), TRAIN, dtype=np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for i, (_, held) in enumerate(folds.split(np.zeros(len(labels)), labels, groups)):
            if i < t:
                codes[held] = TEST
            elif i < t + v:
                codes[held] = VALIDATION
    return codes
