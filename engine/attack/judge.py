"""Judging what a recipe made: the example's result (the model run again on the perturbed text),
the edits between the texts word by word, and TextAttack's summary table over the examples.

The table's numbers are TextAttack's (textattack.metrics): original accuracy and accuracy under
attack over every example, the success rate over the attacked ones (successful + failed), the
perturbed word share over the successful ones, queries over the attacked ones. Accuracies are
against the ground truth, so for an untargeted attack they equal TextAttack's
(total - skipped) / total and failed / total.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import numpy as np

from engine import protocol as P
from engine.attack.goal import Asked, Goal

WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")  # a word as TextAttack counts them: letters, digits


def words(text: str) -> list[tuple[int, int]]:
    """The character spans of text's words."""
    return [m.span() for m in WORD.finditer(text)]


def changes(original: str, perturbed: str) -> tuple[list[P.TextChange], int, int]:
    """(the edits that make perturbed from original, word by word; the original's words; how
    many of them were changed or removed)."""
    a, b = words(original), words(perturbed)
    wa = [original[s:e] for s, e in a]
    wb = [perturbed[s:e] for s, e in b]
    out: list[P.TextChange] = []
    changed = 0
    matcher = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        changed += max(i2 - i1, j2 - j1) if op == "replace" else i2 - i1
        start = a[i1][0] if i1 < len(a) else len(original)
        end = a[i2 - 1][1] if i2 > i1 else start
        new_start = b[j1][0] if j1 < len(b) else len(perturbed)
        new_end = b[j2 - 1][1] if j2 > j1 else new_start
        out.append(
            P.TextChange(
                start=start,
                end=end,
                new_start=new_start,
                new_end=new_end,
                old=original[start:end],
                new=perturbed[new_start:new_end],
            )
        )
    return out, len(a), min(changed, len(a))


def example(
    row: int,
    labels: Sequence[str],
    goal: Goal,
    before: Asked,
    after: Asked | None,
    queries: int,
    seconds: float,
    note: str = "",
    embedding_flipped: bool | None = None,
    norm: float | None = None,
    steps: list[P.AttackStep] | None = None,
) -> P.AttackExample:
    """One judged example; after is None when it was skipped."""
    skipped = after is None
    final = before if after is None else after
    if skipped:
        result: P.ResultType = "Skipped"
    elif after is not None and after.reached and after.text != before.text:
        result = "Successful"
    else:
        result = "Failed"
    edits, n_words, changed = changes(before.text, final.text)
    return P.AttackExample(
        row=row,
        ground_truth_output=labels[goal.ground_truth],
        original_text=before.text,
        perturbed_text=final.text,
        original_output=labels[before.label],
        perturbed_output=labels[final.label],
        original_score=before.score,
        perturbed_score=final.score,
        num_queries=queries,
        result_type=result,
        original_probabilities=[float(x) for x in before.probabilities],
        perturbed_probabilities=[float(x) for x in final.probabilities],
        changes=edits,
        words=n_words,
        perturbed_words=changed,
        seconds=seconds,
        embedding_flipped=embedding_flipped,
        perturbation_norm=norm,
        steps=steps or [],
        note=note,
    )


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def summary(
    examples: Sequence[P.AttackExample],
    seconds: float,
    epsilon: float | None = None,
    norm: str = "",
) -> P.AttackSummary:
    """TextAttack's table over the examples (see the module's docstring)."""
    total = len(examples)
    done = [e for e in examples if e.result_type != "Skipped"]
    won = [e for e in done if e.result_type == "Successful"]
    right = sum(e.original_output == e.ground_truth_output for e in examples)
    still = sum(e.perturbed_output == e.ground_truth_output for e in examples)
    word_pcts = [_pct(e.perturbed_words, e.words) for e in won if e.words]
    flipped = [e for e in done if e.embedding_flipped]
    embedding = any(e.embedding_flipped is not None for e in examples)
    return P.AttackSummary(
        examples=total,
        successful=len(won),
        failed=len(done) - len(won),
        skipped=total - len(done),
        original_accuracy=_pct(right, total),
        accuracy_under_attack=_pct(still, total),
        attack_success_rate=_pct(len(won), len(done)),
        avg_perturbed_word_pct=round(float(np.mean(word_pcts)), 2) if word_pcts else 0.0,
        avg_words_per_input=round(float(np.mean([e.words for e in examples])), 2) if total else 0.0,
        avg_queries=round(float(np.mean([e.num_queries for e in done])), 2) if done else 0.0,
        seconds_per_example=round(seconds / total, 4) if total else 0.0,
        epsilon=epsilon,
        norm=norm,
        embedding_flip_rate=_pct(len(flipped), len(done)) if embedding else None,
        snapped_flip_rate=_pct(len(won), len(done)) if embedding else None,
    )
