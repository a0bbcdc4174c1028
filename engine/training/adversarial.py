"""Adversarial training and robustness while training, for classifiers.

- EmbeddingPGD: [train] adversarial = "pgd". Each micro-batch's token vectors (the model's
  embeddings door: forward(ids, mask) == forward_embeddings(embed(ids), mask)) are pushed by
  PGD (engine.attack.embedding.pgd_perturb) within adv_epsilon, relative to the token table's
  size (epsilon_scale), on the real non-special tokens only; the step's loss is
  (1 - adv_ratio) * clean cross-entropy + adv_ratio * cross-entropy on the perturbed vectors.
- TextAugmenter: adversarial = "augment". A share adv_ratio of each batch's examples is
  attacked with a discrete recipe (charedit, wordsub: engine.attack.discrete.perturb_texts)
  by the current model, tokenized with the run's tokenizer and trained on with its true label.
- RobustCheck: robust_every = N. Every N steps the first robust_n rows of the validation split
  are attacked in eval mode (pgd on the vectors, or charedit/wordsub on the texts): accuracy
  under attack and the attack's success rate, as shares like accuracy, go to the callbacks.

Nothing here keeps state of its own: PGD's random start and the choice of rows to attack are
seeded by (seed, step), and the discrete attacks run on a copy of the random generators, so a
resumed run repeats the uninterrupted one (the checkpoint's generators are all there is).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.training.config import TrainConfig
from engine.training.data import Batch, TextExamples, collate


@dataclass
class TextSide:
    """What attacks on text need beyond the token ids: the run's tokenizer, the class names,
    the architecture (a victim is a run's model), and the texts of the rows of the training and
    validation examples (None where no attack reads them)."""

    tokenizer: Any  # a tokenizers.Tokenizer
    labels: list[str]
    arch: str
    params: dict[str, Any]
    max_length: int
    pad_id: int = 0
    train_texts: Sequence[str] | None = None
    val_texts: Sequence[str] | None = None
    run_dir: Path = Path(".")

    def special_ids(self) -> set[int]:
        """The tokenizer's special tokens ([CLS], [SEP], [PAD]): never perturbed."""
        out = {self.pad_id}
        decoder = getattr(self.tokenizer, "get_added_tokens_decoder", None)
        if callable(decoder):
            for i, token in decoder().items():
                if getattr(token, "special", False):
                    out.add(int(i))
        return out


def has_door(model: nn.Module) -> bool:
    return all(
        callable(getattr(model, name, None))
        for name in ("embed", "forward_embeddings", "input_embeddings")
    )


def check_adversarial(model: nn.Module, config: TrainConfig, side: TextSide | None) -> None:
    """EngineError when the model or what the run was given cannot do what config asks."""
    if config.needs_door and not has_door(model):
        what = 'adversarial = "pgd"' if config.adversarial == "pgd" else 'robust_recipe "pgd"'
        raise EngineError(
            f"{what} perturbs the vectors the model reads, and {type(model).__name__} has no "
            "embeddings door (embed, forward_embeddings, input_embeddings)",
            hint='use adversarial = "augment" and a robust_recipe of charedit or wordsub: '
            "they need only the model's outputs",
        )
    if config.needs_texts:
        what = "adversarial augment" if config.adversarial == "augment" else "robust_recipe"
        if side is None:
            raise EngineError(
                f"{what} attacks texts, and this run was given token ids only",
                hint="start it as a run of the workbench (it keeps the texts and tokenizer)",
            )
        if config.adversarial == "augment" and side.train_texts is None:
            raise EngineError("adversarial augment needs the training split's texts")
        if config.robust_every > 0 and config.robust_recipe != "pgd" and side.val_texts is None:
            raise EngineError(f"robust_recipe {config.robust_recipe} needs the validation texts")


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(1)[0])


@contextlib.contextmanager
def seeded_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Every random generator (torch, CUDA, numpy, random) seeded for the block and put back
    as it was after: an attack's randomness neither depends on nor moves the run's."""
    devices = [device.index or 0] if device.type == "cuda" else []
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


@contextlib.contextmanager
def grads_kept(model: nn.Module) -> Iterator[None]:
    """The parameters' gradients set aside for the block (an attack's backward passes must not
    add to the micro-batches' accumulated gradients) and put back after."""
    params = list(model.parameters())
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        yield
    finally:
        for p, grad in zip(params, saved, strict=True):
            p.grad = grad


def _no_cudnn(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """cuDNN's RNNs backpropagate only in train mode: off while attacking in eval mode."""
    if device.type == "cuda":
        return torch.backends.cudnn.flags(enabled=False)
    return contextlib.nullcontext()


def movable(ids: Tensor, mask: Tensor, special: Tensor) -> Tensor:
    """[B, T] bool: the real, non-special tokens (what a perturbation may move)."""
    return mask.bool() & ~torch.isin(ids, special)


class EmbeddingPGD:
    """The PGD perturbation of a micro-batch's token vectors, for adversarial = "pgd"."""

    def __init__(self, model: nn.Module, config: TrainConfig, special_ids: set[int]) -> None:
        self.model = model
        self.config = config
        self.special = sorted(special_ids)
        self.ratio = float(config.adv_ratio)

    def delta(self, micro: Batch, step: int, part: int = 0) -> Tensor:
        """The perturbation [B, T, D] (detached) of a micro-batch on the model's device, for
        the step after `step - 1` (its random start seeded by the seed, step and part)."""
        from engine.attack.service import epsilon_scale, pgd_perturb

        cfg = self.config
        model: Any = self.model
        ids, mask = micro.input_ids, micro.attention_mask
        special = torch.tensor(self.special, dtype=ids.dtype, device=ids.device)
        with grads_kept(self.model):
            table = model.input_embeddings().weight.detach()
            epsilon = cfg.adv_epsilon * float(epsilon_scale(table, cfg.adv_norm))
            with torch.no_grad():
                embeds = model.embed(ids).detach()
            generator = torch.Generator().manual_seed(
                _seed(cfg.seed, step, part)
            )  # CPU: pgd draws there
            perturbed = pgd_perturb(
                model.forward_embeddings,
                embeds,
                mask,
                movable(ids, mask, special),
                micro.labels,
                epsilon=epsilon,
                steps=cfg.adv_steps,
                step_size=2.5 * epsilon / cfg.adv_steps,
                norm=cfg.adv_norm,
                random_start=True,
                generator=generator,
            )
        return (perturbed.to(embeds.dtype) - embeds).detach()

    def logits(self, micro: Batch, delta: Tensor) -> Tensor:
        """The model's logits on the micro-batch's vectors moved by delta (gradients reach the
        token table and the rest of the model)."""
        model: Any = self.model
        return model.forward_embeddings(model.embed(micro.input_ids) + delta, micro.attention_mask)  # type: ignore[no-any-return]


class _OnDevice(nn.Module):
    """A model on an accelerator as the victim reads it (CPU tensors in and out)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.inner = model
        self.device = device
        self.config = getattr(model, "config", None)
        self.task = getattr(model, "task", "classify")

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        out = self.inner(input_ids.to(self.device), attention_mask.to(self.device))
        return out.float().cpu()  # type: ignore[no-any-return]

    def input_embeddings(self) -> nn.Module:
        return self.inner.input_embeddings()  # type: ignore[operator, no-any-return]

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.inner.embed(input_ids.to(self.device))  # type: ignore[operator, no-any-return]

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        return self.inner.forward_embeddings(  # type: ignore[operator, no-any-return]
            embeds.to(self.device), attention_mask.to(self.device)
        )


def live_victim(model: nn.Module, side: TextSide, device: torch.device, step: int) -> Any:
    """The model being trained as an attack's victim (engine.attack.victim.Victim)."""
    from engine.attack.service import Victim
    from engine.models import service as models

    spec = models.get_spec(side.arch)
    ckpt = side.run_dir / "checkpoints"
    description = f"the {side.arch} in training (step {step:,})"
    run = models.TrainedRun(
        run_id="training",
        folder=side.run_dir,
        checkpoint=ckpt,
        arch=side.arch,
        params=dict(side.params),
        tokenizer=side.tokenizer,
        pad_id=side.pad_id,
        labels=list(side.labels),
        description=description,
    )
    seen = model if device.type == "cpu" else _OnDevice(model, device)
    trained = models.TrainedModel(run, seen, spec, ckpt, step)  # type: ignore[arg-type]
    return Victim([(trained, side.max_length)], description)


def attack_texts(
    model: nn.Module,
    side: TextSide,
    device: torch.device,
    texts: list[str],
    labels: list[int],
    recipe: str,
    budget: int,
    seed: int,
    step: int,
) -> list[str]:
    """texts attacked by recipe with the model as it is now (eval mode, seeded generators that
    are put back after); the model's mode is restored."""
    from engine.attack.service import perturb_texts

    if not texts:
        return []
    victim = live_victim(model, side, device, step)
    with eval_mode(model), seeded_rng(device, _seed(seed, step, 7)), torch.no_grad():
        out = perturb_texts(victim, texts, labels, recipe=recipe, budget=budget)
    return [str(t) for t in out]


class TextAugmenter:
    """Replaces a share of each batch's examples by attacked texts, for adversarial = "augment"."""

    def __init__(
        self, model: nn.Module, config: TrainConfig, side: TextSide, device: torch.device
    ) -> None:
        assert side.train_texts is not None
        self.model = model
        self.config = config
        self.side = side
        self.device = device
        self.attacked = 0  # examples attacked so far (this session)

    def pick(self, size: int, step: int) -> np.ndarray:
        """Which rows of a batch of size are attacked at step: round(ratio * size), at least
        one, drawn with (seed, step)."""
        k = min(size, max(1, round(self.config.adv_ratio * size)))
        rng = np.random.default_rng([self.config.seed, step])
        return np.sort(rng.choice(size, size=k, replace=False))

    def __call__(self, batch: Batch, step: int) -> Batch:
        """The batch with its picked rows attacked and re-tokenized (cut at max_length), padded
        again; its rows keep their example ids."""
        assert batch.labels is not None and self.side.train_texts is not None
        cfg, side = self.config, self.side
        pick = self.pick(batch.size, step)
        texts = [str(side.train_texts[int(batch.rows[i])]) for i in pick]
        labels = [int(batch.labels[i]) for i in pick]
        attacked = attack_texts(
            self.model,
            side,
            self.device,
            texts,
            labels,
            cfg.adv_recipe,
            cfg.adv_budget,
            cfg.seed,
            step,
        )
        lengths = batch.attention_mask.sum(dim=1).tolist()
        ids: list[list[int]] = [
            batch.input_ids[i, : int(n)].tolist() for i, n in enumerate(lengths)
        ]
        encoded = side.tokenizer.encode_batch(attacked) if attacked else []
        for i, enc in zip(pick, encoded, strict=True):
            new = list(enc.ids[: side.max_length])
            if new:
                ids[int(i)] = new
        self.attacked += len(pick)
        examples = TextExamples(ids, batch.labels.tolist(), pad_id=side.pad_id)
        out = collate(examples, np.arange(batch.size))
        out.rows = batch.rows[out.rows]
        return out


class RobustCheck:
    """Accuracy under attack of the first robust_n validation rows, every robust_every steps."""

    def __init__(
        self,
        model: nn.Module,
        val: TextExamples,
        config: TrainConfig,
        device: torch.device,
        side: TextSide | None,
        special_ids: set[int],
    ) -> None:
        self.model = model
        self.val = val
        self.config = config
        self.device = device
        self.side = side
        self.special = sorted(special_ids)
        self.rows = np.arange(min(config.robust_n, len(val)))

    def due(self, step: int) -> bool:
        every = self.config.robust_every
        return every > 0 and step % every == 0

    def run(self, step: int) -> dict[str, float]:
        """Attack the slice now: robust_accuracy (right before and after the attack),
        attack_success_rate (of those right before, the share the attack flipped), clean
        accuracy of the slice, as shares; and the seconds it took."""
        started = time.perf_counter()
        if self.config.robust_recipe == "pgd":
            clean, robust = self._pgd()
        else:
            clean, robust = self._discrete(step)
        right = int(clean.sum())
        kept = int((clean & robust).sum())
        return {
            "robust_accuracy": kept / max(len(clean), 1),
            "attack_success_rate": (right - kept) / right if right else 0.0,
            "robust_clean_accuracy": right / max(len(clean), 1),
            "examples": float(len(clean)),
            "seconds": time.perf_counter() - started,
        }

    def _pgd(self) -> tuple[np.ndarray, np.ndarray]:
        from engine.attack.service import epsilon_scale, pgd_perturb

        cfg = self.config
        model: Any = self.model
        batch_size = max(1, cfg.batch_size)
        clean_ok: list[np.ndarray] = []
        robust_ok: list[np.ndarray] = []
        table = model.input_embeddings().weight.detach()
        epsilon = cfg.adv_epsilon * float(epsilon_scale(table, cfg.adv_norm))
        with eval_mode(self.model), grads_kept(self.model), _no_cudnn(self.device):
            for start in range(0, len(self.rows), batch_size):
                batch = collate(self.val, self.rows[start : start + batch_size]).to(self.device)
                assert batch.labels is not None
                ids, mask = batch.input_ids, batch.attention_mask
                special = torch.tensor(self.special, dtype=ids.dtype, device=ids.device)
                with torch.no_grad():
                    embeds = model.embed(ids).detach()
                    clean = model.forward_embeddings(embeds, mask).argmax(dim=-1)
                perturbed = pgd_perturb(
                    model.forward_embeddings,
                    embeds,
                    mask,
                    movable(ids, mask, special),
                    batch.labels,
                    epsilon=epsilon,
                    steps=cfg.adv_steps,
                    step_size=2.5 * epsilon / cfg.adv_steps,
                    norm=cfg.adv_norm,
                )
                with torch.no_grad():
                    adv = model.forward_embeddings(perturbed.to(embeds.dtype), mask).argmax(-1)
                clean_ok.append((clean == batch.labels).cpu().numpy())
                robust_ok.append((adv == batch.labels).cpu().numpy())
        return np.concatenate(clean_ok), np.concatenate(robust_ok)

    def _discrete(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        side = self.side
        assert side is not None and side.val_texts is not None and self.val.labels is not None
        cfg = self.config
        texts = [str(side.val_texts[int(i)]) for i in self.rows]
        labels = [int(self.val.labels[int(i)]) for i in self.rows]
        truth = np.asarray(labels)
        attacked = attack_texts(
            self.model,
            side,
            self.device,
            texts,
            labels,
            cfg.robust_recipe,
            cfg.adv_budget,
            cfg.seed,
            step,
        )
        victim = live_victim(self.model, side, self.device, step)
        with eval_mode(self.model):
            before = victim.probabilities(texts).argmax(axis=1)
            after = victim.probabilities(attacked).argmax(axis=1)
        return before == truth, after == truth
