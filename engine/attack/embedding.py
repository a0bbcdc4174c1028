"""Embedding-space attacks (white box): FGSM, PGD and Carlini & Wagner L2 on the vectors the
model reads, batched over a chunk of examples (one forward pass per step for all of them).

Only real, non-special tokens move (the movable mask): [CLS], [SEP] and padding keep their
vectors. Untargeted attacks maximise the cross-entropy of the ground truth; targeted ones
minimise the cross-entropy of the target (C&W uses its logit margin instead). Each perturbed
vector is then snapped to its nearest vocabulary token (engine.attack.snap) and the service
runs the model again on that text: an example reports whether its vectors reached the goal
(embedding_flipped) and, as its result, whether the snapped text did.

Epsilon is relative, so that one value means the same on any model: for L-infinity it is in
units of the token table's RMS coordinate (epsilon 1: each coordinate may move by one typical
coordinate), for L2 in units of the mean token vector's norm (epsilon 1: the whole text's
change is as long as one typical token vector). epsilon_scale gives that unit; pgd_perturb
(used by adversarial training too) takes epsilon in absolute units.

FGSM and PGD match the Adversarial Robustness Toolbox's FastGradientMethod and
ProjectedGradientDescent step for step (tests/engine/attack/test_embedding.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from engine import protocol as P
from engine.attack.cw import cw_perturb
from engine.attack.goal import GoalFunction
from engine.attack.recipes import Example, Outcome, Recipe, register, setting
from engine.attack.snap import METRICS
from engine.attack.vectors import Batch, eval_mode, norms, record
from engine.attack.victim import Victim
from engine.core.errors import EngineError

NORMS = ("inf", "2")
CHUNK = 32  # examples per batched attack call
Forward = Callable[[Tensor, Tensor], Tensor]
OnStep = Callable[[int, Tensor, Tensor, Tensor], Tensor | None]


# --------------------------------------------------------------------- the maths


def epsilon_scale(table: Tensor, norm: str) -> float:
    """The unit of a relative epsilon for a token table [V, D]: its RMS coordinate for "inf",
    its mean row norm for "2" (all-zero rows, such as padding's, left out)."""
    check_norm(norm)
    rows = table.detach().float()
    rows = rows[rows.abs().sum(dim=1) > 0] if bool((rows.abs().sum(dim=1) > 0).any()) else rows
    if norm == "inf":
        value = float(rows.pow(2).mean().sqrt())
    else:
        value = float(rows.norm(dim=1).mean())
    return value if value > 0 else 1.0


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise EngineError(
            f"norm must be one of {', '.join(NORMS)}, got {norm!r}",
            hint='"inf" bounds each coordinate, "2" the whole change\'s length',
        )


def _direction(grad: Tensor, norm: str) -> Tensor:
    """The steepest unit step: the gradient's sign (L-inf) or the gradient scaled to length 1."""
    if norm == "inf":
        return grad.sign()
    n = norms(grad, "2").view(-1, *([1] * (grad.dim() - 1)))
    return torch.where(n > 0, grad / n.clamp_min(1e-30), torch.zeros_like(grad))


def _project(delta: Tensor, epsilon: float, norm: str) -> Tensor:
    if norm == "inf":
        return delta.clamp(-epsilon, epsilon)
    n = norms(delta, "2").view(-1, *([1] * (delta.dim() - 1)))
    return delta * torch.where(n > 0, (epsilon / n.clamp_min(1e-30)).clamp(max=1.0), 1.0)


def _random_start(
    like: Tensor, move: Tensor, epsilon: float, norm: str, generator: torch.Generator | None
) -> Tensor:
    """A uniform draw from the epsilon ball, on the movable coordinates only."""
    shape, dev = like.shape, like.device
    if norm == "inf":
        r = torch.rand(shape, generator=generator, device="cpu").to(dev) * 2 - 1
        return r * epsilon * move
    g = torch.randn(shape, generator=generator, device="cpu").to(dev) * move
    count = move.expand(shape).reshape(shape[0], -1).sum(dim=1).clamp_min(1)
    radius = torch.rand(shape[0], generator=generator).to(dev) ** (1.0 / count)
    return _project(g, 1.0, "2") * (epsilon * radius).view(-1, 1, 1)


def attack_loss(logits: Tensor, labels: Tensor, target: Tensor | None) -> Tensor:
    """The loss each row [B] ascends: CE of its label, or minus CE of its target (-1: none)."""
    up = F.cross_entropy(logits, labels, reduction="none")
    if target is None:
        return up
    down = -F.cross_entropy(logits, target.clamp_min(0), reduction="none")
    return torch.where(target >= 0, down, up)


def _pgd(
    forward: Forward,
    embeds: Tensor,
    mask: Tensor,
    movable: Tensor,
    labels: Tensor,
    *,
    epsilon: float,
    steps: int,
    step_size: float,
    norm: str,
    target: Tensor | None,
    random_start: bool,
    generator: torch.Generator | None,
    on_step: OnStep | None = None,
) -> tuple[Tensor, Tensor | None]:
    """(perturbed embeddings, logits of them: None without on_step). on_step(k, adv, logits, loss) sees the point
    after k steps (k = 0 .. steps) and may return rows [B] to freeze (budget spent)."""
    check_norm(norm)
    with torch.inference_mode(False), torch.enable_grad():
        # clones: tensors made under inference_mode cannot take part in autograd
        base, mask, labels = embeds.detach().clone(), mask.clone(), labels.clone()
        target = None if target is None else target.clone()
        move = movable.clone().to(base.dtype).unsqueeze(-1)
        delta = torch.zeros_like(base)
        if random_start:
            delta = _random_start(base, move, epsilon, norm, generator)
        frozen = torch.zeros(base.shape[0], dtype=torch.bool, device=base.device)
        for k in range(steps + 1):
            if k == steps and on_step is None:  # nobody reads the last point's logits
                return (base + delta).detach(), None
            adv = (base + delta).requires_grad_(k < steps)
            logits = forward(adv, mask)
            loss = attack_loss(logits, labels, target)
            if on_step is not None:
                stop = on_step(k, adv.detach(), logits.detach(), loss.detach())
                if stop is not None:
                    frozen = frozen | stop.to(frozen.device)
            if k == steps:
                return adv.detach(), logits.detach()
            (grad,) = torch.autograd.grad(loss.sum(), adv)
            grad = grad * move
            step = delta + step_size * _direction(grad, norm)
            step = _project(step, epsilon, norm) * move
            delta = torch.where(frozen.view(-1, 1, 1), delta, step.detach())
    raise AssertionError("unreachable")


def pgd_perturb(
    forward: Callable[[Tensor, Tensor], Tensor],
    embeds: Tensor,
    mask: Tensor,
    movable: Tensor,
    labels: Tensor,
    *,
    epsilon: float,
    steps: int,
    step_size: float,
    norm: str = "inf",
    target: Tensor | None = None,
    random_start: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """PGD in embedding space: embeds [B, T, D] moved within the epsilon ball (ABSOLUTE units,
    whole-row norm for "2") to raise the cross-entropy of labels [B] (or, where target [B] is
    given and >= 0, lower that of the target), moving only where movable [B, T] is true. steps
    of step_size (absolute); steps=1, step_size=epsilon is FGSM. forward(embeds, mask) gives
    logits. Returns the perturbed embeddings, detached, of the same shape."""
    if steps < 1:
        raise EngineError(f"steps must be at least 1, got {steps}")
    if not epsilon > 0:
        raise EngineError(f"epsilon must be above 0, got {epsilon}")
    adv, _ = _pgd(
        forward,
        embeds,
        mask,
        movable,
        labels,
        epsilon=epsilon,
        steps=steps,
        step_size=step_size,
        norm=norm,
        target=target,
        random_start=random_start,
        generator=generator,
    )
    return adv


# --------------------------------------------------------------------- the recipes

EPS_HELP = (
    "the ball's radius, relative to the token table: with norm inf in units of its RMS "
    "coordinate (each coordinate moves at most epsilon x that), with norm 2 in units of the "
    "mean token vector's length (the whole text's change is at most epsilon x that)"
)
NORM_HELP = "inf: bound every coordinate's change; 2: bound the length of the whole change"
SNAP_HELP = "how perturbed vectors snap to tokens: nearest by l2 distance or by cosine"


@dataclass
class FGSMSettings:
    epsilon: float = setting(1.0, EPS_HELP, low=1e-4, high=100.0)
    norm: str = setting("inf", NORM_HELP, choices=NORMS)
    snap: str = setting("l2", SNAP_HELP, choices=METRICS)

    def check(self) -> None:
        if self.norm == "inf" and self.epsilon > 10:
            raise EngineError(
                f"epsilon {self.epsilon:g} with norm inf moves each coordinate by more than ten "
                "typical coordinates: the vectors are no longer near any token",
                hint="with norm inf use an epsilon from 0.0001 to 10 (norm 2 allows up to 100)",
            )


@dataclass
class PGDSettings(FGSMSettings):
    steps: int = setting(20, "gradient steps", low=1, high=1000)
    step_size: float = setting(
        0.25, "each step's size as a fraction of epsilon", low=1e-3, high=2.0
    )
    random_start: bool = setting(False, "start from a random point of the ball, not the text")
    seed: int = setting(0, "seed of the random start", low=0, high=2**31 - 1)


def _pgd_attack(
    victim: Victim, goals: list[GoalFunction], examples: list[Example], s: FGSMSettings, trace: bool
) -> list[Outcome]:
    b = Batch.of(victim, goals, examples)
    scale = epsilon_scale(victim.table(), s.norm)
    eps = s.epsilon * scale
    steps = getattr(s, "steps", 1)
    step_size = getattr(s, "step_size", 1.0) * eps
    n = len(examples)
    frozen, notes = [False] * n, [""] * n
    count = b.counter(frozen, notes)
    traces: list[list[P.AttackStep]] = [[] for _ in range(n)]

    def on_step(k: int, adv: Tensor, logits: Tensor, loss: Tensor) -> Tensor:
        if trace and k > 0:
            live = [i for i in range(n) if not frozen[i]]
            record(b, traces, k, adv, logits, loss, live, scale, s.norm, s.snap)
        return count()

    generator = torch.Generator().manual_seed(getattr(s, "seed", 0))
    was = eval_mode(victim)
    try:
        adv, logits = _pgd(
            victim.logits_of_embeddings,
            b.embeds,
            b.mask,
            b.movable,
            b.labels,
            epsilon=eps,
            steps=steps,
            step_size=step_size,
            norm=s.norm,
            target=b.target,
            random_start=getattr(s, "random_start", False),
            generator=generator,
            on_step=on_step,
        )
    finally:
        if was:
            victim.model.train()
    assert logits is not None
    sizes = (norms(adv - b.embeds, s.norm) / scale).tolist()
    word = "RMS coordinate" if s.norm == "inf" else "mean token norm"
    for i in range(n):
        what = f"epsilon {s.epsilon:g} x {scale:.4g} ({word}) = {eps:.4g} absolute (L{s.norm})"
        notes[i] = f"{notes[i]}; {what}" if notes[i] else what
    out = b.outcomes(adv, logits, sizes, notes, s.snap)
    for o, t in zip(out, traces, strict=True):
        o.steps = t
    return out


@dataclass
class CWSettings:
    steps: int = setting(50, "optimiser steps per constant tried", low=1, high=1000)
    search_steps: int = setting(
        5, "binary search steps over the constant that trades norm for success", low=1, high=20
    )
    initial_const: float = setting(
        10.0, "the first constant (weight of the goal against the norm)", low=1e-4, high=1e6
    )
    learning_rate: float = setting(
        0.1, "Adam's step, relative to the token table's RMS coordinate", low=1e-4, high=10.0
    )
    confidence: float = setting(
        0.0, "the logit margin past the decision boundary to reach (kappa)", low=0.0, high=50.0
    )
    snap: str = setting("l2", SNAP_HELP, choices=METRICS)


def _cw_attack(
    victim: Victim, goals: list[GoalFunction], examples: list[Example], s: CWSettings, trace: bool
) -> list[Outcome]:
    b = Batch.of(victim, goals, examples)
    scale = epsilon_scale(victim.table(), "2")
    coord = epsilon_scale(victim.table(), "inf")
    n = len(examples)
    frozen, notes = [False] * n, [""] * n
    count = b.counter(frozen, notes)
    traces: list[list[P.AttackStep]] = [[] for _ in range(n)]
    seen = [0]

    def on_step(k: int, adv: Tensor, logits: Tensor, loss: Tensor) -> Tensor:
        seen[0] += 1
        if trace:
            live = [i for i in range(n) if not frozen[i]]
            record(b, traces, seen[0], adv, logits, loss, live, scale, "2", s.snap)
        return count()

    was = eval_mode(victim)
    try:
        adv, found = cw_perturb(
            victim.logits_of_embeddings,
            b.embeds,
            b.mask,
            b.movable,
            b.labels,
            target=b.target,
            steps=s.steps,
            search_steps=s.search_steps,
            initial_const=s.initial_const,
            learning_rate=s.learning_rate * coord,
            confidence=s.confidence,
            on_step=on_step,
        )
    finally:
        if was:
            victim.model.train()
    with torch.no_grad():
        logits = victim.logits_of_embeddings(adv, b.mask)
    sizes = (norms(adv - b.embeds, "2") / scale).tolist()
    for i in range(n):
        if not found[i] and not notes[i]:
            notes[i] = "no constant tried flipped the vectors"
        what = f"norm in units of the mean token norm, {scale:.4g} absolute"
        notes[i] = f"{notes[i]}; {what}" if notes[i] else what
    out = b.outcomes(adv, logits, sizes, notes, s.snap)
    for o, t in zip(out, traces, strict=True):
        o.steps = t
    return out


register(
    Recipe(
        name="fgsm",
        kind="embedding",
        title="FGSM in embedding space",
        description="one gradient step of size epsilon (Goodfellow et al. 2015) on the token "
        "vectors, then each vector snapped to its nearest token",
        settings=FGSMSettings,
        attack=_pgd_attack,
        needs_gradients=True,
        chunk=CHUNK,
    )
)
register(
    Recipe(
        name="pgd",
        kind="embedding",
        title="PGD in embedding space",
        description="projected gradient descent (Madry et al. 2018) within an epsilon ball "
        "around the token vectors, then each vector snapped to its nearest token",
        settings=PGDSettings,
        attack=_pgd_attack,
        needs_gradients=True,
        chunk=CHUNK,
    )
)
register(
    Recipe(
        name="cw",
        kind="embedding",
        title="Carlini & Wagner L2 in embedding space",
        description="the smallest L2 change of the token vectors that flips the prediction "
        "(Carlini & Wagner 2017: Adam on norm + c x margin, binary search over c), then "
        "snapped to tokens",
        settings=CWSettings,
        attack=_cw_attack,
        needs_gradients=True,
        chunk=CHUNK,
    )
)
