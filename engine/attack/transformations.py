"""Transformations of the discrete attacks: word swaps with embedding neighbours, DeepWordBug's
character edits inside a word (swap adjacent characters, substitute, delete, insert), and
HotFlip's first-order token swaps from the gradient."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from engine.attack.constraints import levenshtein
from engine.attack.neighbours import Neighbours
from engine.attack.text import match_case

LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHAR_OPS = ("swap", "substitute", "delete", "insert")


def word_swaps(source: Neighbours, words: Sequence[str], k: int, min_cos: float) -> list[list[str]]:
    """For each word, its neighbours within min_cos (at most k, nearest first), written in the
    word's case; [] for a word the vocabulary lacks."""
    found = source.lookup(list(words), k, min_cos)
    return [
        list(dict.fromkeys(match_case(w, n) for n, _ in near if n.lower() != w.lower()))
        for w, near in zip(words, found, strict=True)
    ]


def char_edit(word: str, op: str, rng: np.random.Generator) -> str:
    """One random character edit of word (the word itself when op cannot apply)."""
    n = len(word)
    if op == "swap":
        if n < 2:
            return word
        i = int(rng.integers(0, n - 1))
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "delete":
        if n < 2:
            return word
        i = int(rng.integers(0, n))
        return word[:i] + word[i + 1 :]
    letter = LETTERS[int(rng.integers(0, len(LETTERS)))]
    if op == "substitute":
        i = int(rng.integers(0, n))
        return word[:i] + letter + word[i + 1 :]
    i = int(rng.integers(0, n + 1))  # insert
    return word[:i] + letter + word[i:]


def char_edits(
    word: str, rng: np.random.Generator, per_op: int, max_edits: int, ops: Sequence[str] = CHAR_OPS
) -> list[str]:
    """per_op random edits of each kind, distinct, each within max_edits of the word
    (Levenshtein: a swap of two different characters costs 2)."""
    out: dict[str, None] = {}
    for op in ops:
        for _ in range(per_op):
            new = char_edit(word, op, rng)
            if new != word and new not in out and levenshtein(word, new) <= max_edits:
                out[new] = None
    return list(out)


def flip_estimates(grad: Tensor, ids: Tensor, table: Tensor, rows: Tensor, vocab: Tensor) -> Tensor:
    """HotFlip's first-order gain of putting token v at position rows[r]: (e_v - e_old) . g,
    as [R, V'] over the allowed vocabulary (vocab: its ids [V']); -inf where v is already
    there. Only the movable positions (rows) are computed."""
    g = grad[rows]  # [R, D]
    old = ids[rows]
    est = g @ table[vocab].T - (g * table[old]).sum(-1, keepdim=True)  # [R, V']
    same = torch.searchsorted(vocab, old).clamp(max=len(vocab) - 1)
    hit = vocab[same] == old
    est[torch.nonzero(hit).flatten(), same[hit]] = float("-inf")
    return est


def top_flips(est: Tensor, rows: Tensor, vocab: Tensor, k: int) -> list[tuple[int, int]]:
    """The k best (position, token id) swaps of an estimate [R, V'], best first."""
    if est.numel() == 0:
        return []
    top = est.flatten().topk(min(k, est.numel()))
    width = est.shape[1]
    return [
        (int(rows[int(i) // width]), int(vocab[int(i) % width]))
        for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        if v != float("-inf")
    ]
