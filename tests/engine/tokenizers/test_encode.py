"""Encoding texts: known answers from the real MiniLM tokenizer, padding and truncation grids,
views cut short, odd characters and a 1 MB paste."""

from __future__ import annotations

import time
from array import array

import pytest
from tokenizers import Tokenizer

from engine.core.errors import EngineError, NullContext
from engine.protocol import PackedTokens, Tokenize, TokenizerTrain
from engine.tokenizers.build import train_tokenizer
from engine.tokenizers.encode import MAX_CHARS, encode
from engine.tokenizers.sources import BUILTINS, load_builtin
from engine.tokenizers.specials import unk_id

PAD, CLS, SEP, UNK = 0, 101, 102, 100


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    return load_builtin(BUILTINS["minilm-wordpiece"])


def run(tok: Tokenizer, texts: list[str], **kw: object) -> list:
    result = encode(tok, Tokenize(tokenizer="t", texts=texts, **kw), unk_id(tok))  # type: ignore[arg-type]
    assert result.chars == sum(min(len(t), MAX_CHARS) for t in texts)
    return result.encodings


def test_minilm_known_answer(minilm: Tokenizer):
    [view] = run(minilm, ["I love my dog"])
    assert view.ids == [101, 1045, 2293, 2026, 3899, 102]
    assert view.tokens == ["[CLS]", "i", "love", "my", "dog", "[SEP]"]
    assert view.offsets == [(0, 0), (0, 1), (2, 6), (7, 9), (10, 13), (0, 0)]
    assert view.special == [True, False, False, False, False, True]
    assert view.attention_mask == [1] * 6 and view.type_ids == [0] * 6
    assert view.n_tokens == 6 and not view.truncated and view.overflow == 0


def test_loaded_minilm_neither_pads_nor_truncates(minilm: Tokenizer):
    assert minilm.padding is None and minilm.truncation is None
    [view] = run(minilm, ["word " * 300])
    assert view.n_tokens == 302


def test_offsets_map_tokens_back_to_their_characters(minilm: Tokenizer):
    text = "Un-believable 😀 film\x07, re-watched\x00 twice!"
    [view] = run(minilm, [text])
    for token, (start, end), special in zip(view.tokens, view.offsets, view.special, strict=True):
        if special:
            assert (start, end) == (0, 0)
        elif token == "[UNK]":
            assert text[start:end] == "😀"
        else:
            assert text[start:end].lower() == token.removeprefix("##")
    assert view.unknown == [t == "[UNK]" for t in view.tokens]


def test_empty_text_gives_the_specials_only(minilm: Tokenizer):
    [with_specials] = run(minilm, [""])
    assert with_specials.ids == [CLS, SEP]
    [bare] = run(minilm, [""], add_special_tokens=False)
    assert bare.ids == [] and bare.n_tokens == 0 and bare.tokens == []


def test_without_special_tokens(minilm: Tokenizer):
    [view] = run(minilm, ["I love my dog"], add_special_tokens=False)
    assert view.ids == [1045, 2293, 2026, 3899]
    assert not any(view.special)


TEXTS = ["I love my dog", "a dog", "the quick brown fox jumps over the lazy dog again"]
FULL = [6, 4, 12]  # tokens of each with [CLS] and [SEP]


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("padding", ["none", "longest", "max_length"])
@pytest.mark.parametrize("truncation", [False, True])
def test_padding_and_truncation_grid(minilm: Tokenizer, side: str, padding: str, truncation: bool):
    max_length = 8
    views = run(
        minilm,
        TEXTS,
        padding=padding,
        truncation=truncation,
        max_length=max_length,
        padding_side=side,
    )
    kept = [min(n, max_length) if truncation else n for n in FULL]
    if padding == "none":
        target = kept
    elif padding == "longest":
        target = [max(kept)] * 3
    else:
        target = [max(max_length, k) for k in kept]  # padding never shortens
    for view, real, width, full in zip(views, kept, target, FULL, strict=True):
        assert view.n_tokens == width == len(view.ids) == len(view.tokens)
        pads = width - real
        mask = [1] * real
        mask = [0] * pads + mask if side == "left" else mask + [0] * pads
        assert view.attention_mask == mask
        content = [i for i, m in zip(view.ids, mask, strict=True) if m]
        assert content[0] == CLS and content[-1] == SEP
        assert [i for i, m in zip(view.ids, mask, strict=True) if not m] == [PAD] * pads
        assert all(s for s, m in zip(view.special, mask, strict=True) if not m)
        assert view.type_ids == [0] * width
        assert view.overflow == full - real
        assert view.truncated == (full > real)


def test_truncation_keeps_the_first_tokens(minilm: Tokenizer):
    [full] = run(minilm, [TEXTS[2]])
    [cut] = run(minilm, [TEXTS[2]], truncation=True, max_length=5)
    assert cut.ids == full.ids[:4] + [SEP]
    assert cut.offsets[:4] == full.offsets[:4]
    assert cut.overflow == 7 and cut.truncated


def test_strategies_show_what_a_run_reads(minilm: Tokenizer):
    """tail, head+tail and windows read the positions a run with that [data] truncation
    reads (engine.models.truncation): specials kept, windows one view each."""
    from engine.models.truncation import Truncation

    text = "one two three four five six seven eight nine ten eleven twelve"
    [full] = run(minilm, [text])
    body = full.ids[1:-1]
    [tail] = run(minilm, [text], truncation=True, strategy="tail", max_length=6)
    assert tail.ids == [full.ids[0], *body[-4:], full.ids[-1]] and tail.truncated
    assert tail.overflow == len(body) - 4
    [both] = run(minilm, [text], truncation=True, strategy="head+tail", head_tokens=1, max_length=6)
    assert both.ids == [full.ids[0], body[0], *body[-3:], full.ids[-1]]
    views = run(minilm, [text, "short one"], truncation=True, strategy="windows", max_length=6)
    windows = [v for v in views if v.line == 0]
    assert len(windows) == windows[0].windows > 1 and [v.window for v in windows] == list(
        range(len(windows))
    )
    picked = Truncation(how="windows").pick([int(x) for x in full.special], 6)
    assert [v.ids for v in windows] == [[full.ids[p] for p in w] for w in picked]
    assert not windows[0].truncated  # every token is in some window
    short = [v for v in views if v.line == 1]
    assert len(short) == 1 and short[0].windows == 1 and not short[0].truncated


def test_bad_settings_are_refused(minilm: Tokenizer):
    with pytest.raises(EngineError, match="leaves no room"):
        run(minilm, ["x"], truncation=True, max_length=2)
    run(minilm, ["x"], truncation=True, max_length=2, add_special_tokens=False)
    with pytest.raises(EngineError, match="max tokens"):
        run(minilm, ["x"], max_tokens=-1)


def test_no_padding_token_is_said_plainly():
    tok = train_tokenizer(
        TokenizerTrain(name="w", kind="word", dataset="d", specials=["<UNK>"]),
        ["a b c"],
        NullContext(),
    )
    with pytest.raises(EngineError, match="has no padding token") as err:
        run(tok, ["a b"], padding="longest")
    assert "<PAD>" in err.value.hint
    [view] = run(tok, ["a z"])
    assert view.tokens == ["a", "<UNK>"] and view.unknown == [False, True]


def test_views_are_cut_to_max_tokens(minilm: Tokenizer):
    [view] = run(minilm, ["dog " * 100], max_tokens=10)
    assert len(view.ids) == len(view.tokens) == len(view.offsets) == len(view.special) == 10
    assert len(view.attention_mask) == len(view.unknown) == len(view.type_ids) == 10
    assert view.n_tokens == 102 and not view.truncated
    [everything] = run(minilm, ["dog " * 100], max_tokens=0)
    assert len(everything.ids) == 102


def unpack(packed: PackedTokens) -> tuple[list[list[int]], list[list[int]]]:
    """Per-text ids and attention masks out of a packed bulk result."""
    flat = array("i")
    flat.frombytes(packed.ids)
    mask = packed.attention_mask or b"\x01" * len(flat)
    ids, masks, at = [], [], 0
    for n in packed.lengths:
        ids.append(list(flat[at : at + n]))
        masks.append(list(mask[at : at + n]))
        at += n
    assert at == len(flat)
    return ids, masks


def bulk(tok: Tokenizer, texts: list[str], **kw: object) -> PackedTokens:
    result = encode(tok, Tokenize(tokenizer="t", texts=texts, detail=False, **kw), unk_id(tok))  # type: ignore[arg-type]
    assert result.encodings == [] and result.packed is not None
    return result.packed


def test_detail_off_packs_ids_and_masks(minilm: Tokenizer):
    for side in ("right", "left"):
        detailed = run(minilm, TEXTS, padding="longest", padding_side=side)
        ids, masks = unpack(bulk(minilm, TEXTS, padding="longest", padding_side=side))
        assert ids == [d.ids for d in detailed]
        assert masks == [d.attention_mask for d in detailed]
    plain_ids, plain_masks = unpack(bulk(minilm, TEXTS))
    assert plain_ids == [d.ids for d in run(minilm, TEXTS)]
    assert all(set(m) == {1} for m in plain_masks if m)
    cut = bulk(minilm, ["dog " * 50, "cat"], truncation=True, max_length=8)
    assert cut.lengths == [8, 3] and cut.truncated == [0]


def test_bulk_ids_equal_encode_batch_on_many_texts(minilm: Tokenizer):
    texts = [f"review {i}: " + "good " * (i % 17) + "😀" * (i % 3) for i in range(500)]
    expected = [e.ids for e in minilm.encode_batch(texts)]
    assert unpack(bulk(minilm, texts))[0] == expected


def test_control_characters_and_emoji(minilm: Tokenizer):
    text = "\x00\x01\x1b[31m red\x1b[0m 👩\u200d👧 ok\u200b\ufeff\x7f"
    [view] = run(minilm, [text])
    assert view.tokens == [
        "[CLS]",
        "[",
        "31",
        "##m",
        "red",
        "[",
        "0",
        "##m",
        "[UNK]",
        "ok",
        "[SEP]",
    ]
    for (start, end), token in zip(view.offsets[1:-1], view.tokens[1:-1], strict=True):
        if token == "[UNK]":  # the whole family emoji, joiner included
            assert text[start:end] == "👩\u200d👧"
        else:
            assert text[start:end] == token.removeprefix("##")


def test_a_megabyte_paste_is_fast(minilm: Tokenizer):
    text = ("A truly remarkable, heart-warming film 😀 about dogs. " * 20_000)[:1_000_000]
    started = time.perf_counter()
    [view] = run(minilm, [text], padding="longest", truncation=True, max_length=512)
    [whole] = run(minilm, [text])
    elapsed = time.perf_counter() - started
    assert elapsed < 0.6, elapsed
    assert view.n_tokens == 512 and view.truncated and view.overflow > 30_000
    assert whole.truncated and whole.overflow == 0  # cut at MAX_CHARS, not by truncation
    assert len(whole.ids) == 4096 and whole.n_tokens > 30_000
    assert max(e for _, e in whole.offsets) <= MAX_CHARS
