"""Training tokenizers: word/char/subword kinds on real Rotten Tomatoes texts, templates,
progress, cancellation and bad requests."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from engine.core.errors import Cancelled, EngineError, NullContext
from engine.protocol import TokenizerTrain
from engine.tokenizers.build import train_tokenizer
from engine.tokenizers.specials import unk_id
from tests.helpers.jobs import CheckCounter
from tests.helpers.tokenizers import split_texts

SUBWORD = ("bpe", "wordpiece", "unigram")
ODD = "Naïve café 😀 costs\x00 10€\x07 — “quoted”\ttab\nline  end!"


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    home = tmp_path_factory.mktemp("rt-home")
    return {s: split_texts(home, s) for s in ("train", "validation")}


def req(kind: str, **kw: object) -> TokenizerTrain:
    fields: dict[str, object] = {"name": f"t-{kind}", "kind": kind, "dataset": "rt"}
    fields.update(kw)
    return TokenizerTrain(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(rt: dict[str, list[str]]) -> dict[str, Tokenizer]:
    """One tokenizer of each kind: word-level kinds on the whole train split, subword kinds
    on its first 2,000 texts (enough to learn, fast to train)."""
    out = {}
    for kind in ("word", "regex-word", "char"):
        out[kind] = train_tokenizer(req(kind), rt["train"], NullContext())
    out["char-cased"] = train_tokenizer(req("char", lowercase=False), rt["train"], NullContext())
    for kind in SUBWORD:
        out[kind] = train_tokenizer(req(kind, vocab_size=3000), rt["train"][:2000], NullContext())
    return out


# ----------------------------------------------------------------- word-level kinds


def test_word_tokenizer_is_lower_split(trained: dict[str, Tokenizer], rt: dict[str, list[str]]):
    tok = trained["word"]
    vocab = tok.get_vocab()
    assert vocab["<PAD>"] == 0 and vocab["<UNK>"] == 1
    unseen = 0
    for text in rt["validation"]:
        words = text.lower().split()
        expected = [w if w in vocab else "<UNK>" for w in words]
        enc = tok.encode(text)
        assert enc.tokens == expected, text
        assert enc.ids == [vocab[t] for t in expected]
        unseen += expected.count("<UNK>")
    assert unseen > 0  # validation movies bring words the train split never had


def test_word_vocabulary_is_capped_and_frequency_filtered(rt: dict[str, list[str]]):
    small = train_tokenizer(req("word", vocab_size=50), rt["train"], NullContext())
    assert small.get_vocab_size() == 50
    assert small.id_to_token(2) == "the"  # the most frequent word follows the two specials
    counts: dict[str, int] = {}
    for text in rt["train"]:
        for w in text.lower().split():
            counts[w] = counts.get(w, 0) + 1
    frequent = train_tokenizer(req("word", min_frequency=5), rt["train"], NullContext())
    expected = {w for w, c in counts.items() if c >= 5} | {"<PAD>", "<UNK>"}
    assert set(frequent.get_vocab()) == expected


def test_specials_come_first_in_the_given_order(rt: dict[str, list[str]]):
    specials = ["<UNK>", "<CLS>", "<PAD>", "<SEP>"]
    tok = train_tokenizer(req("word", specials=specials), rt["train"][:200], NullContext())
    assert [tok.id_to_token(i) for i in range(4)] == specials


def test_regex_word_splits_punctuation(trained: dict[str, Tokenizer]):
    tok = trained["regex-word"]
    assert tok.encode("It wasn't great, really!").tokens == [
        "it",
        "wasn",
        "'",
        "t",
        "great",
        ",",
        "really",
        "!",
    ]


def test_char_tokenizer_round_trips(trained: dict[str, Tokenizer], rt: dict[str, list[str]]):
    tok = trained["char-cased"]
    enc = tok.encode("a B  c\u2603")  # the snowman is in no review
    assert enc.tokens == ["a", " ", "B", " ", " ", "c", "<UNK>"]
    whole = 0
    for text in rt["validation"]:
        enc = tok.encode(text)
        assert len(enc.ids) == len(text)
        if tok.token_to_id("<UNK>") not in enc.ids:
            assert tok.decode(enc.ids) == text
            whole += 1
    assert whole > 0.95 * len(rt["validation"])
    lower = trained["char"]
    assert lower.decode(lower.encode("The End").ids) == "the end"


# ----------------------------------------------------------------- subword kinds


@pytest.mark.parametrize("kind", SUBWORD)
def test_subword_decode_round_trips(
    kind: str, trained: dict[str, Tokenizer], rt: dict[str, list[str]]
):
    tok = trained[kind]
    assert tok.get_vocab_size() == 3000
    unk = tok.token_to_id("<UNK>")
    checked = 0
    for text in rt["validation"][:300]:
        enc = tok.encode(text)
        if unk in enc.ids:
            continue
        decoded = tok.decode(enc.ids)
        if kind == "wordpiece":  # BERT-style: punctuation comes back spaced
            assert "".join(decoded.split()) == "".join(text.lower().split())
        else:  # SentencePiece-style: exact up to lowercase and whitespace runs
            assert decoded == " ".join(text.lower().split())
        checked += 1
    assert checked > 250


@pytest.mark.parametrize("kind", ("word", "regex-word", "char", *SUBWORD))
def test_offsets_cover_every_visible_character(
    kind: str, trained: dict[str, Tokenizer], rt: dict[str, list[str]]
):
    tok = trained[kind]
    for text in [ODD, *rt["validation"][:50]]:
        enc = tok.encode(text)
        covered = set()
        for start, end in enc.offsets:
            assert 0 <= start <= end <= len(text)
            covered.update(range(start, end))
        visible = {i for i, ch in enumerate(text) if not ch.isspace()}
        assert visible <= covered, (kind, text, sorted(visible - covered)[:5])


def test_word_offsets_index_the_python_string(trained: dict[str, Tokenizer]):
    tok = trained["word"]
    enc = tok.encode(ODD)
    pieces = [ODD[s:e].lower() for s, e in enc.offsets]
    assert pieces == ODD.lower().split()


def test_subword_kinds_mark_unknown_pieces(trained: dict[str, Tokenizer]):
    for kind in ("bpe", "wordpiece"):
        tok = trained[kind]
        enc = tok.encode("movie 漢字")
        assert tok.token_to_id("<UNK>") in enc.ids, kind


# ----------------------------------------------------------------- templates


def test_cls_sep_template_with_pairs(rt: dict[str, list[str]]):
    specials = ["<PAD>", "<UNK>", "[CLS]", "[SEP]"]
    tok = train_tokenizer(
        req("word", specials=specials, template="cls-sep"), rt["train"][:300], NullContext()
    )
    enc = tok.encode("the film", "a movie")
    assert enc.tokens == ["[CLS]", "the", "film", "[SEP]", "a", "movie", "[SEP]"]
    assert enc.type_ids == [0, 0, 0, 0, 1, 1, 1]
    assert enc.special_tokens_mask == [1, 0, 0, 1, 0, 0, 1]
    assert tok.encode("the film", add_special_tokens=False).tokens == ["the", "film"]


def test_start_end_template_accepts_s_tokens(rt: dict[str, list[str]]):
    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    tok = train_tokenizer(
        req("bpe", specials=specials, template="start-end", vocab_size=500),
        rt["train"][:300],
        NullContext(),
    )
    tokens = tok.encode("the film").tokens
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert tok.model.unk_token == "<unk>"


def test_template_names_missing_specials(rt: dict[str, list[str]]):
    with pytest.raises(EngineError, match=r"cls-sep template needs .*<CLS> and <SEP>") as err:
        train_tokenizer(req("word", template="cls-sep"), rt["train"][:50], NullContext())
    assert "<PAD>, <UNK>" in err.value.message
    with pytest.raises(EngineError, match="<START> and <END>"):
        train_tokenizer(req("word", template="start-end"), rt["train"][:50], NullContext())


# ----------------------------------------------------------------- progress and cancelling


@pytest.mark.parametrize("kind", SUBWORD)
def test_training_reports_progress(kind: str, rt: dict[str, list[str]]):
    texts = rt["train"][:600]
    ctx = CheckCounter()
    tok = train_tokenizer(req(kind, vocab_size=400), texts, ctx)
    assert tok.get_vocab_size() == 400
    done = [d for d, _ in ctx.points]
    assert len(done) >= 4
    assert done == sorted(done) and done[0] < done[-1]
    assert ctx.points[-1] == (len(texts), len(texts))
    assert {t for _, t in ctx.points} == {len(texts)}


@pytest.mark.parametrize("kind", SUBWORD)
def test_training_can_be_cancelled(kind: str, rt: dict[str, list[str]]):
    ctx = CheckCounter(cancel_after=2)
    with pytest.raises(Cancelled):
        train_tokenizer(req(kind, vocab_size=400), rt["train"][:1000], ctx)
    assert ctx.checks == 3


# ----------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"vocab_size": 0}, "vocab size must be at least 3"),
        ({"vocab_size": 2}, "vocab size must be at least 3"),
        ({"min_frequency": 0}, "minimum frequency must be at least 1"),
        ({"specials": ["<PAD>"]}, "needs an unknown-word token"),
        ({"specials": ["<PAD>", "<UNK>", "<PAD>"]}, "<PAD> is listed twice"),
        ({"specials": ["<UNK>", " "]}, "cannot be empty"),
        ({"kind": "sentencepiece"}, "no tokenizer kind 'sentencepiece'"),
        ({"kind": "unigram", "min_frequency": 3}, "unigram training has no minimum frequency"),
    ],
)
def test_bad_requests_say_what_to_change(fields: dict[str, object], match: str):
    fields = {"kind": "word", **fields}
    with pytest.raises(EngineError, match=match) as err:
        train_tokenizer(req(**fields), ["some text"], NullContext())  # type: ignore[arg-type]
    assert err.value.code == "bad_input" and err.value.hint


def test_empty_texts_are_refused():
    with pytest.raises(EngineError) as err:
        train_tokenizer(req("bpe", dataset="reviews", split="train"), [], NullContext())
    assert err.value.code == "empty"
    assert err.value.message == "dataset 'reviews' split 'train' has no texts to train on"


def test_too_rare_words_leave_nothing():
    with pytest.raises(EngineError, match="no tokens beyond the special ones") as err:
        train_tokenizer(req("word", min_frequency=5), ["one two three"], NullContext())
    assert err.value.code == "empty"


@pytest.mark.parametrize("kind", ("word", "regex-word", "char", *SUBWORD))
def test_unknown_id_is_found_for_every_kind(kind: str, trained: dict[str, Tokenizer]):
    tok = trained[kind]
    assert unk_id(tok) == tok.token_to_id("<UNK>") == 1


def test_byte_level_models_have_no_unknown_id():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    assert unk_id(tok) is None
