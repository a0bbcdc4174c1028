"""Embedding calls: sources, add (a job), neighbours, context, sentences, project (a job)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import protocol as P
from engine.jobs import Job

if TYPE_CHECKING:
    from engine.server import Engine, EngineHandler


async def _vector_sources(engine: Engine, _: P.VectorSources) -> P.Result:
    return P.VectorSourcesResult(sources=await engine.in_pool(engine.embeddings.list))


async def _vector_add(engine: Engine, call: P.VectorAdd) -> P.Result:
    await engine.in_pool(engine.embeddings.check_new_name, call.name)

    def run(job: Job) -> P.Result | None:
        return engine.embeddings.add(call, job)

    job = engine.jobs.submit("vectors", f"load vectors {call.name}", run, lane="io")
    return P.JobStarted(job_id=job.id)


async def _vector_delete(engine: Engine, call: P.VectorDelete) -> P.Result:
    await engine.in_pool(engine.embeddings.delete, call.name)
    return P.Ok(message=f"deleted vector source '{call.name}'")


async def _vector_from_run(engine: Engine, call: P.VectorFromRun) -> P.Result:
    def run() -> P.VectorSourceInfo:
        engine.embeddings.check_new_name(call.name)
        words, matrix, where = engine.runs.embedding_table(call.run_id)
        return engine.embeddings.add_table(call.name, words, matrix, where)

    return P.VectorSourceResult(source=await engine.in_pool(run))


async def _neighbours(engine: Engine, call: P.Neighbours) -> P.Result:
    return await engine.in_pool(engine.embeddings.neighbours, call)


async def _neighbours_batch(engine: Engine, call: P.NeighboursBatch) -> P.Result:
    return await engine.in_pool(engine.embeddings.neighbours_batch, call)


async def _context(engine: Engine, call: P.ContextSimilarity) -> P.Result:
    return await engine.in_pool(engine.embeddings.context, call)


async def _sentences(engine: Engine, call: P.SentenceSimilarity) -> P.Result:
    return await engine.in_pool(engine.embeddings.sentences, call)


async def _project(engine: Engine, call: P.Project) -> P.Result:
    def run(job: Job) -> P.Result | None:
        return engine.embeddings.project(call, job)

    title = f"{call.method.upper()} of {call.source}"
    job = engine.jobs.submit("projection", title, run, lane="io")
    return P.JobStarted(job_id=job.id)


def handlers() -> dict[type, EngineHandler]:
    return {
        P.VectorSources: _vector_sources,
        P.VectorAdd: _vector_add,
        P.VectorDelete: _vector_delete,
        P.VectorFromRun: _vector_from_run,
        P.Neighbours: _neighbours,
        P.NeighboursBatch: _neighbours_batch,
        P.ContextSimilarity: _context,
        P.SentenceSimilarity: _sentences,
        P.Project: _project,
    }
