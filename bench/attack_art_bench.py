"""Embedding-space attack figures against the Adversarial Robustness Toolbox (ART), side by
side on the same victim and inputs:

- the victim: tests.helpers.attack's embedding bag (MiniLM WordPiece tokens, trained a few
  seconds on Rotten Tomatoes), seen from its embedding layer on (FromEmbeddings);
- the inputs: 100 of its held-out texts, the ones it classifies right, as one padded batch with
  its mask fixed (ART needs one input shape), specials and padding masked out of the attack;
- FGSM and PGD: our pgd_perturb against ART's FastGradientMethod and ProjectedGradientDescent
  (num_random_init=0) on that batch, in alternating rounds (A, B, A, B, ...): median seconds
  for the 100 examples, the ratio, and the flip rates of the vectors (equal: the steps are the
  same). Our whole recipe (with snapping and judging the snapped text) is timed beside it;
- C&W L2: our batched cw_perturb against ART's CarliniL2Method one text at a time (its search
  asks about subsets of a batch, which a fixed mask cannot follow): seconds, flip rate and the
  median L2 norm of the flipping changes in mean-token-norm units.

    python -m bench --only attack-art [--quick]     (about 4 minutes, 1 with --quick)
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.common import load_note, median, row

N = 100
PGD = {"epsilon": 0.05, "steps": 10, "step_size": 0.25}  # relative: x RMS coordinate
FGSM = {"epsilon": 0.05}
WIDE = {"epsilon": 1.0, "steps": 10}  # a ball wide enough for snapping to flip too
CW = {"steps": 50, "search_steps": 5, "initial_const": 10.0, "learning_rate": 0.1}


class FromEmbeddings(nn.Module):
    """The victim from its embedding layer on, for one batch whose mask is fixed."""

    def __init__(self, model: nn.Module, mask: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.model, self.mask, self.classes = model, mask, classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_embeddings(x, self.mask)[:, : self.classes]


def _setup() -> dict[str, Any]:
    from tests.helpers.attack import test_examples, victim

    v = victim("embedding-bag")
    texts, labels = test_examples(N)
    pred = v.probabilities(texts).argmax(1)
    keep = [i for i in range(len(texts)) if pred[i] == labels[i]]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    enc = [v.encode(t) for t in texts]
    ids, mask = v.batch(enc)
    movable = mask.bool().clone()
    for r, e in enumerate(enc):
        movable[r, : len(e.ids)] &= ~torch.tensor(e.special)
    emb = v.embed(ids).detach()
    return {"v": v, "texts": texts, "labels": labels, "mask": mask, "movable": movable, "emb": emb}


def _fwd(v: Any) -> Any:
    return lambda e, m: v.model.forward_embeddings(e, m)[:, : len(v.labels)]


def _flips(v: Any, adv: torch.Tensor | np.ndarray, mask: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        out = _fwd(v)(torch.as_tensor(adv), mask).argmax(1)
    return float((out != y).float().mean()) * 100


def _gradient_rows(s: dict[str, Any], rounds: int) -> list[dict[str, str]]:
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    from engine.attack.embedding import epsilon_scale, pgd_perturb

    v, mask, movable, emb = s["v"], s["mask"], s["movable"], s["emb"]
    y = torch.tensor(s["labels"])
    n = len(y)
    clf = PyTorchClassifier(
        FromEmbeddings(v.model, mask, 2), nn.CrossEntropyLoss(), tuple(emb.shape[1:]), 2
    )
    x, yy = emb.numpy(), np.eye(2, dtype=np.float32)[y.numpy()]
    m = movable[..., None].expand_as(emb).float().numpy()
    unit = epsilon_scale(v.table(), "inf")
    rows = []
    for name, cfg in (("fgsm", FGSM), ("pgd", PGD)):
        eps = cfg["epsilon"] * unit
        steps = cfg.get("steps", 1)
        size = cfg.get("step_size", 1.0) * eps
        ours_t, art_t, ours_f, art_f = [], [], 0.0, 0.0
        pgd_perturb(_fwd(v), emb, mask, movable, y, epsilon=eps, steps=1, step_size=eps)  # warm
        for _ in range(rounds):  # A, B, A, B, ...
            t = time.perf_counter()
            ours = pgd_perturb(
                _fwd(v), emb, mask, movable, y, epsilon=eps, steps=steps, step_size=size
            )
            ours_t.append(time.perf_counter() - t)
            if name == "fgsm":
                attack: Any = FastGradientMethod(clf, norm=np.inf, eps=eps, batch_size=n)
            else:
                attack = ProjectedGradientDescent(
                    clf, norm=np.inf, eps=eps, eps_step=size, max_iter=steps,
                    num_random_init=0, batch_size=n, verbose=False,
                )  # fmt: skip
            t = time.perf_counter()
            theirs = attack.generate(x, yy, mask=m)
            art_t.append(time.perf_counter() - t)
            ours_f, art_f = _flips(v, ours, mask, y), _flips(v, theirs, mask, y)
        gap = float(np.abs(ours.numpy() - theirs).max())
        rows.append(
            row(
                f"{name} L-inf eps {cfg['epsilon']} x RMS, {n} examples (s)",
                f"{median(ours_t):.3f}",
                "",
                f"ART {median(art_t):.3f}",
                f"{median(ours_t) / median(art_t):.2f}x",
            )
        )
        rows.append(
            row(
                f"{name} vector flip rate (%)",
                f"{ours_f:.1f}",
                "equal to ART's",
                f"ART {art_f:.1f} (max gap {gap:.1e})",
            )
        )
    return rows


def _recipe_rows(s: dict[str, Any], rounds: int) -> list[dict[str, str]]:
    from engine.attack import recipes
    from engine.attack.goal import Goal, GoalFunction
    from engine.attack.recipes import Example

    v = s["v"]
    ex = [
        Example(i, t, lab) for i, (t, lab) in enumerate(zip(s["texts"], s["labels"], strict=True))
    ]
    rows = []
    for name, cfg in (("fgsm", FGSM), ("pgd", PGD), ("pgd", WIDE), ("cw", CW)):
        recipe = recipes.get(name)
        settings = recipes.settings_of(recipe, cfg)
        times, out = [], []
        for _ in range(1 if name == "cw" else rounds):
            goals = [GoalFunction(v, Goal(e.label)) for e in ex]
            t = time.perf_counter()
            out = []
            for a in range(0, len(ex), recipe.chunk):
                out += recipe.attack(
                    v, goals[a : a + recipe.chunk], ex[a : a + recipe.chunk], settings, False
                )
            times.append(time.perf_counter() - t)
        again = v.probabilities([o.perturbed_text for o in out]).argmax(1)
        snapped = float(np.mean([again[i] != e.label for i, e in enumerate(ex)])) * 100
        vectors = float(np.mean([bool(o.embedding_flipped) for o in out])) * 100
        rows.append(
            row(
                f"{name} recipe {cfg.get('epsilon', '')} with snapping, {len(ex)} examples (s)",
                f"{median(times):.3f}",
                "",
                f"flipped: vectors {vectors:.0f}%, snapped text {snapped:.0f}%",
            )
        )
    return rows


def _cw_rows(s: dict[str, Any], count: int) -> list[dict[str, str]]:
    from art.attacks.evasion import CarliniL2Method
    from art.estimators.classification import PyTorchClassifier

    from engine.attack.cw import cw_perturb
    from engine.attack.embedding import epsilon_scale

    v, mask, movable, emb = s["v"], s["mask"][:count], s["movable"][:count], s["emb"][:count]
    y = torch.tensor(s["labels"][:count])
    scale = epsilon_scale(v.table(), "2")
    lr = CW["learning_rate"] * epsilon_scale(v.table(), "inf")
    t = time.perf_counter()
    adv, found = cw_perturb(
        _fwd(v), emb, mask, movable, y, steps=CW["steps"], search_steps=CW["search_steps"],
        initial_const=CW["initial_const"], learning_rate=lr,
    )  # fmt: skip
    ours_t = time.perf_counter() - t
    ours_norm = ((adv - emb).flatten(1).norm(dim=1)[found] / scale).tolist()
    art_norm, t = [], time.perf_counter()
    for i in range(count):
        k = int(mask[i].sum())
        x = emb[i : i + 1, :k].numpy()
        clf = PyTorchClassifier(
            FromEmbeddings(v.model, mask[i : i + 1, :k], 2), nn.CrossEntropyLoss(), x.shape[1:], 2
        )
        a = CarliniL2Method(
            clf, initial_const=CW["initial_const"], binary_search_steps=CW["search_steps"],
            max_iter=CW["steps"], learning_rate=CW["learning_rate"], verbose=False,
        ).generate(x, np.eye(2, dtype=np.float32)[y[i : i + 1].numpy()])  # fmt: skip
        if clf.predict(a).argmax(1)[0] != int(y[i]):
            art_norm.append(float(np.linalg.norm(a - x)) / scale)
    art_t = time.perf_counter() - t
    return [
        row(
            f"cw L2, {count} examples (s)",
            f"{ours_t:.2f}",
            "",
            f"ART {art_t:.2f}",
            f"{ours_t / art_t:.2f}x",
        ),
        row(
            "cw flip rate (%) / median L2 of flips (x mean token norm)",
            f"{100 * len(ours_norm) / count:.0f} / {np.median(ours_norm) if ours_norm else 0:.3f}",
            "flips as often, norm no larger",
            f"ART {100 * len(art_norm) / count:.0f} / {np.median(art_norm) if art_norm else 0:.3f}",
        ),
    ]


def attack_art_bench(quick: bool = False) -> list[dict[str, str]]:
    """Every row: FGSM, PGD, our recipes, C&W; with the machine's load."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    before = load_note()
    torch.manual_seed(0)
    s = _setup()
    rounds = 3 if quick else 5
    rows = _gradient_rows(s, rounds)
    rows += _recipe_rows(s, rounds)
    rows += _cw_rows(s, 20 if quick else len(s["labels"]))
    rows.append(row("attack benchmarks: machine load", f"before: {before}; after: {load_note()}"))
    return rows


if __name__ == "__main__":
    for r in attack_art_bench("--quick" in sys.argv):
        print(" | ".join(r.values()))
