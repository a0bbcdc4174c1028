"""Column helpers for the stored form: taking rows from chunked columns, counting words."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def take_sorted(column: pa.ChunkedArray, indices: np.ndarray) -> pa.Array:
    """Rows at ascending indices of a chunked column, touching only the chunks they lie in."""
    if len(indices) == 0:
        return pa.array([], column.type)
    if column.num_chunks == 1:
        return column.chunk(0).take(pa.array(indices))
    bounds = np.cumsum([0] + [len(c) for c in column.chunks])
    chunk_of = np.searchsorted(bounds, indices, side="right") - 1
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    pieces = []
    for part in np.split(np.arange(len(indices)), cuts):
        cid = int(chunk_of[part[0]])
        pieces.append(column.chunk(cid).take(pa.array(indices[part] - bounds[cid])))
    return pa.concat_arrays(pieces)


def word_counts(text: pa.ChunkedArray) -> np.ndarray:
    """Words per text as str.split() counts them: runs of non-whitespace."""
    out = []
    for chunk in text.chunks:
        parts = pc.utf8_split_whitespace(chunk)
        nonempty = pc.not_equal(parts.flatten(), "").to_numpy(zero_copy_only=False)
        running = np.concatenate([[0], np.cumsum(nonempty, dtype=np.int64)])
        offsets = parts.offsets.to_numpy()
        out.append(running[offsets[1:]] - running[offsets[:-1]])
    return np.concatenate(out) if out else np.zeros(0, np.int64)
