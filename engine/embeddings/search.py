"""Exact cosine top-k over a table of unit vectors, with torch.

The table is searched as its transpose, (dim, rows) in C order: one query is then a
vector-matrix product that streams each dimension's row of scores-to-be, 25% faster on CPU than
the row-major matrix-vector product (measured: 2.8 vs 3.6 ms on GloVe 400k x 50, one core, at
memory bandwidth). Tables saved by engine.embeddings.static are Fortran-ordered on disk, so the
transpose is free. Many queries walk the table in column blocks whose scores stay in cache.
Either way the top-k first keeps the best 64-score blocks, then picks inside them (see
`top_k`): a full top-k over 400,000 scores costs more than a block search. On CUDA the table
moves to the GPU once; it stays float32 (80 MB is nothing there, and scores stay exact).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import torch

BLOCK = 64  # scores per block in the two-stage top-k
TABLE_ROWS = 16384  # table rows per step of a batched CPU search: 64 x 16384 scores = 4 MB
QUERY_GROUP = 64  # queries per batched product on CPU
GPU_QUERY_GROUP = 1024  # on CUDA a whole (1024, vocab) score matrix is cheap


def default_device() -> torch.device:
    """CUDA when present, else the CPU (MPS top-k is slow and gains nothing at this size)."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest scores of each row and their columns, best first.

    Exact: a block holding one of a row's k best scores has a maximum among the k best block
    maxima (otherwise k other blocks would each hold a larger score), so the top-k of those k
    blocks is the top-k of the row.
    """
    rows, n = scores.shape
    if k * BLOCK * 4 > n:  # few blocks to skip: a plain top-k is as fast
        values, cols = torch.topk(scores, k, dim=1)
        return values, cols
    whole = n // BLOCK * BLOCK
    maxima = scores[:, :whole].view(rows, whole // BLOCK, BLOCK).amax(dim=2)
    if whole < n:
        maxima = torch.cat([maxima, scores[:, whole:].amax(dim=1, keepdim=True)], dim=1)
    blocks = torch.topk(maxima, k, dim=1).indices
    offsets = torch.arange(BLOCK, device=scores.device)
    cols = (blocks[:, :, None] * BLOCK + offsets).reshape(rows, k * BLOCK)
    inside = cols < n  # the last block may be short
    cols = cols.clamp_max(n - 1)
    candidates = torch.gather(scores, 1, cols).masked_fill(~inside, float("-inf"))
    values, picked = torch.topk(candidates, k, dim=1)
    return values, torch.gather(cols, 1, picked)


class CosineIndex:
    """Searches a (rows, dim) float32 table of unit vectors by cosine; safe to share.

    A Fortran-ordered table is used in place (memory-mapped ones too); a C-ordered one is
    copied once into the transposed layout."""

    def __init__(self, unit: np.ndarray, device: torch.device | None = None) -> None:
        if unit.ndim != 2 or unit.dtype != np.float32:
            raise ValueError("the table must be a 2-D float32 array of unit vectors")
        self.device = device or default_device()
        columns = torch.from_numpy(np.ascontiguousarray(unit.T))  # (dim, rows)
        self.columns = columns.to(self.device) if self.device.type != "cpu" else columns
        self.rows, self.dim = unit.shape

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(queries), k), best first. Queries need not be unit length;
        a zero query scores 0 everywhere. 1 <= k <= rows."""
        if not 1 <= k <= self.rows:
            raise ValueError(f"k must be between 1 and {self.rows}")
        q = torch.as_tensor(np.asarray(queries, dtype=np.float32)).reshape(-1, self.dim)
        q = torch.nn.functional.normalize(q, dim=1).to(self.device)
        with torch.inference_mode():
            if self.device.type == "cpu":
                values, cols = self._search_cpu(q, k)
            else:
                values, cols = self._search_whole(q, k)
        return values.cpu().numpy(), cols.cpu().numpy()

    def _search_whole(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """All rows at once per group of queries (the GPU path: bandwidth to spare)."""
        parts = [
            top_k(q[i : i + GPU_QUERY_GROUP] @ self.columns, k)
            for i in range(0, len(q), GPU_QUERY_GROUP)
        ]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _search_cpu(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if len(q) == 1:  # vector-matrix: one pass over the table, at memory bandwidth
            return top_k(torch.mm(q, self.columns), k)
        values, cols = [], []
        for i in range(0, len(q), QUERY_GROUP):
            v, c = self._search_blocks(q[i : i + QUERY_GROUP], k)
            values.append(v)
            cols.append(c)
        return torch.cat(values), torch.cat(cols)

    def _search_blocks(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Block of table rows by block, so the scores of the block stay in cache."""
        values, cols = [], []
        for start in range(0, self.rows, TABLE_ROWS):
            block = self.columns[:, start : start + TABLE_ROWS]
            v, c = top_k(q @ block, min(k, block.shape[1]))
            values.append(v)
            cols.append(c + start)
        if len(values) == 1:
            return values[0], cols[0]
        merged_values, picked = torch.topk(torch.cat(values, dim=1), k, dim=1)
        return merged_values, torch.gather(torch.cat(cols, dim=1), 1, picked)

    def nearest(
        self,
        queries: np.ndarray,
        k: int,
        exclude: Sequence[Collection[int]] | None = None,
    ) -> list[list[tuple[int, float]]]:
        """The k nearest rows of each query as (row, cosine), best first, leaving out the rows
        in exclude[i] for query i. Fewer than k come back only when the table is that small."""
        extra = max((len(e) for e in exclude), default=0) if exclude else 0
        want = min(k + extra, self.rows)
        scores, rows = self.search(queries, want)
        out: list[list[tuple[int, float]]] = []
        for i in range(len(rows)):
            skip = exclude[i] if exclude else ()
            hits = [
                (r, s)
                for r, s in zip(rows[i].tolist(), scores[i].tolist(), strict=True)
                if r not in skip
            ]
            out.append(hits[:k])
        return out
