"""Attacking a trained classifier: the recipes, and an attack over texts or a split's examples as
a job with progress, judged by running the model again on every perturbed text.

The victim is what the prediction console predicts with (a run's best checkpoint, its latest
while it trains, or a model folder), so an attack and a prediction always read the same model.
Everything a call can get wrong is refused before the job starts (check), with what applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine import protocol as P
from engine.attack import judge, recipes
from engine.attack.discrete import perturb_texts
from engine.attack.embedding import epsilon_scale, pgd_perturb
from engine.attack.goal import Goal, GoalFunction
from engine.attack.recipes import Example, Recipe
from engine.attack.victim import Victim
from engine.core.errors import EngineError
from engine.core.jobs import Job
from engine.datasets.service import DatasetService
from engine.models import service as models

__all__ = ["AttackService", "Victim", "epsilon_scale", "perturb_texts", "pgd_perturb"]
# what other domains use (training's adversarial training and robustness checks): the victim,
# embedding-space PGD with its epsilon unit, and discrete adversarial texts

MAX_EXAMPLES = 1_000  # examples one attack job takes
MAX_TEXT_CHARS = 5_000  # characters of an attacked text (a split's longer ones are cut)
MAX_TRACED = 20  # examples an embedding attack traces step by step
MAX_BUDGET = 100_000
MAX_ENSEMBLE = 8

Classifier = Callable[[str], tuple[models.TrainedModel, int, str]]  # name -> model, reads, which
ConfigOf = Callable[[str], Any]  # run id -> its RunConfig (dataset, max_length)


class AttackService:
    """The attack calls; the engine hands it how to get a classifier by run id or folder (the
    prediction console's) and the datasets."""

    def __init__(self, classifier: Classifier, config_of: ConfigOf, datasets: DatasetService):
        self.classifier = classifier
        self.config_of = config_of
        self.datasets = datasets

    def recipes(self) -> P.AttackRecipesResult:
        return P.AttackRecipesResult(recipes=[recipes.info(r) for r in recipes.all_recipes()])

    # ------------------------------------------------------------- checking

    def victim(self, call: P.AttackRun) -> Victim:
        names = [call.run_id, *call.ensemble]
        if len(names) > MAX_ENSEMBLE + 1:
            raise EngineError(f"an ensemble votes with at most {MAX_ENSEMBLE + 1} runs")
        if len(set(names)) != len(names):
            raise EngineError("a run is named twice in the ensemble", hint="name each run once")
        members = [self.classifier(name)[:2] for name in names]
        first = members[0][0]
        description = (
            first.run.description
            if len(members) == 1
            else f"an ensemble of {len(members)} runs ({', '.join(names)[:120]})"
        )
        return Victim(members, description)

    def check(self, call: P.AttackRun) -> tuple[Recipe, Any, Victim]:
        """(the recipe, its settings, the victim), or EngineError for anything that cannot work."""
        recipe = recipes.get(call.recipe)
        settings = recipes.settings_of(recipe, call.settings)
        if call.budget is not None:
            if isinstance(call.budget, bool) or not 1 <= call.budget <= MAX_BUDGET:
                raise EngineError(
                    f"the query budget must be from 1 to {MAX_BUDGET:,} queries per example, "
                    f"got {call.budget}",
                    hint="leave it out for the recipe's default",
                )
        victim = self.victim(call)
        if recipe.needs_gradients and not victim.has_gradients:
            black = [r.name for r in recipes.all_recipes() if not r.needs_gradients]
            why = "an ensemble" if victim.ensemble else victim.description
            raise EngineError(
                f"{call.recipe} needs the model's gradients, and {why} has none to give",
                hint="attacks that apply: " + ", ".join(black),
            )
        if call.target and call.target not in victim.labels:
            raise EngineError(
                f"the model has no class '{call.target[:60]}' to aim at",
                hint="its classes: " + ", ".join(victim.labels)[:300],
            )
        if call.trace and self._count(call) > MAX_TRACED:
            raise EngineError(
                f"a trace keeps every step of up to {MAX_TRACED} examples",
                hint="attack fewer examples, or leave the trace off",
            )
        if call.texts:
            self._check_texts(call, victim)
        else:
            if isinstance(call.n, bool) or not 1 <= call.n <= MAX_EXAMPLES:
                raise EngineError(f"n must be from 1 to {MAX_EXAMPLES:,} examples, got {call.n}")
            dataset = self._dataset(call)
            if self.datasets.split_rows(dataset, call.split or None) == 0:
                raise EngineError(
                    f"split '{call.split}' of dataset '{dataset}' is empty: there is nothing to "
                    "attack",
                    hint="choose a split with rows",
                )
        return recipe, settings, victim

    def _count(self, call: P.AttackRun) -> int:
        return len(call.texts) if call.texts else call.n

    def _check_texts(self, call: P.AttackRun, victim: Victim) -> None:
        if len(call.texts) > MAX_EXAMPLES:
            raise EngineError(f"attack up to {MAX_EXAMPLES:,} texts at once")
        for i, text in enumerate(call.texts):
            if not text.strip():
                raise EngineError(f"text {i + 1} is empty: there is nothing to attack")
            if len(text) > MAX_TEXT_CHARS:
                raise EngineError(
                    f"text {i + 1} has {len(text):,} characters; an attack takes up to "
                    f"{MAX_TEXT_CHARS:,}",
                    hint="cut it to the part the model should read",
                )
        if call.labels:
            if len(call.labels) != len(call.texts):
                raise EngineError(
                    f"give one label per text: {len(call.texts)} texts, {len(call.labels)} labels"
                )
            bad = [x for x in call.labels if x not in victim.labels]
            if bad:
                raise EngineError(
                    f"the model has no class '{bad[0][:60]}'",
                    hint="its classes: " + ", ".join(victim.labels)[:300],
                )

    def _dataset(self, call: P.AttackRun) -> str:
        if call.dataset:
            return call.dataset
        if models.is_folder_name(call.run_id):
            raise EngineError(
                "a model folder has no dataset of its own", hint="name the dataset to attack"
            )
        return str(self.config_of(call.run_id).dataset)

    # ------------------------------------------------------------- attacking

    def _examples(self, call: P.AttackRun, victim: Victim) -> list[Example]:
        if call.texts:
            texts, given, rows = list(call.texts), list(call.labels), [-1] * len(call.texts)
        else:
            dataset, split = self._dataset(call), call.split or None
            all_texts = self.datasets.texts(dataset, split)
            all_labels = self.datasets.labels(dataset, split)
            all_rows = self.datasets.split_indices(dataset, split)
            pick = np.random.default_rng(call.seed).permutation(len(all_texts))[: call.n]
            texts = [all_texts[i][:MAX_TEXT_CHARS] for i in pick]
            given = [all_labels[i] for i in pick]
            rows = [all_rows[i] for i in pick]
        if not given or any(x is None or x not in victim.labels for x in given):
            # no labels (or ones the model lacks): the model's own predictions are the truth
            predicted = victim.probabilities(texts).argmax(axis=1)
            ids = [
                victim.labels.index(x) if x in victim.labels else int(p)
                for x, p in zip(given or [None] * len(texts), predicted, strict=True)
            ]
        else:
            ids = [victim.labels.index(x) for x in given]  # type: ignore[arg-type]
        return [Example(r, t, y) for r, t, y in zip(rows, texts, ids, strict=True)]

    def run(self, call: P.AttackRun, job: Job) -> P.AttackResult:
        recipe, settings, victim = self.check(call)
        examples = self._examples(call, victim)
        target = victim.labels.index(call.target) if call.target else None
        budget = call.budget if call.budget is not None else recipe.default_budget
        out: list[P.AttackExample | None] = [None] * len(examples)
        started = time.perf_counter()
        job.progress(0, len(examples), f"attacking {len(examples)} examples with {recipe.name}")
        pending: list[tuple[int, GoalFunction]] = []
        for i, ex in enumerate(examples):
            goal = GoalFunction(victim, Goal(ex.label, target), budget)
            before = goal.one(ex.text)
            if goal.goal.reached(before.probabilities) or (
                target is not None and ex.label == target
            ):
                why = (
                    "the model already predicts the target"
                    if target is not None
                    else ("the model already gets it wrong")
                )
                out[i] = judge.example(ex.row, victim.labels, goal.goal, before, None, 1, 0.0, why)
            else:
                pending.append((i, goal))
        done = len(examples) - len(pending)
        for start in range(0, len(pending), recipe.chunk):
            job.check_cancelled()
            part = pending[start : start + recipe.chunk]
            t0 = time.perf_counter()
            outcomes = recipe.attack(
                victim, [g for _, g in part], [examples[i] for i, _ in part], settings, call.trace
            )
            each = (time.perf_counter() - t0) / len(part)
            for (i, goal), outcome in zip(part, outcomes, strict=True):
                before = goal.one(examples[i].text)
                after = goal.known(outcome.perturbed_text)
                if after is None:  # judged from text, outside the budget: a check, not a search
                    after = _judge_text(goal, outcome.perturbed_text)
                out[i] = judge.example(
                    examples[i].row,
                    victim.labels,
                    goal.goal,
                    before,
                    after,
                    goal.queries,
                    each,
                    outcome.note,
                    outcome.embedding_flipped,
                    outcome.perturbation_norm,
                    outcome.steps,
                )
            done += len(part)
            job.progress(done, len(examples), f"{done:,} of {len(examples):,} examples")
        judged = [e for e in out if e is not None]
        seconds = time.perf_counter() - started
        values = recipes.settings_dict(settings)
        epsilon = values.get("epsilon") if recipe.kind == "embedding" else None
        norm = str(values.get("norm", "")) if recipe.kind == "embedding" else ""
        trained = victim.trained
        return P.AttackResult(
            run_id=call.run_id,
            description=victim.description,
            recipe=recipe.name,
            settings=values,
            labels=victim.labels,
            summary=judge.summary(judged, seconds, epsilon, norm),
            examples=judged,
            dataset="" if call.texts else self._dataset(call),
            split="" if call.texts else call.split,
            target=call.target,
            step=trained.step,
            ensemble=list(call.ensemble),
        )


def _judge_text(goal: GoalFunction, text: str) -> Any:
    """The model's answer on text, asked outside the example's budget (the result is judged
    from text whatever the search spent)."""
    budget, goal.budget = goal.budget, 0
    try:
        return goal.one(text)
    finally:
        goal.budget = budget
