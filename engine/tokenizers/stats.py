"""What a tokenizer makes of a whole dataset: lengths, unknown tokens, coverage, padding.

Encoding is the slow part and depends only on (tokenizer, texts): count_tokens does it once
and summarise answers any batch size, max length or histogram from the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from engine.core.batching import padding_cost
from engine.core.errors import EngineError
from engine.core.histogram import histogram
from engine.core.limits import within
from engine.protocol import TokenCount, TokenizerStats, TokenStatsResult
from engine.tokenizers.specials import special_tokens

CHUNK = 4096  # texts encoded at a time: bounds the Encoding objects alive at once

MAX_BINS = 1000  # histogram bins
MAX_TOP = 10_000  # most frequent tokens listed


@dataclass(frozen=True)
class TokenTally:
    """Token counts of one dataset under one tokenizer, specials included, untruncated."""

    lengths: np.ndarray  # tokens per text
    id_counts: np.ndarray  # occurrences per token id (length: vocabulary size)
    vocab_size: int
    unk_id: int | None

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def unknown(self) -> int:
        if self.unk_id is None or self.unk_id >= len(self.id_counts):
            return 0
        return int(self.id_counts[self.unk_id])


def count_tokens(tok: Tokenizer, texts: list[str], unk_id: int | None) -> TokenTally:
    """Encode every text once (with its specials, no padding or truncation) and count."""
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    lengths = np.zeros(len(texts), dtype=np.int64)
    counts = np.zeros(vocab_size, dtype=np.int64)
    for start in range(0, len(texts), CHUNK):
        encodings = tok.encode_batch_fast(texts[start : start + CHUNK])
        ids = [e.ids for e in encodings]
        sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        lengths[start : start + len(ids)] = sizes
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(sizes.sum()))
        found = np.bincount(flat, minlength=vocab_size)
        if len(found) > len(counts):  # ids beyond the reported size: grow rather than fail
            counts = np.concatenate([counts, np.zeros(len(found) - len(counts), np.int64)])
        counts[: len(found)] += found
    return TokenTally(lengths=lengths, id_counts=counts, vocab_size=vocab_size, unk_id=unk_id)


def _top_tokens(tok: Tokenizer, counts: np.ndarray, top: int) -> list[TokenCount]:
    counts = counts.copy()
    specials = [i for i in special_tokens(tok) if i < len(counts)]
    counts[specials] = 0
    seen = int(np.count_nonzero(counts))
    k = min(top, seen) if top > 0 else seen
    if k == 0:
        return []
    picked = np.argpartition(-counts, k - 1)[:k]
    picked = picked[np.lexsort((picked, -counts[picked]))]  # count desc, then id
    return [
        TokenCount(token=tok.id_to_token(int(i)) or "", id=int(i), count=int(counts[i]))
        for i in picked
    ]


def check_request(req: TokenizerStats) -> None:
    """Raise EngineError for settings that cannot give stats."""
    if req.batch_size < 1:
        raise EngineError(f"batch size must be at least 1 (it is {req.batch_size})", hint="use 32")
    if req.max_length < 1:
        raise EngineError(f"max length must be at least 1 (it is {req.max_length})", hint="use 512")
    if req.bins < 1:
        raise EngineError(f"bins must be at least 1 (it is {req.bins})", hint="use 30")
    if req.top < 0:
        raise EngineError(f"top must be 0 or more (it is {req.top})", hint="use 30")
    within("bins", req.bins, 1, MAX_BINS)
    within("top", req.top, 0, MAX_TOP)
    within("batch size", req.batch_size, 1, 1_000_000)
    within("max length", req.max_length, 1, 10_000_000)


def summarise(tally: TokenTally, tok: Tokenizer, req: TokenizerStats) -> TokenStatsResult:
    """The stats of req (batch size, max length, bins, top) from counts already taken."""
    check_request(req)
    lengths = tally.lengths
    tokens = tally.tokens
    vocab = max(tally.vocab_size, 1)
    return TokenStatsResult(
        tokenizer=req.tokenizer,
        dataset=req.dataset,
        split=req.split,
        rows=len(lengths),
        tokens=tokens,
        lengths=histogram(lengths, req.bins, "tokens"),
        unknown_rate=tally.unknown / tokens if tokens else 0.0,
        vocab_coverage=float(np.count_nonzero(tally.id_counts[:vocab])) / vocab,
        top_tokens=_top_tokens(tok, tally.id_counts, req.top),
        padding=padding_cost(lengths, req.batch_size, req.max_length, req.seed),
        truncated_share=float((lengths > req.max_length).mean()) if len(lengths) else 0.0,
        batch_size=req.batch_size,
        max_length=req.max_length,
    )


def dataset_stats(
    tok: Tokenizer, texts: list[str], req: TokenizerStats, unk_id: int | None
) -> TokenStatsResult:
    """What tok makes of texts: lengths, unknown rate, coverage, top tokens, padding costs."""
    check_request(req)
    if not texts:
        where = f"dataset '{req.dataset}'" + (f" split '{req.split}'" if req.split else "")
        raise EngineError(f"{where} has no texts", hint="choose another split", code="empty")
    return summarise(count_tokens(tok, texts, unk_id), tok, req)
