"""Encoding texts as a model sees them: tokens, ids, spans, masks, padding and truncation.

The shared tokenizer is never reconfigured (enable_padding/enable_truncation would race between
threads): truncation and padding are applied to each request's own Encoding objects.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass
from itertools import chain
from typing import Any

from tokenizers import Encoding, Tokenizer

from engine.core.errors import EngineError
from engine.core.limits import product, within
from engine.core.reading import pick_positions
from engine.protocol import PackedTokens, Tokenize, TokenizeResult, TokenView
from engine.tokenizers.specials import pad_token

MAX_CHARS = 200_000  # a text is encoded up to here: a 1 MB paste stays responsive
MAX_TEXTS = 100_000  # texts in one request
MAX_LENGTH = 1_000_000  # tokens a text is padded or truncated to
MAX_SHOWN = 2_000_000  # token views in one answer (each carries its text, offsets, flags)
MAX_PADDED = 50_000_000  # positions of a padded bulk encoding


def check_request(req: Tokenize, tok: Tokenizer) -> tuple[str, int] | None:
    """Raise EngineError for settings that cannot work; the padding token when padding."""
    if req.max_tokens < 0:
        raise EngineError(
            f"max tokens must be 0 (all) or more (it is {req.max_tokens})", hint="use 4096"
        )
    within("texts", len(req.texts), 0, MAX_TEXTS, hint="send them in smaller batches")
    within("max length", req.max_length, 1, MAX_LENGTH)
    if req.detail:  # one token view per token: bounded in all
        shown = req.max_tokens or MAX_CHARS
        product("tokens shown", {"texts": len(req.texts), "max_tokens": shown}, MAX_SHOWN,
                hint="lower max_tokens, send fewer texts, or use bulk encoding (detail off)")  # fmt: skip
    if req.padding == "max_length":
        product("padded positions", {"texts": len(req.texts), "max_length": req.max_length},
                MAX_PADDED, hint="pad to the longest text, or send fewer texts")  # fmt: skip
    if (req.truncation or req.padding == "max_length") and req.max_length < 1:
        raise EngineError(f"max length must be at least 1 (it is {req.max_length})", hint="use 128")
    n_special = tok.num_special_tokens_to_add(False) if req.add_special_tokens else 0
    if req.truncation and req.max_length <= n_special:
        raise EngineError(
            f"max length {req.max_length} leaves no room for text beside the "
            f"{n_special} special tokens",
            hint=f"use a max length above {n_special}",
        )
    if req.padding == "none":
        return None
    pad = pad_token(tok)
    if pad is None:
        raise EngineError(
            f"tokenizer '{req.tokenizer}' has no padding token (<PAD>, [PAD] or <pad>)",
            hint="use padding none, or train a tokenizer with <PAD> among its specials",
        )
    return pad


def _truncated(
    tok: Tokenizer, encodings: list[Encoding], req: Tokenize
) -> tuple[list[Encoding], list[int]]:
    """Cut each text's own tokens so the whole encoding fits max_length; tokens dropped each."""
    n_special = tok.num_special_tokens_to_add(False) if req.add_special_tokens else 0
    keep = req.max_length - n_special
    out: list[Encoding] = []
    dropped: list[int] = []
    for enc in encodings:
        before = len(enc)
        if before > keep:
            enc.truncate(keep)
        dropped.append(before - len(enc))
        out.append(tok.post_process(enc) if req.add_special_tokens else enc)
    return out, dropped


@dataclass
class _Cut:
    """The positions of an encoding a strategy reads, with the Encoding fields _view reads."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    type_ids: list[int]
    special_tokens_mask: list[int]
    line: int
    window: int
    windows: int

    def __len__(self) -> int:
        return len(self.ids)


def _by_strategy(encodings: list[Encoding], req: Tokenize) -> tuple[list[Any], list[int]]:
    """Each whole encoding cut as req.strategy reads it: one view per text (tail, head+tail),
    or one per window; and for each view the tokens of its text that no view holds."""
    out: list[Any] = []
    dropped: list[int] = []
    for line, enc in enumerate(encodings):
        mask = list(enc.special_tokens_mask)
        picked = pick_positions(req.strategy, req.head_tokens, req.stride, mask, req.max_length)
        read = set().union(*picked)
        for window, positions in enumerate(picked):
            out.append(
                _Cut(
                    ids=[enc.ids[p] for p in positions],
                    tokens=[enc.tokens[p] for p in positions],
                    offsets=[enc.offsets[p] for p in positions],
                    type_ids=[enc.type_ids[p] for p in positions],
                    special_tokens_mask=[mask[p] for p in positions],
                    line=line,
                    window=window,
                    windows=len(picked),
                )
            )
            dropped.append(len(mask) - len(read))
    return out, dropped


def _padded(values: list[Any], extra: int, fill: object, left: bool) -> list[Any]:
    if not extra:
        return values
    padding = [fill] * extra
    return padding + values if left else values + padding


def _view(
    enc: Encoding,
    req: Tokenize,
    unk_id: int | None,
    pad: tuple[str, int] | None,
    width: int,
    zero_types: bool,
    dropped: int,
    clipped: int,
) -> TokenView:
    """One encoding as the protocol shows it, padded to width (when padding) and cut to
    req.max_tokens. Masks are built here rather than read back: bulk encoding stays fast."""
    ids = enc.ids
    real = len(ids)
    extra = max(0, width - real) if pad is not None else 0
    n = real + extra
    left = req.padding_side == "left"
    token, pad_id = pad if pad is not None else ("", 0)
    columns: dict[str, list[Any]] = {
        "ids": _padded(ids, extra, pad_id, left),
        "attention_mask": _padded([1] * real, extra, 0, left),
        "type_ids": _padded([0] * real if zero_types else enc.type_ids, extra, 0, left),
    }
    special = [m == 1 for m in enc.special_tokens_mask]
    if unk_id is None:
        unknown = [False] * real
    else:
        unknown = [i == unk_id and not s for i, s in zip(ids, special, strict=True)]
    columns["tokens"] = _padded(enc.tokens, extra, token, left)
    columns["offsets"] = _padded(enc.offsets, extra, (0, 0), left)
    columns["special"] = _padded(special, extra, True, left)
    columns["unknown"] = _padded(unknown, extra, False, left)
    if req.max_tokens and n > req.max_tokens:
        columns = {k: v[: req.max_tokens] for k, v in columns.items()}
    return TokenView(
        **columns,
        line=getattr(enc, "line", 0),
        window=getattr(enc, "window", 0),
        windows=getattr(enc, "windows", 1),
        n_tokens=n,
        truncated=dropped > 0 or clipped > 0,
        overflow=dropped,
        clipped_chars=clipped,
    )


def _packed(
    encodings: list[Encoding],
    dropped: list[int],
    pad: tuple[str, int] | None,
    width: int,
    left: bool,
) -> PackedTokens:
    """All ids in one int32 buffer: no per-text objects on either side of the socket."""
    truncated = [i for i, d in enumerate(dropped) if d]
    if pad is None:
        id_lists = [enc.ids for enc in encodings]
        ids = array("i", chain.from_iterable(id_lists))
        lengths = list(map(len, id_lists))
        return PackedTokens(ids=ids.tobytes(), lengths=lengths, truncated=truncated)
    pad_id = pad[1]
    ids = array("i")
    mask = bytearray()
    for enc in encodings:
        row = enc.ids
        extra = max(0, width - len(row))
        fill = [pad_id] * extra
        ids.extend(fill + row if left else row + fill)
        ones, zeros = b"\x01" * len(row), b"\x00" * extra
        mask += zeros + ones if left else ones + zeros
    lengths = [max(width, len(enc)) for enc in encodings]
    return PackedTokens(
        ids=ids.tobytes(), lengths=lengths, attention_mask=bytes(mask), truncated=truncated
    )


def _zero_types(tok: Tokenizer, add_special_tokens: bool) -> bool:
    """Whether single texts get type id 0 throughout (true unless a template says $A:1)."""
    return not any(tok.encode("a b", add_special_tokens=add_special_tokens).type_ids)


def encode(tok: Tokenizer, req: Tokenize, unk_id: int | None) -> TokenizeResult:
    """Each of req.texts as tok encodes it, with req's specials, truncation and padding.

    A view lists at most req.max_tokens tokens (0: all) while n_tokens counts them all; a text
    over MAX_CHARS characters is encoded up to there and marked truncated. Offsets index the
    original Python string in characters; added tokens have (0, 0). detail=False packs every
    text's ids (and the attention mask when padding) into TokenizeResult.packed instead.
    """
    pad = check_request(req, tok)
    started = time.perf_counter()
    texts = [t if len(t) <= MAX_CHARS else t[:MAX_CHARS] for t in req.texts]
    batch = tok.encode_batch if req.detail else tok.encode_batch_fast
    if req.truncation and req.strategy != "head":
        whole = batch(texts, add_special_tokens=req.add_special_tokens)
        encodings, dropped = _by_strategy(whole, req)
    elif req.truncation:
        encodings, dropped = _truncated(tok, batch(texts, add_special_tokens=False), req)
    else:
        encodings = batch(texts, add_special_tokens=req.add_special_tokens)
        dropped = [0] * len(texts)
    if pad is None:
        width = 0
    elif req.padding == "max_length":
        width = req.max_length
    else:
        width = max(map(len, encodings), default=0)
    if not req.detail:
        return TokenizeResult(
            tokenizer=req.tokenizer,
            encodings=[],
            chars=sum(map(len, texts)),
            seconds=time.perf_counter() - started,
            packed=_packed(encodings, dropped, pad, width, req.padding_side == "left"),
        )
    zero_types = _zero_types(tok, req.add_special_tokens)
    lines = [getattr(enc, "line", i) for i, enc in enumerate(encodings)]
    views = [
        _view(enc, req, unk_id, pad, width, zero_types, drop, max(0, len(req.texts[n]) - MAX_CHARS))
        for enc, drop, n in zip(encodings, dropped, lines, strict=True)
    ]
    return TokenizeResult(
        tokenizer=req.tokenizer,
        encodings=views,
        chars=sum(map(len, texts)),
        seconds=time.perf_counter() - started,
    )
