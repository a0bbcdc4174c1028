"""Language-model calls: generate (a job whose tokens stream as events) and score."""

from __future__ import annotations

from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.lm.service import LanguageModels

calls: CallTable[LanguageModels] = CallTable("lm")


@calls.job(P.Generate, kind="generate", title=lambda c: f"generate with {c.model}")
def generate(lm: LanguageModels, call: P.Generate) -> JobWork:
    lm.check(call)
    return lambda job: lm.generate(call, job)


@calls.on(P.ScoreText)
def score(lm: LanguageModels, call: P.ScoreText) -> P.ScoreResult:
    return lm.score(call)


@calls.on(P.Translate)
def translate(lm: LanguageModels, call: P.Translate) -> P.TranslateResult:
    return lm.translate(call)
