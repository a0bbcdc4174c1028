"""Tokenizer calls: list, show, train (a job), add, delete, tokenize, stats, encodings."""

from __future__ import annotations

from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.tokenizers.build import check_request
from engine.tokenizers.service import TokenizerService

calls: CallTable[TokenizerService] = CallTable("tokenizers")


@calls.on(P.TokenizerList)
def list_(tokenizers: TokenizerService, _: P.TokenizerList) -> P.TokenizerListResult:
    return P.TokenizerListResult(tokenizers=tokenizers.list())


@calls.on(P.TokenizerShow)
def show(tokenizers: TokenizerService, call: P.TokenizerShow) -> P.TokenizerResult:
    return P.TokenizerResult(tokenizer=tokenizers.info(call.name))


@calls.job(P.TokenizerTrain, kind="tokenizer", title=lambda c: f"train {c.kind} tokenizer {c.name}")
def train(tokenizers: TokenizerService, call: P.TokenizerTrain) -> JobWork:
    tokenizers.check_new_name(call.name)
    check_request(call)  # refused at once, before a job exists
    return lambda job: tokenizers.train(call, job)


@calls.on(P.TokenizerAdd)
def add(tokenizers: TokenizerService, call: P.TokenizerAdd) -> P.TokenizerResult:
    return tokenizers.add(call.name, call.path)


@calls.on(P.TokenizerDelete)
def delete(tokenizers: TokenizerService, call: P.TokenizerDelete) -> P.Ok:
    tokenizers.delete(call.name)
    return P.Ok(message=f"deleted tokenizer '{call.name}'")


@calls.on(P.Tokenize)
def tokenize(tokenizers: TokenizerService, call: P.Tokenize) -> P.TokenizeResult:
    return tokenizers.tokenize(call)


@calls.on(P.TokenizerStats)
def stats(tokenizers: TokenizerService, call: P.TokenizerStats) -> P.TokenStatsResult:
    return tokenizers.stats(call)


@calls.on(P.Encode)
def encode(tokenizers: TokenizerService, call: P.Encode) -> P.EncodeResult:
    return tokenizers.encode(call)
