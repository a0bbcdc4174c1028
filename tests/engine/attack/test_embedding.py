"""Embedding-space attacks: FGSM and PGD equal the Adversarial Robustness Toolbox's on the same
inputs (bag and CNN victims), specials and padding never move, the ball holds, targeted PGD
aims, C&W flips with a small norm (compared with ART's), snapped texts decode and are judged
from text again, bad settings and victims without gradients are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.attacks.evasion import CarliniL2Method, FastGradientMethod, ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from torch import nn

from engine.attack import recipes
from engine.attack.cw import cw_perturb
from engine.attack.embedding import epsilon_scale, pgd_perturb
from engine.attack.goal import Goal, GoalFunction
from engine.attack.recipes import Example
from engine.attack.snap import nearest_tokens
from engine.attack.victim import Victim
from engine.core.errors import EngineError
from tests.helpers.attack import test_examples as held_out
from tests.helpers.attack import victim


class FromEmbeddings(nn.Module):
    """The victim from its embedding layer on, for a batch whose mask is fixed."""

    def __init__(self, model: nn.Module, mask: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.model, self.mask, self.classes = model, mask, classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_embeddings(x, self.mask)[:, : self.classes]


def _inputs(v: Victim, n: int) -> tuple[torch.Tensor, ...]:
    texts, labels = held_out(n)
    enc = [v.encode(t) for t in texts]
    ids, mask = v.batch(enc)
    movable = mask.bool().clone()
    for row, e in enumerate(enc):
        movable[row, : len(e.ids)] &= ~torch.tensor(e.special)
    return ids, mask, movable, v.embed(ids).detach(), torch.tensor(labels)


def _forward(v: Victim):
    return lambda e, m: v.model.forward_embeddings(e, m)[:, : len(v.labels)]


@pytest.mark.parametrize("arch", ["embedding-bag", "cnn"])
@pytest.mark.parametrize("norm", ["inf", "2"])
def test_fgsm_and_pgd_equal_art(arch: str, norm: str) -> None:
    v = victim(arch)
    _ids, mask, movable, emb, y = _inputs(v, 12)
    clf = PyTorchClassifier(
        FromEmbeddings(v.model, mask, 2),
        nn.CrossEntropyLoss(),
        input_shape=tuple(emb.shape[1:]),
        nb_classes=2,
    )
    x = emb.numpy()
    m = movable[..., None].expand_as(emb).float().numpy()
    art_norm = np.inf if norm == "inf" else 2
    eps = 0.5 * epsilon_scale(v.table(), norm)
    ours = pgd_perturb(
        _forward(v), emb, mask, movable, y, epsilon=eps, steps=1, step_size=eps, norm=norm
    )
    theirs = FastGradientMethod(clf, norm=art_norm, eps=eps, batch_size=12).generate(
        x, np.eye(2, dtype=np.float32)[y], mask=m
    )
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)
    for targeted in (False, True):
        aim = 1 - y if targeted else y
        ours = pgd_perturb(
            _forward(v), emb, mask, movable, y, epsilon=eps, steps=8, step_size=eps / 4,
            norm=norm, target=aim if targeted else None,
        )  # fmt: skip
        theirs = ProjectedGradientDescent(
            clf, norm=art_norm, eps=eps, eps_step=eps / 4, max_iter=8, targeted=targeted,
            num_random_init=0, batch_size=12, verbose=False,
        ).generate(x, np.eye(2, dtype=np.float32)[aim], mask=m)  # fmt: skip
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-4)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_specials_and_padding_stay_and_the_ball_holds(norm: str) -> None:
    v = victim("cnn")
    _ids, mask, movable, emb, y = _inputs(v, 10)
    assert (~movable & mask.bool()).any() and (~mask.bool()).any()  # specials and padding
    eps = 0.3 * epsilon_scale(v.table(), norm)
    g = torch.Generator().manual_seed(0)
    adv = pgd_perturb(
        _forward(v), emb, mask, movable, y, epsilon=eps, steps=5, step_size=eps / 2,
        norm=norm, random_start=True, generator=g,
    )  # fmt: skip
    assert adv.shape == emb.shape and not adv.requires_grad
    assert torch.equal(adv[~movable], emb[~movable])
    delta = (adv - emb).flatten(1)
    size = delta.abs().amax(dim=1) if norm == "inf" else delta.norm(dim=1)
    assert (size <= eps * (1 + 1e-5)).all() and (size > 0).all()


def test_targeted_aims_where_random_does_not() -> None:
    v = victim("embedding-bag")
    _ids, mask, movable, emb, y = _inputs(v, 40)
    fwd = _forward(v)
    pred = fwd(emb, mask).argmax(1)
    aim = 1 - pred
    eps = 0.3 * epsilon_scale(v.table(), "inf")
    g = torch.Generator().manual_seed(0)
    adv = pgd_perturb(
        fwd, emb, mask, movable, y, epsilon=eps, steps=10, step_size=eps / 4, target=aim
    )
    noise = pgd_perturb(
        fwd, emb, mask, movable, y, epsilon=eps, steps=1,
        step_size=0.0, random_start=True, generator=g,
    )  # fmt: skip
    hit = (fwd(adv, mask).argmax(1) == aim).float().mean()
    by_chance = (fwd(noise, mask).argmax(1) == aim).float().mean()
    assert hit > by_chance + 0.3
    # aimed at the class it already predicts, it never leaves it
    stay = pgd_perturb(
        fwd, emb, mask, movable, y, epsilon=eps, steps=10, step_size=eps / 4, target=pred
    )
    assert torch.equal(fwd(stay, mask).argmax(1), pred)


def test_cw_flips_with_a_norm_no_larger_than_arts() -> None:
    v = victim("embedding-bag")
    _ids, mask, movable, emb, _ = _inputs(v, 8)
    fwd = _forward(v)
    pred = fwd(emb, mask).argmax(1)
    scale = epsilon_scale(v.table(), "2")
    adv, found = cw_perturb(
        fwd, emb, mask, movable, pred, steps=40, search_steps=4, initial_const=10,
        learning_rate=0.1 * epsilon_scale(v.table(), "inf"),
    )  # fmt: skip
    flipped = fwd(adv, mask).argmax(1) != pred
    assert torch.equal(flipped, found) and flipped.float().mean() >= 0.75
    ours = (adv - emb).flatten(1).norm(dim=1)[flipped] / scale
    assert torch.equal(adv[~movable], emb[~movable])
    theirs, their_flips = [], 0
    for i in range(len(pred)):  # one text at a time: ART's C&W asks about subsets of its batch
        n = int(mask[i].sum())
        x = emb[i : i + 1, :n].numpy()
        clf = PyTorchClassifier(
            FromEmbeddings(v.model, mask[i : i + 1, :n], 2), nn.CrossEntropyLoss(),
            input_shape=x.shape[1:], nb_classes=2,
        )  # fmt: skip
        a = CarliniL2Method(
            clf, initial_const=10, binary_search_steps=4, max_iter=40, learning_rate=0.1,
            verbose=False,
        ).generate(x, np.eye(2, dtype=np.float32)[pred[i : i + 1]])  # fmt: skip
        if clf.predict(a).argmax(1)[0] != int(pred[i]):
            their_flips += 1
            theirs.append(float(np.linalg.norm(a - x)) / scale)
    assert int(flipped.sum()) >= their_flips - 1
    if theirs:
        assert float(ours.median()) <= 1.5 * float(np.median(theirs))
    assert float(ours.median()) < 1.0  # less than one token vector's length


def _run(name: str, v: Victim, n: int, trace: bool = False, budget: int = 0, **given):
    texts, labels = held_out(n)
    ex = [Example(i, t, lab) for i, (t, lab) in enumerate(zip(texts, labels, strict=True))]
    goals = [GoalFunction(v, Goal(e.label), budget) for e in ex]
    recipe = recipes.get(name)
    out = recipe.attack(v, goals, ex, recipes.settings_of(recipe, given), trace)
    return ex, goals, out


def test_pgd_recipe_snaps_to_text_that_is_judged_again() -> None:
    v = victim("embedding-bag")
    ex, goals, out = _run("pgd", v, 8, trace=True, epsilon=1.0, steps=4)
    assert len(out) == 8 and all(g.queries == 5 for g in goals)
    texts = [o.perturbed_text for o in out]
    again = v.probabilities(texts).argmax(1)
    snapped = [int(again[i]) != e.label for i, e in enumerate(ex)]
    assert all(o.embedding_flipped for o in out) and sum(snapped) >= 4
    for o, e in zip(out, ex, strict=True):
        assert o.perturbed_text != e.text and "absolute" in o.note and "RMS" in o.note
        assert o.perturbation_norm == pytest.approx(1.0, rel=1e-4)
        assert [s.step for s in o.steps] == [1, 2, 3, 4]
        assert o.steps[-1].snapped_text == o.perturbed_text
        assert o.steps[-1].label in v.labels and len(o.steps[-1].probabilities) == 2
    # a tiny ball snaps back to the very tokens: the text is the original
    ex, _, out = _run("fgsm", v, 4, epsilon=0.001)
    assert [o.perturbed_text for o in out] == [e.text for e in ex]


def test_cw_recipe_and_the_budget() -> None:
    v = victim("embedding-bag")
    _, goals, out = _run("cw", v, 4, steps=20, search_steps=2)
    assert all(g.queries == 40 for g in goals)
    assert sum(bool(o.embedding_flipped) for o in out) >= 3
    assert all(o.perturbation_norm is not None and o.perturbation_norm < 2 for o in out)
    _ex, goals, out = _run("pgd", v, 3, budget=5, steps=20)
    assert all("budget" in o.note for o in out)


def test_snapping_never_picks_a_special() -> None:
    v = victim("embedding-bag")
    table = v.table()
    assert nearest_tokens(table[[2000, 2001]], table, v.special_ids()).tolist() == [2000, 2001]
    for metric in ("l2", "cosine"):
        got = nearest_tokens(table[[101, 102]], table, v.special_ids(), metric)
        assert not set(got.tolist()) & v.special_ids()


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("pgd", {"epsilon": 0.0}),
        ("pgd", {"epsilon": 20.0}),  # too far for norm inf
        ("pgd", {"steps": 0}),
        ("pgd", {"steps": 1001}),
        ("pgd", {"norm": "1"}),
        ("fgsm", {"snap": "dot"}),
        ("fgsm", {"steps": 3}),
        ("cw", {"initial_const": -1.0}),
    ],
)
def test_bad_settings_are_refused(name: str, given: dict) -> None:
    with pytest.raises(EngineError):
        recipes.settings_of(recipes.get(name), given)
    assert recipes.settings_of(recipes.get("pgd"), {"epsilon": 20.0, "norm": "2"}).epsilon == 20


def test_a_victim_without_gradients_is_refused() -> None:
    one = victim("embedding-bag")
    both = Victim([one.members[0], one.members[0]], "an ensemble of 2 runs")
    for name in ("fgsm", "pgd", "cw"):
        assert recipes.get(name).needs_gradients
        with pytest.raises(EngineError, match="ensemble"):
            _run(name, both, 2)
