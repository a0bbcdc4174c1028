"""Constraints of the discrete attacks, as TextAttack's: stopwords are never modified (sklearn's
English list), a word is modified once at most (RepeatModification), at most a share of the
words change (MaxWordsPerturbed: ceil(max_percent x words)), word neighbours lie within a
cosine bound, and a character edit stays within an edit distance of its word."""

from __future__ import annotations

import math

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STOPWORDS: frozenset[str] = frozenset(ENGLISH_STOP_WORDS)


def is_stopword(word: str) -> bool:
    return word.lower() in STOPWORDS


def max_changes(words: int, max_percent: float) -> int:
    """How many of a text's words may change: ceil(max_percent x words), as TextAttack's
    MaxWordsPerturbed (a tiny tolerance keeps 0.3 x 10 at 3)."""
    return max(0, math.ceil(words * max_percent - 1e-9))


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between a and b."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
