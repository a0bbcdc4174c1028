"""The goal function's queries on a real trained victim: one batch per ask, a text asked twice
is paid once, and the budget stops a search where it runs out."""

from __future__ import annotations

import pytest

from engine.attack.goal import BudgetSpent, Goal, GoalFunction
from tests.helpers.attack import victim


def test_queries_are_counted_once_per_text_and_stop_at_the_budget() -> None:
    v = victim()
    goal = GoalFunction(v, Goal(ground_truth=1), budget=3)
    first = goal.ask(["a fine film", "a dull film", "a fine film"])
    assert goal.queries == 2 == v.queries and first[0] is first[2]
    assert goal.one("a dull film") is first[1] and goal.queries == 2  # known: free
    with pytest.raises(BudgetSpent):
        goal.ask(["one more", "and another"])
    assert goal.queries == 3 and goal.known("one more") is not None  # paid for what it could
    assert goal.known("and another") is None and goal.left == 0
    p = v.probabilities(["one more"])[0]
    assert goal.known("one more").probabilities == pytest.approx(p)  # type: ignore[union-attr]


def test_no_budget_means_no_limit() -> None:
    goal = GoalFunction(victim(), Goal(ground_truth=0), budget=0)
    goal.ask([f"text {i}" for i in range(50)])
    assert goal.queries == 50 and goal.left is None
