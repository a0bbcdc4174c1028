"""Carlini & Wagner L2 in embedding space, batched: the smallest change of the movable token
vectors that reaches the goal.

For each example, Adam minimises ||delta||^2 + c * f(embeds + delta), f the logit margin
(untargeted: Z[truth] - max other Z; targeted: max other Z - Z[target]; floored at -kappa),
and a binary search over c per example keeps the smallest flipping change seen (c halves
towards the last failure after a success, grows tenfold until the first). Embeddings have no
box to stay in, so there is no tanh change of variables.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

OnStep = Callable[[int, Tensor, Tensor, Tensor], Tensor | None]
_NEVER = 1e10  # the upper bound of c before any success


def margin(logits: Tensor, labels: Tensor, target: Tensor | None) -> Tensor:
    """How far each row [B] is from its goal, in logits (<= 0: reached): Z[truth] - max other
    Z untargeted, max other Z - Z[target] where target >= 0."""

    def best_other(cls: Tensor) -> Tensor:
        hide = torch.nn.functional.one_hot(cls, logits.shape[1]).bool()
        return logits.masked_fill(hide, float("-inf")).amax(dim=1)

    own = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    out = own - best_other(labels)
    if target is not None:
        t = target.clamp_min(0)
        aim = logits.gather(1, t.view(-1, 1)).squeeze(1)
        out = torch.where(target >= 0, best_other(t) - aim, out)
    return out


def cw_perturb(
    forward: Callable[[Tensor, Tensor], Tensor],
    embeds: Tensor,
    mask: Tensor,
    movable: Tensor,
    labels: Tensor,
    *,
    target: Tensor | None = None,
    steps: int = 100,
    search_steps: int = 6,
    initial_const: float = 10.0,
    learning_rate: float = 0.1,
    confidence: float = 0.0,
    on_step: OnStep | None = None,
) -> tuple[Tensor, Tensor]:
    """(perturbed embeddings [B, T, D], found [B]): each row's smallest goal-reaching change
    found (the original where none was). learning_rate is absolute. on_step(k, adv, logits,
    loss) sees every forward pass and may return rows [B] to freeze (budget spent)."""
    with torch.inference_mode(False), torch.enable_grad():
        base, mask, labels = embeds.detach().clone(), mask.clone(), labels.clone()
        target = None if target is None else target.clone()
        move = movable.clone().to(base.dtype).unsqueeze(-1)
        return _search(
            forward,
            base,
            mask,
            move,
            labels,
            target,
            steps,
            search_steps,
            initial_const,
            learning_rate,
            confidence,
            on_step,
        )


def _search(
    forward: Callable[[Tensor, Tensor], Tensor],
    base: Tensor,
    mask: Tensor,
    move: Tensor,
    labels: Tensor,
    target: Tensor | None,
    steps: int,
    search_steps: int,
    initial_const: float,
    learning_rate: float,
    confidence: float,
    on_step: OnStep | None,
) -> tuple[Tensor, Tensor]:
    rows = base.shape[0]
    dev = base.device
    const = torch.full((rows,), float(initial_const), device=dev)
    lower = torch.zeros(rows, device=dev)
    upper = torch.full((rows,), _NEVER, device=dev)
    best = base.clone()
    best_sq = torch.full((rows,), float("inf"), device=dev)
    frozen = torch.zeros(rows, dtype=torch.bool, device=dev)
    k = 0
    for _ in range(search_steps):
        delta = torch.zeros_like(base, requires_grad=True)
        opt = torch.optim.Adam([delta], lr=learning_rate)
        won = torch.zeros(rows, dtype=torch.bool, device=dev)
        for _ in range(steps):
            change = delta * move
            adv = base + change
            logits = forward(adv, mask)
            m = margin(logits, labels, target)
            sq = change.pow(2).flatten(1).sum(dim=1)
            loss = sq + const * m.clamp_min(-confidence)
            if on_step is not None:
                stop = on_step(k, adv.detach(), logits.detach(), loss.detach())
                if stop is not None:
                    frozen = frozen | stop.to(dev)
            k += 1
            with torch.no_grad():
                ok = (m <= -confidence) & (m < 0) & ~frozen
                won |= ok
                better = ok & (sq < best_sq)
                best_sq = torch.where(better, sq, best_sq)
                best = torch.where(better.view(-1, 1, 1), adv.detach(), best)
            if bool(frozen.all()):
                return best, torch.isfinite(best_sq)
            (delta.grad,) = torch.autograd.grad(loss.sum(), delta)  # not into the model's
            opt.step()
        with torch.no_grad():  # the binary search over c, per row
            upper = torch.where(won, torch.minimum(upper, const), upper)
            lower = torch.where(won, lower, torch.maximum(lower, const))
            grow = upper >= _NEVER / 10
            const = torch.where(won | ~grow, (lower + upper) / 2, const * 10)
    return best, torch.isfinite(best_sq)
