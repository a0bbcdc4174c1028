"""Constraints of the discrete attacks, as TextAttack's: stopwords are never modified (NLTK's
English list of 179 words, the one TextAttack's StopwordModification reads; compared
lowercased, so a sentence's first "The" is a stopword too), a word is modified once at most (RepeatModification), at most a share of the
words change (MaxWordsPerturbed: ceil(max_percent x words)), word neighbours lie within a
cosine bound, and a character edit stays within an edit distance of its word."""

from __future__ import annotations

import math

# NLTK's English stopwords (nltk.corpus.stopwords.words("english")): NLTK itself is not a
# dependency, and its corpus is a download
STOPWORDS: frozenset[str] = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma
    mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
    weren't won won't wouldn wouldn't""".split()
)


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
