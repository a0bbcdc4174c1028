"""Embeddings: vector sources (list, add as a job, delete, from a trained run), nearest words
and vector arithmetic, contextual similarity, and 2D projections (a job)."""

from __future__ import annotations

from typing import Literal

from engine.protocol.base import Base, Ok, Returns, StartsJob

# --------------------------------------------------------------------- values


class VectorSourceInfo(Base):
    name: str
    kind: str  # "static" (a word -> vector table) or "contextual" (a model over sentences)
    dim: int
    vocab_size: int  # 0 for contextual sources
    source: str = ""  # "builtin", a path, or the model it came from
    available: bool = True
    hint: str = ""
    description: str = ""


class Neighbour(Base):
    word: str
    score: float  # cosine similarity


class ExpressionTerm(Base):
    word: str
    sign: int  # +1 or -1
    known: bool


class ProjectedPoint(Base):
    word: str
    group: str
    x: float
    y: float


# --------------------------------------------------------------------- results


class VectorSourcesResult(Base, tag="embeddings.source_list"):
    sources: list[VectorSourceInfo]


class VectorSourceResult(Base, tag="embeddings.source"):
    source: VectorSourceInfo


class NeighboursResult(Base, tag="embeddings.nearest"):
    source: str
    query: str
    terms: list[ExpressionTerm]
    neighbours: list[Neighbour]
    unknown: list[str]  # words of the query outside the vocabulary
    seconds: float


class NeighboursBatchResult(Base, tag="embeddings.nearest_batch"):
    source: str
    results: list[list[Neighbour]]  # one list per word, [] for unknown words
    unknown: list[str]
    seconds: float


class ContextResult(Base, tag="embeddings.in_context"):
    word: str
    source: str
    sentences: list[str]
    found: list[bool]  # whether the word occurs in each sentence
    pieces: list[list[str]]  # the subword pieces averaged for the word, per sentence
    similarity: list[list[float]]  # cosine between the word's contextual vectors
    static_source: str
    static_known: bool  # the static source has one vector for the word, whatever the sentence
    truncated: list[bool] = []  # sentences the model read only the first 512 tokens of


class SentenceSimilarityResult(Base, tag="embeddings.sentence_matrix"):
    source: str
    sentences: list[str]
    matrix: list[list[float]]
    truncated: list[bool] = []


class ProjectionResult(Base, tag="embeddings.projection"):
    method: str
    source: str
    points: list[ProjectedPoint]
    unknown: list[str]
    explained: list[float] = []  # PCA: variance share of each axis
    seconds: float = 0.0
    note: str = ""  # e.g. a t-SNE perplexity lowered to suit few points


# --------------------------------------------------------------------- calls


class VectorSources(Returns[VectorSourcesResult], tag="embeddings.sources"):
    pass


class VectorAdd(StartsJob[VectorSourceResult], tag="embeddings.add"):
    """Register a static vector file: GloVe/word2vec text, or .npy with a word list."""

    name: str
    path: str  # the vector file, an absolute path on the engine's machine
    words_path: str | None = None  # for .npy: one word a line, in row order (engine's machine)
    format: Literal["auto", "text", "npy"] = "auto"


class VectorDelete(Returns[Ok], tag="embeddings.delete"):
    name: str


class Neighbours(Returns[NeighboursResult], tag="embeddings.neighbours"):
    """Nearest words by cosine; query is a word or an expression like `king - man + woman`."""

    query: str
    source: str = "glove-6b-50d"
    k: int = 10
    exclude_inputs: bool = True


class NeighboursBatch(Returns[NeighboursBatchResult], tag="embeddings.neighbours_batch"):
    words: list[str]
    source: str = "glove-6b-50d"
    k: int = 10


class ContextSimilarity(Returns[ContextResult], tag="embeddings.context"):
    """One word inside several sentences: how its contextual vector moves."""

    word: str
    sentences: list[str]
    source: str = "minilm"
    static_source: str = "glove-6b-50d"


class SentenceSimilarity(Returns[SentenceSimilarityResult], tag="embeddings.sentences"):
    sentences: list[str]
    source: str = "minilm"


class Project(StartsJob[ProjectionResult], tag="embeddings.project"):
    """Words reduced to 2D."""

    words: list[str] = []
    groups: dict[str, list[str]] = {}  # group name -> words, drawn in colours
    neighbours_of: str | None = None  # add this word's k nearest as a group
    k: int = 20
    source: str = "glove-6b-50d"
    method: Literal["pca", "tsne"] = "pca"
    perplexity: float = 30.0
    seed: int = 13
