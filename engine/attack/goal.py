"""What an attack is for, as TextAttack's goal functions define it, and the queries it spends.

Untargeted: reach any class but the ground truth; score 1 - p(ground truth). Targeted: reach the
target class; score p(target). GoalFunction asks the victim about texts in one batch, keeps
what it was told (a text asked twice costs one query), and stops the search when the query
budget is spent (BudgetSpent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.attack.victim import Victim


class BudgetSpent(Exception):
    """The example's query budget is spent: the search ends with what it has."""


@dataclass(frozen=True)
class Goal:
    ground_truth: int  # class id
    target: int | None = None  # None: untargeted

    def score(self, p: np.ndarray) -> float:
        """The goal score of one output's probabilities: higher is closer to the goal."""
        if self.target is None:
            return float(1.0 - p[self.ground_truth])
        return float(p[self.target])

    def reached(self, p: np.ndarray) -> bool:
        label = int(np.argmax(p))
        if self.target is None:
            return label != self.ground_truth
        return label == self.target


@dataclass
class Asked:
    """What the victim said about one text."""

    text: str
    probabilities: np.ndarray
    score: float
    reached: bool

    @property
    def label(self) -> int:
        return int(np.argmax(self.probabilities))


class GoalFunction:
    """One example's goal with its query budget (0: no limit) and the answers it has had."""

    def __init__(self, victim: Victim, goal: Goal, budget: int = 0) -> None:
        self.victim = victim
        self.goal = goal
        self.budget = budget
        self.queries = 0
        self._seen: dict[str, Asked] = {}

    @property
    def left(self) -> int | None:
        return None if not self.budget else max(0, self.budget - self.queries)

    def ask(self, texts: Sequence[str]) -> list[Asked]:
        """Each text's answer, those not asked before in one batch. When the budget cannot pay
        for them all, asks for what it can and raises BudgetSpent after (the answers it got
        are kept: ask(...) of one of them again is free)."""
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        spent = False
        if self.budget and self.queries + len(new) > self.budget:
            new = new[: max(0, self.budget - self.queries)]
            spent = True
        if new:
            proba = self.victim.probabilities(new)
            self.queries += len(new)
            for text, p in zip(new, proba, strict=True):
                self._seen[text] = Asked(text, p, self.goal.score(p), self.goal.reached(p))
        if spent:
            raise BudgetSpent
        return [self._seen[t] for t in texts]

    def one(self, text: str) -> Asked:
        return self.ask([text])[0]

    def known(self, text: str) -> Asked | None:
        return self._seen.get(text)

    def count(self, n: int) -> None:
        """Count n queries made another way (vectors through the model), within the budget."""
        self.queries += n
        if self.budget and self.queries > self.budget:
            raise BudgetSpent
