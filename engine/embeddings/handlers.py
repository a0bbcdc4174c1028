"""Embedding calls: sources, add (a job), delete, neighbours, context, sentences, project (a
job). A run's embedding layer becomes a source through the training calls (training.to_vectors)."""

from __future__ import annotations

from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.embeddings.queries import check_project
from engine.embeddings.service import EmbeddingService

calls: CallTable[EmbeddingService] = CallTable("embeddings")


@calls.on(P.VectorSources)
def sources(embeddings: EmbeddingService, _: P.VectorSources) -> P.VectorSourcesResult:
    return P.VectorSourcesResult(sources=embeddings.list())


@calls.job(P.VectorAdd, kind="vectors", title=lambda c: f"load vectors {c.name}")
def add(embeddings: EmbeddingService, call: P.VectorAdd) -> JobWork:
    embeddings.check_new_name(call.name)
    return lambda job: embeddings.add(call, job)


@calls.on(P.VectorDelete)
def delete(embeddings: EmbeddingService, call: P.VectorDelete) -> P.Ok:
    embeddings.delete(call.name)
    return P.Ok(message=f"deleted vector source '{call.name}'")


@calls.on(P.Neighbours)
def neighbours(embeddings: EmbeddingService, call: P.Neighbours) -> P.NeighboursResult:
    return embeddings.neighbours(call)


@calls.on(P.NeighboursBatch)
def neighbours_batch(
    embeddings: EmbeddingService, call: P.NeighboursBatch
) -> P.NeighboursBatchResult:
    return embeddings.neighbours_batch(call)


@calls.on(P.ContextSimilarity)
def context(embeddings: EmbeddingService, call: P.ContextSimilarity) -> P.ContextResult:
    return embeddings.context(call)


@calls.on(P.SentenceSimilarity)
def sentences(
    embeddings: EmbeddingService, call: P.SentenceSimilarity
) -> P.SentenceSimilarityResult:
    return embeddings.sentences(call)


@calls.job(P.Project, kind="projection", title=lambda c: f"{c.method.upper()} of {c.source}")
def project(embeddings: EmbeddingService, call: P.Project) -> JobWork:
    check_project(call)  # too many words: refused now, not when the job runs
    return lambda job: embeddings.project(call, job)
