"""A chunk of examples as one batch of vectors for the embedding-space recipes: ids, masks,
the movable mask (real, non-special tokens), their vectors, labels and targets; vector queries
counted per example against its budget; per-step traces; snapped texts and the outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from engine import protocol as P
from engine.attack.goal import BudgetSpent, GoalFunction
from engine.attack.recipes import Example, Outcome
from engine.attack.snap import snap_ids, text_of_ids
from engine.attack.victim import Encoded, Victim


def norms(delta: Tensor, norm: str) -> Tensor:
    """Each row's norm [B] of delta [B, ...], flattened: "inf" or "2"."""
    flat = delta.reshape(delta.shape[0], -1)
    return flat.abs().amax(dim=1) if norm == "inf" else flat.norm(dim=1)


@dataclass
class Batch:
    """A chunk of examples as one padded batch, with what every recipe needs."""

    victim: Victim
    goals: list[GoalFunction]
    examples: list[Example]
    encoded: list[Encoded]
    ids: Tensor
    mask: Tensor
    movable: Tensor
    embeds: Tensor
    labels: Tensor
    target: Tensor | None

    @classmethod
    def of(cls, victim: Victim, goals: list[GoalFunction], examples: list[Example]) -> Batch:
        victim.require_gradients("attack in embedding space")
        encoded = [victim.encode(e.text) for e in examples]
        ids, mask = victim.batch(encoded)
        device = victim.table().device
        ids, mask = ids.to(device), mask.to(device)
        movable = mask.bool().clone()
        for row, e in enumerate(encoded):
            movable[row, : len(e.ids)] &= ~torch.tensor(e.special, dtype=torch.bool, device=device)
        labels = torch.tensor([g.goal.ground_truth for g in goals], device=device)
        targets = [g.goal.target for g in goals]
        target = None
        if any(t is not None for t in targets):
            target = torch.tensor([-1 if t is None else t for t in targets], device=device)
        with torch.no_grad():
            embeds = victim.embed(ids).detach()
        return cls(victim, goals, examples, encoded, ids, mask, movable, embeds, labels, target)

    def reached(self, logits: Tensor) -> list[bool]:
        return [g.goal.reached(p) for g, p in zip(self.goals, probs(logits), strict=True)]

    def counter(self, frozen: list[bool], notes: list[str]) -> Callable[[], Tensor]:
        """Counts one vector query per live example; rows whose budget is spent freeze."""

        def count() -> Tensor:
            for i, g in enumerate(self.goals):
                if frozen[i]:
                    continue
                try:
                    g.count(1)
                except BudgetSpent:
                    frozen[i] = True
                    notes[i] = "the query budget ran out"
            return torch.tensor(frozen)

        return count

    def texts(self, adv: Tensor, rows: list[int], snap: str) -> dict[int, str]:
        """The snapped text of chosen rows of adv."""
        snapped = snap_ids(self.victim, adv[rows], self.ids[rows], self.movable[rows], snap)
        out = {}
        for j, row in enumerate(rows):
            e = self.encoded[row]
            out[row] = text_of_ids(
                self.victim, self.examples[row].text, e, snapped[j, : len(e.ids)].tolist()
            )
        return out

    def outcomes(
        self, adv: Tensor, logits: Tensor, norms: list[float], notes: list[str], snap: str
    ) -> list[Outcome]:
        texts = self.texts(adv, list(range(len(self.examples))), snap)
        return [
            Outcome(
                perturbed_text=texts[i],
                note=notes[i],
                embedding_flipped=reached,
                perturbation_norm=norms[i],
            )
            for i, reached in enumerate(self.reached(logits))
        ]


def probs(logits: Tensor) -> np.ndarray:
    return torch.softmax(logits.detach().float(), dim=-1).cpu().numpy()


def _eval_mode(victim: Victim) -> bool:
    model = victim.model
    was = bool(getattr(model, "training", False))
    if was:
        model.eval()
    return was


def record(
    b: Batch,
    traces: list[list[P.AttackStep]],
    k: int,
    adv: Tensor,
    logits: Tensor,
    loss: Tensor,
    rows: list[int],
    scale: float,
    norm: str,
    snap: str,
) -> None:
    if not rows:
        return
    p = probs(logits)
    size = (norms(adv - b.embeds, norm) / scale).tolist()
    texts = b.texts(adv, rows, snap)
    for i in rows:
        traces[i].append(
            P.AttackStep(
                step=k,
                loss=float(loss[i]),
                label=b.victim.labels[int(p[i].argmax())],
                probabilities=[float(x) for x in p[i]],
                norm=float(size[i]),
                snapped_text=texts[i],
            )
        )


def eval_mode(victim: Victim) -> bool:
    """Put the victim's model in eval mode; whether it was training (to put it back)."""
    model = victim.model
    was = bool(getattr(model, "training", False))
    if was:
        model.eval()
    return was
