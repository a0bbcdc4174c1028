"""Tokenizer calls: list, show, train (a job), add, delete, tokenize, stats, encodings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import protocol as P
from engine.jobs import Job

if TYPE_CHECKING:
    from engine.server import Engine, EngineHandler


async def _tokenizer_list(engine: Engine, _: P.TokenizerList) -> P.Result:
    return P.TokenizerListResult(tokenizers=await engine.in_pool(engine.tokenizers.list))


async def _tokenizer_show(engine: Engine, call: P.TokenizerShow) -> P.Result:
    return P.TokenizerResult(tokenizer=await engine.in_pool(engine.tokenizers.info, call.name))


async def _tokenizer_train(engine: Engine, call: P.TokenizerTrain) -> P.Result:
    await engine.in_pool(engine.tokenizers.check_new_name, call.name)

    def run(job: Job) -> P.Result | None:
        return engine.tokenizers.train(call, job)

    def done(job: Job) -> None:
        if job.state == "done":
            event = P.TokenizersChanged(name=call.name, change="added")
            engine.call_soon(engine.broadcast, event)

    title = f"train {call.kind} tokenizer {call.name}"
    job = engine.jobs.submit("tokenizer", title, run, lane="io", on_done=done)
    return P.JobStarted(job_id=job.id)


async def _tokenizer_add(engine: Engine, call: P.TokenizerAdd) -> P.Result:
    result = await engine.in_pool(engine.tokenizers.add, call.name, call.path)
    engine.broadcast(P.TokenizersChanged(name=call.name, change="added"))
    return result


async def _tokenizer_delete(engine: Engine, call: P.TokenizerDelete) -> P.Result:
    await engine.in_pool(engine.tokenizers.delete, call.name)
    engine.broadcast(P.TokenizersChanged(name=call.name, change="deleted"))
    return P.Ok(message=f"deleted tokenizer '{call.name}'")


async def _tokenize(engine: Engine, call: P.Tokenize) -> P.Result:
    return await engine.in_pool(engine.tokenizers.tokenize, call)


async def _tokenizer_stats(engine: Engine, call: P.TokenizerStats) -> P.Result:
    return await engine.in_pool(engine.tokenizers.stats, call)


async def _encode(engine: Engine, call: P.Encode) -> P.Result:
    return await engine.in_pool(engine.tokenizers.encode, call)


def handlers() -> dict[type, EngineHandler]:
    return {
        P.TokenizerList: _tokenizer_list,
        P.TokenizerShow: _tokenizer_show,
        P.TokenizerTrain: _tokenizer_train,
        P.TokenizerAdd: _tokenizer_add,
        P.TokenizerDelete: _tokenizer_delete,
        P.Tokenize: _tokenize,
        P.TokenizerStats: _tokenizer_stats,
        P.Encode: _encode,
    }
