"""Dataset token statistics: counts checked by hand on small texts, and MiniLM on Rotten
Tomatoes (lengths, unknown rate, the padding that bucketing saves)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from tokenizers import Tokenizer

from engine.core.batching import BUCKETED, PAD_TO_MAX, SHUFFLED, padding_cost
from engine.core.errors import EngineError, NullContext
from engine.protocol import TokenizerStats, TokenizerTrain
from engine.tokenizers.build import train_tokenizer
from engine.tokenizers.sources import BUILTINS, load_builtin
from engine.tokenizers.specials import unk_id
from engine.tokenizers.stats import count_tokens, dataset_stats, summarise
from tests.helpers.tokenizers import split_texts

TRAIN = ["the cat sat", "the dog sat on the mat", "a cat and a dog"]
TEXTS = ["the cat sat on the mat", "the bird sang", "", "a dog a dog a dog", "zebra"]


@pytest.fixture(scope="module")
def word() -> Tokenizer:
    spec = TokenizerTrain(name="w", kind="word", dataset="d", template="none")
    return train_tokenizer(spec, TRAIN, NullContext())


def ask(**kw: object) -> TokenizerStats:
    fields: dict[str, object] = {"tokenizer": "w", "dataset": "d", "split": "train"}
    fields.update(kw)
    return TokenizerStats(**fields)  # type: ignore[arg-type]


def test_counts_by_hand(word: Tokenizer):
    result = dataset_stats(word, TEXTS, ask(max_length=3, top=4, bins=5), unk_id(word))
    words = [t.split() for t in TEXTS]
    assert result.rows == 5
    assert result.tokens == sum(map(len, words)) == 16
    assert result.unknown_rate == pytest.approx(3 / 16)  # bird, sang, zebra
    seen = {w for ws in words for w in ws if w in word.get_vocab()}
    assert result.vocab_coverage == pytest.approx((len(seen) + 1) / word.get_vocab_size())
    counts = Counter(w for ws in words for w in ws if w in seen)
    ranked = sorted(counts.items(), key=lambda p: (-p[1], word.token_to_id(p[0])))
    assert [(t.token, t.count) for t in result.top_tokens] == ranked[:4]
    assert {t.token for t in result.top_tokens[:3]} == {"a", "dog", "the"}
    assert all(t.id == word.token_to_id(t.token) for t in result.top_tokens)
    assert result.truncated_share == pytest.approx(2 / 5)
    assert sum(result.lengths.counts) == 5 and result.lengths.unit == "tokens"
    assert result.lengths.max == 6 and result.lengths.median == 3
    lengths = np.array([len(w) for w in words])
    assert result.padding == padding_cost(lengths, 32, 3, 13)


def test_specials_are_left_out_of_the_top(word: Tokenizer):
    result = dataset_stats(word, ["zebra zebra zebra cat"], ask(top=10), unk_id(word))
    assert [t.token for t in result.top_tokens] == ["cat"]
    assert result.unknown_rate == pytest.approx(3 / 4)


def test_summaries_reuse_one_count(word: Tokenizer):
    tally = count_tokens(word, TEXTS, unk_id(word))
    small = summarise(tally, word, ask(batch_size=2, max_length=2))
    large = summarise(tally, word, ask(batch_size=4, max_length=8))
    assert small.tokens == large.tokens == tally.tokens
    assert small.truncated_share == pytest.approx(3 / 5) and large.truncated_share == 0
    assert small.padding[0].computed_tokens == 5 * 2 and large.padding[0].computed_tokens == 5 * 8


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"batch_size": 0}, "batch size"),
        ({"max_length": 0}, "max length"),
        ({"bins": 0}, "bins"),
        ({"top": -1}, "top"),
    ],
)
def test_bad_settings(word: Tokenizer, fields: dict[str, object], match: str):
    with pytest.raises(EngineError, match=match):
        dataset_stats(word, TEXTS, ask(**fields), unk_id(word))


def test_no_texts(word: Tokenizer):
    with pytest.raises(EngineError, match="dataset 'd' split 'train' has no texts") as err:
        dataset_stats(word, [], ask(), unk_id(word))
    assert err.value.code == "empty"


def test_minilm_on_rotten_tomatoes(tmp_path_factory: pytest.TempPathFactory):
    texts = split_texts(tmp_path_factory.mktemp("rt-stats"), "train")
    tok = load_builtin(BUILTINS["minilm-wordpiece"])
    result = dataset_stats(
        tok, texts, ask(tokenizer="minilm-wordpiece", dataset="rotten-tomatoes"), unk_id(tok)
    )
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    assert result.rows == len(texts) and result.tokens == sum(lengths)
    assert result.lengths.max == max(lengths)
    assert result.unknown_rate == 0  # the BERT vocabulary spells every review
    assert 0.2 < result.vocab_coverage < 0.6
    assert {t.token for t in result.top_tokens[:5]} >= {"the", ",", "."}
    assert "[CLS]" not in {t.token for t in result.top_tokens}
    share = {p.strategy: p.padded_share for p in result.padding}
    assert share[BUCKETED] < 0.03 < 0.3 < share[SHUFFLED] < share[PAD_TO_MAX]
    assert result.truncated_share == 0
    emoji = dataset_stats(tok, ["I love 😀", "ok"], ask(), unk_id(tok))
    assert emoji.unknown_rate == pytest.approx(1 / 8)  # [CLS] i love [UNK] [SEP] [CLS] ok [SEP]
