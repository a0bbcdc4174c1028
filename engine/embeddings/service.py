"""The embedding service: vector sources and the calls that use them.

Sources are the built-ins (glove-6b-50d, minilm-input, minilm) and the tables added from files
or from a trained model, each in data_dir/vectors/NAME/ (see engine.embeddings.static): listing the
folder is the registry, so no store table is needed. Tables load once, whichever thread asks
first, and are shared read-only; every method is safe to call from the engine's thread pool.

The service is the one face other domains and the handlers see. The registry of sources is
VectorSources (engine.embeddings.sources); the calls that read them are engine.embeddings.queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine import protocol as P
from engine.core.catalog import Changes
from engine.core.errors import JobContext
from engine.embeddings import queries, static
from engine.embeddings.sources import VectorSources
from engine.embeddings.static import StaticTable
from engine.paths import Home

if TYPE_CHECKING:
    from engine.embeddings.contextual import ContextualEncoder

MAX_BATCH_WORDS = queries.MAX_BATCH_WORDS


class EmbeddingService:
    """Lists, loads, adds and deletes vector sources, and answers the calls that use them."""

    def __init__(self, home: Home, changes: Changes) -> None:
        self.home = home
        self.changes = changes
        self.dir = home.data_dir / "vectors"
        self.sources = VectorSources(self.dir, changes)

    # ------------------------------------------------------------- the sources

    def list(self) -> list[P.VectorSourceInfo]:
        """Built-ins first (available or not, with the pip line when not), then added sources,
        oldest first."""
        return self.sources.list()

    def info(self, name: str) -> P.VectorSourceInfo:
        """One source's catalogue entry; EngineError not_found listing the sources."""
        return self.sources.info(name)

    def table(self, name: str) -> StaticTable:
        """The named static table, loaded once and shared (read-only)."""
        return self.sources.table(name)

    def encoder(self, name: str = static.MINILM) -> ContextualEncoder:
        """The contextual model named (only minilm for now), loaded on first use."""
        return self.sources.encoder(name)

    def check_new_name(self, name: str) -> None:
        """Raise EngineError unless name is usable and free (built-ins included)."""
        self.sources.check_new_name(name)

    def add(self, req: P.VectorAdd, ctx: JobContext | None = None) -> P.VectorSourceResult:
        """Read a GloVe/word2vec text file or an .npy array with its words, and save it as the
        source req.name (a job: progress in bytes read, cancellable)."""
        return self.sources.add(req, ctx)

    def add_table(
        self, name: str, words: Sequence[str], matrix: np.ndarray, source: str
    ) -> P.VectorSourceInfo:
        """Save a word table (a trained model's embedding layer, say) as a static source;
        repeated words keep their first row."""
        return self.sources.add_table(name, words, matrix, source)

    def delete(self, name: str) -> None:
        """Remove an added source and its folder; built-ins cannot be deleted."""
        self.sources.delete(name)

    # ------------------------------------------------------------- the queries

    def neighbours(self, req: P.Neighbours) -> P.NeighboursResult:
        """The k nearest words to a word or an expression (3CosAdd: the signed sum of unit
        vectors), inputs left out when req.exclude_inputs. Unknown words: EngineError naming
        all of them (code unknown_word)."""
        return queries.neighbours(self.sources, req)

    def neighbours_batch(self, req: P.NeighboursBatch) -> P.NeighboursBatchResult:
        """The k nearest words to each word (itself left out), in one batched search; unknown
        words get [] and are listed in `unknown`."""
        return queries.neighbours_batch(self.sources, req)

    def context(self, req: P.ContextSimilarity) -> P.ContextResult:
        """How one word's contextual vector moves across sentences, next to the static source,
        which gives it one vector whatever the sentence."""
        return queries.context(self.sources, req)

    def sentences(self, req: P.SentenceSimilarity) -> P.SentenceSimilarityResult:
        """Cosines between mean-pooled, normalised sentence vectors."""
        return queries.sentences(self.sources, req)

    def project(self, req: P.Project, ctx: JobContext | None = None) -> P.ProjectionResult:
        """req's words in 2D by PCA or t-SNE (a job: t-SNE reports progress, cancellable)."""
        return queries.project(self.sources, req, ctx)
