"""Exact duplicate texts and texts that leak across splits, found with Arrow and numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.datasets.arrays import take_sorted
from engine.protocol import DuplicateGroup

SPLIT_NAMES = ("train", "validation", "test")  # split codes 0-2; 3 is no split
SHOWN_CHARS = 200
SHOWN_INDICES = 20


@dataclass(frozen=True)
class Duplicates:
    duplicate_rows: int  # rows whose text appeared earlier
    duplicate_groups: list[DuplicateGroup]
    cross_split_texts: int  # distinct texts in more than one split
    cross_split_groups: list[DuplicateGroup]


def normalise(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Texts compared the way people read them: trimmed, runs of whitespace as one, lower case."""
    chunks = []
    for chunk in text.chunks:
        words = pc.utf8_split_whitespace(chunk)
        joined = pc.utf8_trim(pc.binary_join(words, " "), " ")
        chunks.append(pc.utf8_lower(joined))
    return pa.chunked_array(chunks, pa.string())


def text_codes(text: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """A code per row, equal for equal normalised texts, numbered by first appearance."""
    chunks = shared_dictionary(pc.dictionary_encode(normalise(text)))
    if not chunks:
        return np.zeros(0, np.int64), 0
    codes = np.concatenate([c.indices.to_numpy().astype(np.int64) for c in chunks])
    return codes, len(chunks[-1].dictionary)


def shared_dictionary(encoded: pa.ChunkedArray) -> list[pa.DictionaryArray]:
    """Chunks whose indices all point into one dictionary.

    Arrow encodes a chunked column with one memo, so the chunks already share it; unifying
    them again costs time and memory in proportion to chunks x distinct values.
    """
    chunks = list(encoded.chunks)
    if chunks and any(len(c.dictionary) != len(chunks[-1].dictionary) for c in chunks):
        chunks = list(encoded.unify_dictionaries().chunks)
    return chunks


def find_duplicates(text: pa.ChunkedArray, split_codes: np.ndarray, limit: int) -> Duplicates:
    """Duplicate groups and cross-split groups, the biggest first (ties: earliest first)."""
    codes, distinct = text_codes(text)
    n = len(codes)
    counts = np.bincount(codes, minlength=distinct)
    # Rows grouped by text, each group in row order.
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])

    repeated = np.flatnonzero(counts > 1)
    in_split = split_codes < 3
    pairs = np.unique(codes[in_split] * 4 + split_codes[in_split])
    splits_per_text = np.bincount(pairs // 4, minlength=distinct)
    crossing = np.flatnonzero(splits_per_text > 1)

    def biggest(candidates: np.ndarray) -> np.ndarray:
        ranked = candidates[np.lexsort((candidates, -counts[candidates]))]
        return ranked[:limit]

    def group(code: int) -> DuplicateGroup:
        rows = order[starts[code] : starts[code + 1]]
        present = np.unique(split_codes[rows])
        first = pc.utf8_slice_codeunits(take_sorted(text, rows[:1]), 0, SHOWN_CHARS)
        return DuplicateGroup(
            text=first[0].as_py(),
            count=int(counts[code]),
            splits=[SPLIT_NAMES[s] for s in present.tolist() if s < 3],
            indices=[int(i) for i in rows[:SHOWN_INDICES]],
        )

    return Duplicates(
        duplicate_rows=n - distinct,
        duplicate_groups=[group(int(c)) for c in biggest(repeated)],
        cross_split_texts=len(crossing),
        cross_split_groups=[group(int(c)) for c in biggest(crossing)],
    )
