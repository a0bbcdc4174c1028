"""Searches of the discrete attacks, TextAttack-style: word importance ranking (leave-one-out
deletion, replacement with [UNK], or the gradient), greedy word swaps in that order, and the
greedy and beam searches over HotFlip's token swaps.

Every search step's candidates go to the GoalFunction in one batch (it asks the victim only
about texts it has not seen). A search ends at the goal, when nothing is left to try, or when
the query budget is spent (BudgetSpent propagates to the recipe, which keeps the best found).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from engine.attack.goal import Asked, BudgetSpent, Goal, GoalFunction
from engine.attack.text import Words, token_words
from engine.attack.victim import Encoded, Victim

UNK = "[UNK]"


def goal_loss(logits: Tensor, goal: Goal) -> Tensor:
    """Per row, what the attack increases: -log p(ground truth) untargeted, log p(target)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    if goal.target is None:
        return -logp[:, goal.ground_truth]
    return logp[:, goal.target]


def gradients(
    victim: Victim, fn: GoalFunction, encoded: Sequence[Encoded]
) -> tuple[Tensor, Tensor]:
    """(gradient of goal_loss w.r.t. the token vectors [B, T, D], the vectors [B, T, D]) in one
    forward and backward pass; counts B queries."""
    ids, mask = victim.batch(encoded)
    fn.count(len(encoded))
    with torch.enable_grad():
        embeds = victim.embed(ids).detach().requires_grad_(True)
        loss = goal_loss(victim.logits_of_embeddings(embeds, mask), fn.goal).sum()
        (grad,) = torch.autograd.grad(loss, embeds)
    return grad.detach(), embeds.detach()


def importance(
    method: str, victim: Victim, fn: GoalFunction, words: Words, eligible: list[int]
) -> list[int]:
    """The eligible words, most important first. delete/unk: the goal score of the text with
    the word left out / replaced by [UNK], all in one batch (a text that reaches the goal
    that way comes first); gradient: the first-order estimate of leaving the word's tokens
    out, -(grad . vector) summed over them, from one backward pass. Words past what the model
    reads are dropped in gradient mode (changing them changes nothing)."""
    if not eligible:
        return []
    if method == "gradient":
        enc = victim.encode(words.text)
        grad, embeds = gradients(victim, fn, [enc])
        per_token = -(grad[0] * embeds[0]).sum(-1)
        of_word = token_words(words, enc.spans, enc.special)
        scored = [(float(per_token[of_word[i]].sum()), i) for i in eligible if of_word[i]]
        return [i for _, i in sorted(scored, key=lambda s: -s[0])]
    if method == "unk":
        texts = [words.with_changes({i: UNK}) for i in eligible]
    else:
        texts = [words.without(i) for i in eligible]
    asked = fn.ask(texts)
    order = sorted(range(len(eligible)), key=lambda j: (not asked[j].reached, -asked[j].score))
    return [eligible[j] for j in order]


@dataclass
class WordState:
    """Where a greedy word search stands: the changes kept and what the victim said."""

    changes: dict[int, str] = field(default_factory=dict)
    asked: Asked | None = None


def greedy_words(
    fn: GoalFunction,
    words: Words,
    order: list[int],
    candidates: Callable[[int, dict[int, str]], list[str]],
    limit: int,
    state: WordState,
) -> WordState:
    """TextAttack's GreedyWordSwapWIR: for each word in order, ask about all its candidate
    replacements in one batch and keep the best one when it raises the goal score; stop at
    the goal or after `limit` words changed. `state` is updated in place (so the caller
    keeps the best found when the budget runs out)."""
    if state.asked is None:
        state.asked = fn.one(words.text)
    for i in order:
        if state.asked.reached or len(state.changes) >= limit:
            break
        options = [w for w in candidates(i, state.changes) if w != words.words[i]]
        if not options:
            continue
        texts = [words.with_changes({**state.changes, i: w}) for w in options]
        try:
            asked = fn.ask(texts)
        except BudgetSpent:  # keep the best of what the budget paid for
            known = [(w, fn.known(t)) for w, t in zip(options, texts, strict=True)]
            _keep(state, i, [w for w, a in known if a], [a for _, a in known if a])
            raise
        _keep(state, i, options, asked)
    return state


def _keep(state: WordState, i: int, options: list[str], asked: list[Asked]) -> None:
    """Word i becomes the best option when it reaches the goal or raises the score."""
    if not asked:
        return
    best = max(range(len(asked)), key=lambda j: (asked[j].reached, asked[j].score))
    assert state.asked is not None
    if asked[best].reached or asked[best].score > state.asked.score:
        state.changes = {**state.changes, i: options[best]}
        state.asked = asked[best]


# ------------------------------------------------------------------ HotFlip


@dataclass(frozen=True)
class Flip:
    """One sequence of the HotFlip search: its ids, text, swapped positions and answer."""

    ids: tuple[int, ...]
    text: str
    swapped: frozenset[int]
    asked: Asked


Expand = Callable[[list[Flip]], list[list[tuple[tuple[int, ...], str, int]]]]


def _step(fn: GoalFunction, beam: list[Flip], expand: Expand, best: list[Flip]) -> list[Flip]:
    """All candidates of every sequence in the beam, asked about in one batch, best first.
    When the budget runs out on the way, best[0] takes the best of what it paid for."""
    made: list[tuple[Flip, tuple[int, ...], str, int]] = []
    for parent, options in zip(beam, expand(beam), strict=True):
        made.extend((parent, ids, text, pos) for ids, text, pos in options)
    if not made:
        return []
    try:
        asked = fn.ask([text for _, _, text, _ in made])
    except BudgetSpent:
        for parent, ids, text, pos in made:
            a = fn.known(text)
            if a is not None and _better(f := Flip(ids, text, parent.swapped | {pos}, a), best[0]):
                best[0] = f
        raise
    seen: set[str] = set()
    out: list[Flip] = []
    for (parent, ids, text, pos), a in zip(made, asked, strict=True):
        if text in seen:
            continue
        seen.add(text)
        out.append(Flip(ids, text, parent.swapped | {pos}, a))
    out.sort(key=lambda f: (f.asked.reached, f.asked.score), reverse=True)
    return out


def _better(a: Flip, b: Flip) -> bool:
    return (a.asked.reached, a.asked.score) > (b.asked.reached, b.asked.score)


def greedy_flips(
    fn: GoalFunction, start: Flip, expand: Expand, max_swaps: int, best: list[Flip]
) -> Flip:
    """Greedy HotFlip: take the best-scoring swap each step until the goal or max_swaps; the
    best sequence seen (best[0], kept up to date for a budget that runs out)."""
    current = start
    for _ in range(max_swaps):
        if current.asked.reached:
            break
        found = _step(fn, [current], expand, best)
        if not found:
            break
        current = found[0]
        if _better(current, best[0]):
            best[0] = current
    return best[0]


def beam_flips(
    fn: GoalFunction, start: Flip, expand: Expand, max_swaps: int, width: int, best: list[Flip]
) -> Flip:
    """Beam search over swaps: keep the `width` best sequences each step (all their candidates
    asked in one batch) until one reaches the goal or max_swaps; width 1 is greedy_flips.
    best[0] is kept up to date with the best sequence so far (for a budget that runs out)."""
    beam = [start]
    for _ in range(max_swaps):
        if beam[0].asked.reached:
            break
        found = _step(fn, beam, expand, best)
        if not found:
            break
        beam = found[:width]
        if _better(beam[0], best[0]):
            best[0] = beam[0]
    return best[0]
