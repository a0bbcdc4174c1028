"""Attack calls: the recipes with their settings, and an attack (a job)."""

from __future__ import annotations

from engine import protocol as P
from engine.attack.service import AttackService
from engine.core.calls import CallTable, JobWork

calls: CallTable[AttackService] = CallTable("attack")


@calls.on(P.AttackRecipes)
def recipes(attacks: AttackService, _: P.AttackRecipes) -> P.AttackRecipesResult:
    return attacks.recipes()


def _title(call: P.AttackRun) -> str:
    what = f"{len(call.texts)} texts" if call.texts else f"{call.n} examples"
    return f"attack {call.run_id[-40:]} with {call.recipe} ({what})"


@calls.job(P.AttackRun, kind="attack", title=_title)
def run(attacks: AttackService, call: P.AttackRun) -> JobWork:
    attacks.check(call)  # refused before it becomes a job
    return lambda job: attacks.run(call, job)
