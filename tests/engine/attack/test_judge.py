"""Judging attacks: the word edits between two texts, and TextAttack's table computed by hand on
a few examples (its numbers are textattack.metrics' for an untargeted attack)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.attack import judge
from engine.attack.goal import Asked, Goal

LABELS = ["neg", "pos"]


def _asked(text: str, p_pos: float, goal: Goal) -> Asked:
    p = np.array([1 - p_pos, p_pos])
    return Asked(text, p, goal.score(p), goal.reached(p))


def test_changes_are_word_spans_in_both_texts() -> None:
    original, perturbed = "the movie was boring and slow", "the film was boring, slow"
    edits, words, changed = judge.changes(original, perturbed)
    assert words == 6 and changed == 2
    assert [(c.old, c.new) for c in edits] == [("movie", "film"), ("and", "")]
    for c in edits:
        assert original[c.start : c.end] == c.old and perturbed[c.new_start : c.new_end] == c.new
    assert judge.changes("same text", "same text") == ([], 2, 0)
    edits, _, changed = judge.changes("a good film", "a g00d film")
    assert changed == 1 and edits[0].old == "good" and edits[0].new == "g00d"


def test_the_table_is_textattacks_by_hand() -> None:
    goal = Goal(ground_truth=1)
    rows = [
        # (original p(pos), perturbed p(pos) or None when skipped, text, perturbed, queries)
        (0.9, 0.2, "a fine film indeed", "a fyne film indeed", 10),  # successful, 1 of 4 words
        (0.8, 0.7, "good", "god", 20),  # failed
        (0.3, None, "bad bad", "bad bad", 1),  # skipped: already wrong
        (0.95, 0.1, "great plot and great cast", "grate plot and grate cast", 30),  # 2 of 5
    ]
    out = []
    for p0, p1, text, new, queries in rows:
        before = _asked(text, p0, goal)
        after = None if p1 is None else _asked(new, p1, goal)
        out.append(judge.example(-1, LABELS, goal, before, after, queries, 0.5))
    assert [e.result_type for e in out] == ["Successful", "Failed", "Skipped", "Successful"]
    s = judge.summary(out, seconds=2.0)
    assert (s.successful, s.failed, s.skipped, s.examples) == (2, 1, 1, 4)
    assert s.original_accuracy == 75.0  # (4 - 1 skipped) / 4
    assert s.accuracy_under_attack == 25.0  # 1 failed / 4
    assert s.attack_success_rate == pytest.approx(66.67)  # 2 / 3
    assert s.avg_perturbed_word_pct == pytest.approx((25.0 + 40.0) / 2)
    assert s.avg_words_per_input == pytest.approx((4 + 1 + 2 + 5) / 4)
    assert s.avg_queries == pytest.approx(20.0)  # skipped left out
    assert s.seconds_per_example == 0.5
    assert s.embedding_flip_rate is None and s.snapped_flip_rate is None
    assert out[0].original_score == pytest.approx(0.1) and out[0].perturbed_score == 0.8


def test_a_targeted_goal_scores_the_target() -> None:
    goal = Goal(ground_truth=0, target=1)
    p = np.array([0.3, 0.7])
    assert goal.score(p) == pytest.approx(0.7) and goal.reached(p)
    assert not Goal(ground_truth=1, target=0).reached(p)
