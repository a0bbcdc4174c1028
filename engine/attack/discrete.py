"""The discrete attacks, TextAttack-style (goal + constraints + transformation + search):

- wordsub: TextFooler-style word substitution with GloVe 6B 50d neighbours (or the model's own
  token table), words ranked by leave-one-out deletion (or the gradient), greedy swaps, no
  stopword touched, no word changed twice, at most max_percent of the words changed.
- charedit: DeepWordBug-style character edits (swap, substitute, delete, insert) inside the
  most important words, each within an edit distance of its word.
- hotflip: gradient-guided whole-word token swaps, greedy or beam search.

Each registers a Recipe; perturb_texts runs one on a list of texts for adversarial training.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

from engine.attack import neighbours as nb
from engine.attack import recipes as R
from engine.attack.constraints import is_stopword, max_changes
from engine.attack.goal import BudgetSpent, Goal, GoalFunction
from engine.attack.recipes import Example, Outcome, setting
from engine.attack.search import Flip, WordState, beam_flips, greedy_flips, greedy_words, importance
from engine.attack.text import Words
from engine.attack.transformations import char_edits, flip_estimates, top_flips, word_swaps
from engine.attack.victim import Encoded, Victim
from engine.core.errors import EngineError

SPENT = "query budget spent"
SKIPPED = "the model already misses the goal's class"


def _importance_method(name: str, victim: Victim, recipe: str, black_box: str) -> str:
    """auto: the gradient when the victim has one (one backward pass instead of one query a
    word), else black_box; gradient refused, with what applies, for a black-box victim."""
    if name == "auto":
        return "gradient" if victim.has_gradients else black_box
    if name == "gradient" and not victim.has_gradients:
        raise EngineError(
            f"{recipe}'s importance=gradient needs a model with an embedding layer, and "
            f"{victim.description} has none",
            hint=f"use importance=auto or {black_box} with {recipe}; charedit and wordsub "
            "(neighbours=glove) attack any model by queries",
        )
    return name


def _skipped(fn: GoalFunction, text: str) -> bool:
    asked = fn.one(text)
    return asked.reached


def _ended(fn: GoalFunction, text: str, spent: bool, what: str) -> Outcome:
    asked = fn.known(text)
    if spent and not (asked and asked.reached):
        return Outcome(text, note=SPENT)
    if asked is not None and asked.reached:
        return Outcome(text)
    return Outcome(text, note=what)


# ------------------------------------------------------------------ wordsub


@dataclass
class WordsubSettings:
    neighbours: str = setting(
        "glove",
        "where replacement words come from: GloVe 6B 50d (65,000 most frequent words) or the "
        "model's own token table (white box, whole-word tokens)",
        choices=("glove", "model"),
    )
    importance: str = setting(
        "delete",
        "how words are ranked: leave-one-out deletion (one query a word, as TextFooler), the "
        "gradient (white box, one pass), or auto (the gradient when the model has one)",
        choices=("auto", "delete", "gradient"),
    )
    min_cos: float = setting(0.5, "smallest cosine similarity of a replacement", 0.0, 1.0)
    max_candidates: int = setting(50, "nearest neighbours tried per word", 1, 100)
    max_percent: float = setting(
        0.3, "share of the words that may change (ceil of share x words)", 0.01, 1.0
    )


def attack_wordsub(
    victim: Victim,
    goals: list[GoalFunction],
    examples: list[Example],
    s: WordsubSettings,
    trace: bool,
) -> list[Outcome]:
    method = _importance_method(s.importance, victim, "wordsub", "delete")
    source = nb.source(victim, s.neighbours)
    return [
        _wordsub(victim, fn, ex.text, s, method, source)
        for fn, ex in zip(goals, examples, strict=True)
    ]


def _wordsub(
    victim: Victim,
    fn: GoalFunction,
    text: str,
    s: WordsubSettings,
    method: str,
    source: nb.Neighbours,
) -> Outcome:
    words = Words(text)
    state = WordState()
    spent = False
    try:
        if _skipped(fn, text):
            return Outcome(text, note=SKIPPED)
        eligible = [i for i, w in enumerate(words.words) if not is_stopword(w)]
        swaps = word_swaps(source, [words.words[i] for i in eligible], s.max_candidates, s.min_cos)
        options = {i: c for i, c in zip(eligible, swaps, strict=True) if c}
        order = importance(method, victim, fn, words, [i for i in eligible if i in options])
        limit = max_changes(len(words), s.max_percent)
        greedy_words(fn, words, order, lambda i, _: options[i], limit, state)
    except BudgetSpent:
        spent = True
    return _ended(fn, words.with_changes(state.changes), spent, "no word swap reached the goal")


# ------------------------------------------------------------------ charedit


@dataclass
class CharEditSettings:
    importance: str = setting(
        "unk",
        "how words are ranked: replaced by [UNK] (as DeepWordBug) or left out (one query a "
        "word, in one batch), "
        "the gradient (white box, one pass), or auto (the gradient when the model has one, "
        "else unk)",
        choices=("auto", "unk", "delete", "gradient"),
    )
    per_op: int = setting(
        1, "random edits tried per kind (swap, substitute, delete, insert)", 1, 10
    )
    max_edits: int = setting(
        2, "largest edit distance from a changed word to its original (a swap costs 2)", 1, 10
    )
    max_percent: float = setting(
        1.0, "share of the words that may change (1: no cap, as DeepWordBug)", 0.01, 1.0
    )
    seed: int = setting(0, "seed of the random edits", 0, 2**31 - 1)


def attack_charedit(
    victim: Victim,
    goals: list[GoalFunction],
    examples: list[Example],
    s: CharEditSettings,
    trace: bool,
) -> list[Outcome]:
    method = _importance_method(s.importance, victim, "charedit", "unk")
    return [
        _charedit(victim, fn, ex.text, s, method) for fn, ex in zip(goals, examples, strict=True)
    ]


def _charedit(
    victim: Victim, fn: GoalFunction, text: str, s: CharEditSettings, method: str
) -> Outcome:
    words = Words(text)
    state = WordState()
    spent = False
    rng = np.random.default_rng([s.seed, zlib.crc32(text.encode())])

    def candidates(i: int, _: dict[int, str]) -> list[str]:
        return char_edits(words.words[i], rng, s.per_op, s.max_edits)

    try:
        if _skipped(fn, text):
            return Outcome(text, note=SKIPPED)
        eligible = [i for i, w in enumerate(words.words) if not is_stopword(w) and len(w) > 1]
        order = importance(method, victim, fn, words, eligible)
        limit = max_changes(len(words), s.max_percent)
        greedy_words(fn, words, order, candidates, limit, state)
    except BudgetSpent:
        spent = True
    return _ended(
        fn, words.with_changes(state.changes), spent, "no character edit reached the goal"
    )


# ------------------------------------------------------------------ hotflip


@dataclass
class HotflipSettings:
    max_swaps: int = setting(5, "most tokens swapped", 1, 50)
    beam_width: int = setting(1, "sequences kept per step (1: greedy)", 1, 20)
    top_k: int = setting(
        20, "swaps per sequence and step asked about, best first-order estimate first", 1, 500
    )
    skip_stopwords: bool = setting(True, "never swap a stopword")


def _movable(victim: Victim, enc: Encoded, skip_stopwords: bool) -> list[bool]:
    """Whole-word alphabetic tokens (not specials, no '##' piece on either side)."""
    out = []
    for i, (tok, sp) in enumerate(zip(enc.tokens, enc.special, strict=True)):
        nxt = enc.tokens[i + 1] if i + 1 < len(enc.tokens) else ""
        ok = not sp and tok.isascii() and tok.isalpha() and not nxt.startswith("##")
        out.append(ok and enc.ids[i] != victim.pad_id and not (skip_stopwords and is_stopword(tok)))
    return out


def hotflip_text(
    victim: Victim, fn: GoalFunction, text: str, s: HotflipSettings, greedy: bool = False
) -> Outcome:
    """HotFlip on one text: beam search of s.beam_width (or the plain greedy search)."""
    victim.require_gradients("take HotFlip's gradients")
    enc = victim.encode(text)
    movable = torch.tensor(_movable(victim, enc, s.skip_stopwords), dtype=torch.bool)
    table = victim.table()
    vocab = torch.nonzero(nb.whole_word_tokens(victim)).flatten()
    original = tuple(enc.ids)

    def spliced(ids: tuple[int, ...]) -> str | None:
        changes = {
            p: victim.token_of(t)
            for p, (t, o) in enumerate(zip(ids, original, strict=True))
            if t != o
        }
        out, last = [], 0
        for p in sorted(changes):
            a, b = enc.spans[p]
            out += [text[last:a], changes[p]]
            last = b
        candidate = "".join(out) + text[last:]
        for t in (candidate, victim.decode(ids)):
            if tuple(victim.encode(t).ids) == ids:
                return t
        return None

    def expand(beam: list[Flip]) -> list[list[tuple[tuple[int, ...], str, int]]]:
        coded = [Encoded(list(f.ids), enc.spans, enc.special, enc.tokens) for f in beam]
        grads, _ = _gradients(victim, fn, coded)
        out = []
        for row, f in enumerate(beam):
            ids = torch.tensor(f.ids)
            mov = movable.clone()
            mov[list(f.swapped)] = False
            rows = torch.nonzero(mov).flatten()
            est = flip_estimates(grads[row, : len(f.ids)], ids, table, rows, vocab)
            options = []
            for pos, tok in top_flips(est, rows, vocab, s.top_k):
                new = f.ids[:pos] + (tok,) + f.ids[pos + 1 :]
                t = spliced(new)
                if t is not None:
                    options.append((new, t, pos))
            out.append(options)
        return out

    spent = False
    best: list[Flip] = []
    try:
        start = Flip(original, text, frozenset(), fn.one(text))
        if start.asked.reached:
            return Outcome(text, note=SKIPPED)
        best = [start]
        if greedy:
            greedy_flips(fn, start, expand, s.max_swaps, best)
        else:
            beam_flips(fn, start, expand, s.max_swaps, s.beam_width, best)
    except BudgetSpent:
        spent = True
    return _ended(fn, best[0].text if best else text, spent, "no token swap reached the goal")


def _gradients(
    victim: Victim, fn: GoalFunction, coded: list[Encoded]
) -> tuple[torch.Tensor, torch.Tensor]:
    from engine.attack.search import gradients

    return gradients(victim, fn, coded)


def attack_hotflip(
    victim: Victim,
    goals: list[GoalFunction],
    examples: list[Example],
    s: HotflipSettings,
    trace: bool,
) -> list[Outcome]:
    victim.require_gradients("take HotFlip's gradients")
    return [hotflip_text(victim, fn, ex.text, s) for fn, ex in zip(goals, examples, strict=True)]


# ------------------------------------------------------------------ registry

R.register(
    R.Recipe(
        name="wordsub",
        kind="black-box",
        title="word substitution (TextFooler-style)",
        description="Swaps the most important words, one at a time, for their nearest GloVe "
        "(or model-embedding) neighbours within a cosine bound; never stopwords, never a word "
        "twice, at most max_percent of the words.",
        settings=WordsubSettings,
        attack=attack_wordsub,
        needs_gradients=False,
    )
)
R.register(
    R.Recipe(
        name="charedit",
        kind="black-box",
        title="character edits (DeepWordBug-style)",
        description="Edits characters (swap, substitute, delete, insert) inside the most "
        "important words, keeping the best edit of each word when it helps.",
        settings=CharEditSettings,
        attack=attack_charedit,
        needs_gradients=False,
    )
)
R.register(
    R.Recipe(
        name="hotflip",
        kind="gradient",
        title="HotFlip token swaps",
        description="Swaps whole-word tokens where the gradient's first-order estimate gains "
        "most, greedy or beam search, up to max_swaps tokens.",
        settings=HotflipSettings,
        attack=attack_hotflip,
        needs_gradients=True,
    )
)


def perturb_texts(
    victim: Victim,
    texts: list[str],
    labels: list[int],
    recipe: str = "charedit",
    budget: int = 50,
    settings: dict | None = None,
) -> list[str]:
    """Each text's adversarial version under recipe (untargeted, budget queries each), or the
    text itself when the attack failed or was skipped: for adversarial training."""
    if len(texts) != len(labels):
        raise EngineError(
            f"{len(texts)} texts but {len(labels)} labels", hint="give one label per text"
        )
    chosen = R.get(recipe)
    s = R.settings_of(chosen, settings or {})
    out: list[str] = []
    for start in range(0, len(texts), chosen.chunk):
        part = list(range(start, min(len(texts), start + chosen.chunk)))
        goals = [GoalFunction(victim, Goal(int(labels[i])), budget) for i in part]
        examples = [Example(-1, texts[i], int(labels[i])) for i in part]
        for i, fn, outcome in zip(
            part, goals, chosen.attack(victim, goals, examples, s, False), strict=True
        ):
            asked = fn.known(outcome.perturbed_text)
            done = asked is not None and asked.reached and outcome.perturbed_text != texts[i]
            out.append(outcome.perturbed_text if done else texts[i])
    return out
