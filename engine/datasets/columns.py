"""A stored dataset's columns and what is derived from them once: label codes, split codes, text
lengths, counts.

The split column is the one that changes (a dataset is split again): replace_split swaps it and
drops the codes derived from it, under the same lock that guards the caches, and bumps
`generation` so that anything cached from the old split (a filter's matches) is never served.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.datasets.arrays import word_counts
from engine.datasets.writer import SPLITS

SPLIT_ORDER = (*SPLITS, "")  # split code 3 is "" (no split)


class DatasetColumns:
    """text, label and split columns with their cached codes; safe to share between threads."""

    def __init__(self, table: pa.Table, split: pa.ChunkedArray) -> None:
        self.text: pa.ChunkedArray = table.column("text")
        self.label: pa.ChunkedArray = table.column("label")
        self.split: pa.ChunkedArray = split
        self.lock = threading.RLock()  # guards the caches here and those built on them
        self.generation = 0  # bumped by replace_split
        self._label_names: list[str] | None = None
        self._label_codes: np.ndarray | None = None
        self._split_codes: np.ndarray | None = None
        self._char_len: np.ndarray | None = None
        self._word_len: np.ndarray | None = None

    def label_names(self) -> list[str]:
        """Distinct labels, most frequent first."""
        self.label_codes()
        assert self._label_names is not None
        return self._label_names

    def label_codes(self) -> np.ndarray:
        """Label code per row (index into label_names), -1 where there is no label."""
        with self.lock:
            if self._label_codes is None:
                counts = pc.value_counts(self.label.drop_null())
                pairs = zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                )
                names = [v for v, _ in sorted(pairs, key=lambda p: (-p[1], p[0]))]
                codes = pc.index_in(self.label, value_set=pa.array(names, pa.string()))
                self._label_names = names
                self._label_codes = codes.fill_null(-1).to_numpy().astype(np.int32)
            return self._label_codes

    def split_codes(self) -> np.ndarray:
        """Split code per row: 0 train, 1 validation, 2 test, 3 none."""
        with self.lock:
            if self._split_codes is None:
                codes = pc.index_in(self.split, value_set=pa.array(SPLIT_ORDER))
                self._split_codes = codes.fill_null(3).to_numpy().astype(np.int8)
            return self._split_codes

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """(characters, words) per row."""
        with self.lock:
            if self._char_len is None or self._word_len is None:
                self._char_len = pc.utf8_length(self.text).to_numpy().astype(np.int64)
                self._word_len = word_counts(self.text)
            return self._char_len, self._word_len

    def label_counts(self, select: np.ndarray | None = None) -> dict[str, int]:
        """Rows per label (of the selected rows: a mask or indices), labels with none left out."""
        codes = self.label_codes() if select is None else self.label_codes()[select]
        names = self.label_names()
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        return {name: int(c) for name, c in zip(names, counts, strict=True) if c}

    def split_counts(self) -> dict[str, int]:
        """Rows per split, splits with none (and unassigned rows) left out."""
        counts = np.bincount(self.split_codes(), minlength=4)
        return {name: int(counts[i]) for i, name in enumerate(SPLITS) if counts[i]}

    def replace_split(self, split: pa.ChunkedArray) -> None:
        """Use split as the split column from now on (call it holding self.lock when caches
        built on the old one must go at the same moment)."""
        with self.lock:
            self.split = split
            self._split_codes = None
            self.generation += 1
