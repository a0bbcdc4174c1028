"""Tokenizers: list, train (a job), add, delete, tokenize, dataset statistics, and the classic
encodings (one-hot, bag-of-words, TF-IDF) of a text against a dataset's vocabulary."""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.protocol.base import Base, HistogramInfo, Ok, Returns, StartsJob

# --------------------------------------------------------------------- values

TokenizerKind = Literal[
    "word", "regex-word", "char", "bpe", "wordpiece", "unigram", "pretrained", "file"
]
PostTemplate = Literal["none", "cls-sep", "start-end"]


class TokenizerInfo(Base):
    name: str
    kind: str  # one of TokenizerKind
    vocab_size: int
    specials: list[str] = []
    source: str = ""  # "builtin", "dataset/split" it was trained on, or a path
    lowercase: bool = False
    template: str = "none"  # what encode adds around a text: none, cls-sep, start-end
    created: float = 0.0
    available: bool = True  # False: a bundled tokenizer whose package is missing
    hint: str = ""
    description: str = ""


class TokenView(Base, gc=False):
    """One text as a model sees it: tokens, ids, where each came from, masks."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character span in the text; (0, 0) for added tokens
    attention_mask: list[int]
    type_ids: list[int]
    special: list[bool]
    unknown: list[bool]
    n_tokens: int  # all tokens of the encoding (may exceed the ones shown)
    truncated: bool = False  # truncation dropped tokens
    overflow: int = 0  # how many tokens truncation dropped
    line: int = 0  # the text this view is of (windows give a text several views)
    window: int = 0  # which of its windows (0 for every other strategy)
    windows: int = 1  # how many windows its text is read in
    clipped_chars: int = 0  # characters past the engine's per-text limit, not encoded


class TokenCount(Base):
    token: str
    id: int
    count: int


class PaddingCost(Base):
    strategy: str  # "pad to max length", "per batch, shuffled", "per batch, bucketed"
    padded_share: float  # padded positions / all computed positions
    real_tokens: int
    computed_tokens: int


class TermValue(Base):
    term: str
    index: int
    value: float


class PackedTokens(Base, gc=False):
    """Bulk encoding (Tokenize with detail=False): every text's ids in one buffer."""

    ids: bytes  # int32 little-endian, text after text
    lengths: list[int]  # positions per text (padded width when padding)
    attention_mask: bytes = b""  # uint8 per position when padding; empty: all ones
    truncated: list[int] = []  # indices of the texts truncation cut


# --------------------------------------------------------------------- results


class TokenizerListResult(Base, tag="tokenizers.listing"):
    tokenizers: list[TokenizerInfo]


class TokenizerResult(Base, tag="tokenizers.tokenizer"):
    tokenizer: TokenizerInfo


class TokenizeResult(Base, tag="tokenizers.tokens"):
    tokenizer: str
    encodings: list[TokenView]  # empty for bulk encoding: see packed
    chars: int  # characters encoded in all
    seconds: float  # time the engine spent encoding
    packed: PackedTokens | None = None


class TokenStatsResult(Base, tag="tokenizers.statistics"):
    tokenizer: str
    dataset: str
    split: str | None
    rows: int
    tokens: int  # all tokens, specials included, before truncation
    lengths: HistogramInfo
    unknown_rate: float  # unknown tokens / tokens
    vocab_coverage: float  # share of the vocabulary that occurs in the data
    top_tokens: list[TokenCount]
    padding: list[PaddingCost]
    truncated_share: float  # texts longer than max_length
    batch_size: int
    max_length: int


class EncodeResult(Base, tag="tokenizers.encoding"):
    dataset: str
    kind: str
    vocabulary_size: int
    terms: list[TermValue]  # the text's non-zero entries, largest first
    nonzero: int
    unknown: list[str]  # words of the text outside the vocabulary


# --------------------------------------------------------------------- calls


class TokenizerList(Returns[TokenizerListResult], tag="tokenizers.list"):
    pass


class TokenizerShow(Returns[TokenizerResult], tag="tokenizers.show"):
    name: str


class TokenizerTrain(StartsJob[TokenizerResult], tag="tokenizers.train"):
    """Build a tokenizer from a dataset's texts."""

    name: str
    kind: Literal["word", "regex-word", "char", "bpe", "wordpiece", "unigram"]
    dataset: str
    split: str | None = "train"  # None: every row
    vocab_size: int = 30000  # the maximum size for word and char vocabularies
    min_frequency: int = 1
    specials: list[str] = msgspec.field(default_factory=lambda: ["<PAD>", "<UNK>"])  # id order
    lowercase: bool = True
    template: PostTemplate = "none"


class TokenizerAdd(Returns[TokenizerResult], tag="tokenizers.add"):
    """Register a tokenizer.json, or a Hugging Face tokenizer folder, under a name."""

    name: str
    path: str  # an absolute path on the engine's machine


class TokenizerDelete(Returns[Ok], tag="tokenizers.delete"):
    name: str


class Tokenize(Returns[TokenizeResult], tag="tokenizers.tokenize"):
    tokenizer: str
    texts: list[str]
    add_special_tokens: bool = True
    padding: Literal["none", "longest", "max_length"] = "none"
    truncation: bool = False
    # how truncation reads a long text (as a run's [data] truncation): head, tail, head+tail
    # (head_tokens from the start), windows (a view per window, a new one every stride tokens)
    strategy: Literal["head", "tail", "head+tail", "windows"] = "head"
    head_tokens: int = 0  # 0: a quarter of what fits
    stride: int = 0  # 0: half of what fits
    max_length: int = 128
    padding_side: Literal["right", "left"] = "right"
    max_tokens: int = 4096  # tokens returned per text; a 1 MB paste shows its first part
    detail: bool = True  # False: bulk encoding, ids packed in TokenizeResult.packed


class TokenizerStats(Returns[TokenStatsResult], tag="tokenizers.stats"):
    """What a tokenizer makes of a whole dataset, and what padding costs."""

    tokenizer: str
    dataset: str
    split: str | None = None
    batch_size: int = 32
    max_length: int = 512
    top: int = 30
    bins: int = 30
    seed: int = 13


class Encode(Returns[EncodeResult], tag="tokenizers.encode"):
    """One-hot, bag-of-words or TF-IDF of a text against a dataset's vocabulary."""

    dataset: str
    text: str
    kind: Literal["onehot", "bow", "tfidf"] = "bow"
    split: str | None = "train"
    lowercase: bool = True
    max_features: int | None = None
    top: int = 50
