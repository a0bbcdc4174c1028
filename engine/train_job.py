"""One training run's work, on the device lane: data, tokenizer, model, trainer, result.

Everything that can be refused is checked before a model is built or a batch
is made: the dataset, its splits and labels, the tokenizer, the architecture
and its settings, the training settings on this device.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.data.errors import Cancelled, DataError
from engine.runs import RunCallbacks, RunConfig

if TYPE_CHECKING:
    from engine.datasets import DatasetService
    from engine.runs import RunManager
    from engine.tokenize.registry import TokenizerService

log = logging.getLogger("engine.train_job")
PRETRAINED = ("bert-finetune", "features-logreg")  # their tokenizer is the model's own


def best_device() -> Any:
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.lru_cache(maxsize=4)
def _folder_vocab(path: str, _mtime: int) -> dict[str, int]:
    """A model folder's tokenizer vocabulary, read once per version of the file."""
    from tokenizers import Tokenizer

    return dict(Tokenizer.from_file(path).get_vocab())


class TrainingJobs:
    """Builds and runs a training job from a RunConfig (the RunManager's `build`)."""

    def __init__(
        self,
        datasets: DatasetService,
        tokenizers: TokenizerService,
        vectors: Callable[[str], Any] | None = None,
    ) -> None:
        self.datasets = datasets
        self.tokenizers = tokenizers
        self.vectors = vectors  # name -> a static table with .vector(word) and .dim()
        self.manager: RunManager | None = None  # set by the engine after both exist

    def check(self, cfg: RunConfig) -> None:
        """Refuse a configuration before any run exists: every check that needs no training."""
        from engine.models import registry
        from engine.train.config import TrainConfig

        spec = registry.ARCHITECTURES.get(cfg.arch)
        if spec is None:
            raise DataError(
                f"unknown architecture '{cfg.arch}'",
                hint="architectures are: " + ", ".join(registry.ARCHITECTURES),
            )
        registry.config_from_dict(cfg.arch, cfg.model)
        if spec.trained_by != "fit":
            TrainConfig.from_dict(cfg.train).validate(
                device_type=best_device().type,
                task=spec.task,
                has_validation=cfg.validation_split is not None,
            )
        ds = self.datasets.get(cfg.dataset)  # unknown dataset: a clear error naming the others
        for split in filter(None, (cfg.train_split, cfg.validation_split)):
            picked = ds.split_indices(split)
            if picked is not None and len(picked) == 0:
                raise DataError(
                    f"dataset '{cfg.dataset}' has no rows in split '{split}'",
                    hint="split it first: workbench datasets split " + cfg.dataset,
                )
        self.check_tokenizer(cfg)
        if cfg.vectors is not None:
            if self.vectors is None or spec.pretrained_tokenizer or spec.trained_by == "fit":
                raise DataError(f"{cfg.arch} cannot take static vectors for its embeddings")
            table = self.vectors(cfg.vectors)  # unknown or contextual source: a clear error
            width = getattr(registry.config_from_dict(cfg.arch, cfg.model), "embed_dim", None)
            if width is not None and width != table.dim:
                raise DataError(
                    f"{cfg.vectors} has {table.dim} dimensions but embed_dim is {width}",
                    hint=f"set embed_dim = {table.dim}",
                )

    def check_tokenizer(self, cfg: RunConfig) -> None:
        """The tokenizer must exist, and a pretrained model must read ids from its own one:
        another tokenizer's ids would index the wrong rows of its embedding table."""
        from engine.models import registry

        self.tokenizers.info(cfg.tokenizer)
        spec = registry.ARCHITECTURES.get(cfg.arch)
        if spec is None or not spec.pretrained_tokenizer or spec.trained_by == "fit":
            return  # a feature extractor encodes texts with its folder's tokenizer itself
        from engine.models.pretrained import TOKENIZER_FILE, resolve_folder

        path = resolve_folder(str(cfg.model.get("folder", "") or "")) / TOKENIZER_FILE
        if self.tokenizers.get(cfg.tokenizer).get_vocab() != _folder_vocab(
            str(path), path.stat().st_mtime_ns
        ):
            raise DataError(
                f"{cfg.arch} reads ids with its model's own tokenizer; "
                f"'{cfg.tokenizer}' is a different one",
                hint="use minilm-wordpiece for the bundled MiniLM, or add the folder's "
                f"{TOKENIZER_FILE} (workbench tokenizers add PATH) and use that",
            )

    def _examples(
        self,
        cfg: RunConfig,
        split: str,
        task: str,
        label_names: list[str] | None,
        tok: Any,
        pad_id: int,
    ) -> tuple[Any, list[str] | None]:
        from engine.train.data import TextExamples

        ds = self.datasets.get(cfg.dataset)
        texts = ds.texts(split)
        if not texts:
            raise DataError(
                f"dataset '{cfg.dataset}' has no rows in split '{split}'",
                hint="split it first (workbench datasets split), or pick another split",
            )
        encodings = tok.encode_batch_fast(texts, add_special_tokens=True)
        ids = [e.ids[: cfg.max_length] for e in encodings]
        if task == "lm":
            keep = [i for i in ids if len(i) >= 2]
            return TextExamples(keep, None, pad_id=pad_id), None
        raw = ds.labels(split)
        if label_names is None:
            label_names = sorted({lab for lab in raw if lab is not None})
            if len(label_names) < 2:
                raise DataError(
                    f"split '{split}' of '{cfg.dataset}' has {len(label_names)} "
                    "label(s); a classifier needs at least two"
                )
        index = {lab: i for i, lab in enumerate(label_names)}
        pairs = [(i, index[lab]) for i, lab in zip(ids, raw, strict=True) if lab in index]
        if not pairs:
            raise DataError(f"split '{split}' has no rows with the training labels")
        return TextExamples(
            [p[0] for p in pairs], [p[1] for p in pairs], pad_id=pad_id, label_names=label_names
        ), label_names

    def __call__(
        self, cfg: RunConfig, run_id: str, resume: bool, job: Any, callbacks: RunCallbacks
    ) -> tuple[str, str]:
        import torch

        from engine.models import registry
        from engine.tokenize.specials import pad_token
        from engine.train.config import TrainConfig
        from engine.train.control import Control
        from engine.train.trainer import Trainer

        assert self.manager is not None
        spec = registry.ARCHITECTURES.get(cfg.arch)
        if spec is None:
            raise DataError(
                f"unknown architecture '{cfg.arch}'",
                hint="architectures are: " + ", ".join(registry.ARCHITECTURES),
            )
        model_cfg = registry.config_from_dict(cfg.arch, cfg.model)
        if spec.trained_by == "fit":  # fitted in one go (scikit-learn), not by the Trainer
            return self._fit_features(cfg, run_id, model_cfg, job, callbacks)
        train_cfg = TrainConfig.from_dict(cfg.train)
        device = best_device()
        task = spec.task
        train_cfg.validate(
            device_type=device.type, task=task, has_validation=cfg.validation_split is not None
        )
        model_max = getattr(model_cfg, "max_len", None)
        if model_max and cfg.max_length > model_max:  # positions the model has no room for
            cfg.max_length = int(model_max)
        tok = self.tokenizers.get(cfg.tokenizer)
        pad = pad_token(tok)
        pad_id = pad[1] if pad is not None else 0
        job.progress(0, 1, "tokenizing")
        train, labels = self._examples(cfg, cfg.train_split, task, None, tok, pad_id)
        val = None
        if cfg.validation_split:
            val, _ = self._examples(cfg, cfg.validation_split, task, labels, tok, pad_id)
        job.check_cancelled()
        torch.manual_seed(train_cfg.seed)
        np.random.seed(train_cfg.seed % 2**32)
        model = registry.build_model(
            cfg.arch,
            model_cfg,
            vocab_size=tok.get_vocab_size(),
            num_classes=len(labels) if labels else 0,
            pad_id=pad_id,
        )
        if cfg.vectors is not None:
            found = self._init_vectors(model, tok, cfg)
            callbacks.on_message(
                f"{found:,} of {tok.get_vocab_size():,} embedding rows from {cfg.vectors}"
                + (" (frozen)" if cfg.freeze_vectors else ""),
                "info",
            )
        trainable, frozen = registry.param_counts(model)
        control = Control()
        self.manager.controls[run_id] = control
        run_dir = self.manager.runs_dir / run_id
        trainer = Trainer(model, train, val, train_cfg, run_dir, device, callbacks, control)
        callbacks.trainer = trainer
        self.manager._set(
            run_id,
            total_steps=int(getattr(trainer, "total_steps", 0)),
            device=device.type,
            trainable=trainable,
            frozen=frozen,
        )
        try:
            result = trainer.fit(job, resume_from=run_dir if resume else None)
        except Cancelled:
            return "stopped", "cancelled"
        finally:
            self.manager.controls.pop(run_id, None)
        state = result.state
        if state.startswith("failed"):
            return "failed", state.removeprefix("failed: ")
        best = "" if result.best_value is None else f"best {result.metric} {result.best_value:.4f}"
        if state in ("stopped", "cancelled"):
            return "stopped", f"stopped at step {result.step}; {best}".strip("; ")
        how = "early stopping" if state == "early_stopped" else "done"
        return "finished", f"{how} at step {result.step} in {result.seconds:.0f} s; {best}"

    def _init_vectors(self, model: Any, tok: Any, cfg: RunConfig) -> int:
        from engine.models.init import init_embedding

        assert self.vectors is not None and cfg.vectors is not None
        table = self.vectors(cfg.vectors)
        layer = getattr(model, "embedding", None)
        if layer is None:
            raise DataError(f"a {cfg.arch} model has no embedding table to initialise")
        vocab = [""] * tok.get_vocab_size()
        for token, i in tok.get_vocab().items():
            if i < len(vocab):
                vocab[i] = token

        def lookup(words: list[str]) -> tuple[np.ndarray, list[bool]]:
            out = np.zeros((len(words), table.dim), dtype=np.float32)
            found = []
            for i, w in enumerate(words):
                v = table.vector(w) if w else None
                found.append(v is not None)
                if v is not None:
                    out[i] = v
            return out, found

        return init_embedding(layer, vocab, lookup, cfg.freeze_vectors)

    def _labelled(
        self, cfg: RunConfig, split: str, names: list[str] | None
    ) -> tuple[list[str], list[int], list[str]]:
        ds = self.datasets.get(cfg.dataset)
        texts, raw = ds.texts(split), ds.labels(split)
        names = names or sorted({lab for lab in raw if lab is not None})
        index = {lab: i for i, lab in enumerate(names)}
        pairs = [(t, index[lab]) for t, lab in zip(texts, raw, strict=True) if lab in index]
        return [p[0] for p in pairs], [p[1] for p in pairs], names

    def _fit_features(
        self, cfg: RunConfig, run_id: str, model_cfg: Any, job: Any, callbacks: RunCallbacks
    ) -> tuple[str, str]:
        """Frozen encoder features + logistic regression: fitted, then reported like a run."""
        from engine.models import registry
        from engine.train.metrics import classification_scores

        assert self.manager is not None
        texts, y, names = self._labelled(cfg, cfg.train_split, None)
        model = registry.build_model(
            cfg.arch, model_cfg, vocab_size=1, num_classes=len(names), pad_id=0
        )
        self.manager._set(run_id, total_steps=1, device=str(best_device()))
        job.progress(0, 1, f"encoding {len(texts):,} texts and fitting")
        report = model.fit(texts, y)
        callbacks.on_step(1, 1.0, {"train_accuracy": report.train_accuracy})
        if cfg.validation_split:
            vtexts, vy, _ = self._labelled(cfg, cfg.validation_split, names)
            scores = classification_scores(vy, model.predict(vtexts), len(names), names)
            callbacks.on_eval(1, 1.0, scores)
        job.progress(1, 1, "fitted")
        return "finished", (
            f"fitted on {report.examples:,} texts, {report.features} features, "
            f"{report.seconds:.1f} s"
        )

    def _trained_model(self, cfg: RunConfig, run_dir: Any) -> tuple[Any, Any, list[str]]:
        """The run's model with its best (else last) checkpoint's weights, its tokenizer, labels."""
        from pathlib import Path

        from safetensors.torch import load_model

        from engine.models import registry
        from engine.train.checkpoint import resolve_checkpoint

        try:
            ckpt = resolve_checkpoint(Path(run_dir) / "checkpoints", "best")
        except DataError:
            ckpt = resolve_checkpoint(Path(run_dir) / "checkpoints", "last")
        spec = registry.ARCHITECTURES[cfg.arch]
        names: list[str] = []
        if spec.task == "classify":
            _, _, names = self._labelled(cfg, cfg.train_split, None)
        tok = self.tokenizers.get(cfg.tokenizer)
        model_cfg = registry.config_from_dict(cfg.arch, cfg.model)
        model = registry.build_model(
            cfg.arch, model_cfg, vocab_size=tok.get_vocab_size(), num_classes=len(names), pad_id=0
        )
        load_model(model, str(ckpt / "model.safetensors"))
        return model, tok, names

    def embedding_table(self, cfg: RunConfig, run_dir: Any) -> tuple[list[str], Any]:
        """(the tokenizer's tokens in id order, the trained embedding matrix)."""
        model, tok, _ = self._trained_model(cfg, run_dir)
        layer = getattr(model, "embedding", None)
        if layer is None or not hasattr(layer, "weight"):
            raise DataError(
                f"a {cfg.arch} model has no embedding table of its own",
                hint="pretrained models use MiniLM's: the minilm-input source",
            )
        vocab = tok.get_vocab()
        words = [""] * len(vocab)
        for token, i in vocab.items():
            if i < len(words):
                words[i] = token
        matrix = layer.weight.detach().float().cpu().numpy()[: len(words)]
        return words[: len(matrix)], matrix

    def export(self, cfg: RunConfig, run_dir: Any, path: str) -> str:
        """The best checkpoint as a folder: a Hugging Face one for fine-tuned BERT models."""
        import shutil
        from pathlib import Path

        from safetensors.torch import load_model

        from engine.models import registry
        from engine.train.checkpoint import resolve_checkpoint

        try:
            ckpt = resolve_checkpoint(Path(run_dir) / "checkpoints", "best")
        except DataError:
            ckpt = resolve_checkpoint(Path(run_dir) / "checkpoints", "last")
        out = Path(path).expanduser().resolve()
        if out.exists() and any(out.iterdir()):
            raise DataError(f"{out} exists and is not empty", hint="choose a new folder")
        _, _, names = self._labelled(cfg, cfg.train_split, None)
        tok = self.tokenizers.get(cfg.tokenizer)
        model_cfg = registry.config_from_dict(cfg.arch, cfg.model)
        model = registry.build_model(
            cfg.arch, model_cfg, vocab_size=tok.get_vocab_size(), num_classes=len(names), pad_id=0
        )
        load_model(model, str(ckpt / "model.safetensors"))
        if cfg.arch == "bert-finetune":
            from engine.models.pretrained import export

            export(model, out, labels=names)  # type: ignore[arg-type]
            return (
                f"exported {ckpt.name} to {out}; load it with "
                f"pipeline('text-classification', model='{out}')"
            )
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ckpt / "model.safetensors", out / "model.safetensors")
        shutil.copy2(Path(run_dir) / "config.toml", out / "config.toml")
        tok.save(str(out / "tokenizer.json"))
        (out / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        return f"exported {ckpt.name} to {out} (weights, config, tokenizer, labels)"
