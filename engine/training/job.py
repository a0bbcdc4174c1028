"""One training run's work, on the device lane: data, tokenizer, model, trainer, result.

Everything that can be refused was checked before the run was queued (engine.training.checks).
The run folder keeps what rebuilds the model later whatever happens to the registries: the
tokenizer (tokenizer.json) and the class names in id order (labels.json).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.device import best_device
from engine.core.errors import Cancelled, EngineError, JobContext
from engine.datasets.service import DatasetService
from engine.models import service as models
from engine.tokenizers.service import TokenizerService
from engine.training.checks import VectorTable
from engine.training.config import RunConfig, TrainConfig
from engine.training.distributed import World
from engine.training.recorder import RunRecorder
from engine.training.runs import RunBook

log = logging.getLogger("engine.training")
LABELS_FILE = "labels.json"
ENCODE_CHUNK = 20_000  # texts tokenized between two checks for stop and cancel


class Stopped(Exception):
    """A stop asked for while a run was still being set up."""


TOKENIZER_FILE = "tokenizer.json"


class TrainingWork:
    """Runs a RunConfig as a job: (end state, message) when it ends."""

    def __init__(
        self,
        datasets: DatasetService,
        tokenizers: TokenizerService,
        vectors: VectorTable,
        book: RunBook,
    ) -> None:
        self.datasets = datasets
        self.tokenizers = tokenizers
        self.vectors = vectors
        self.book = book

    def __call__(
        self,
        cfg: RunConfig,
        run_id: str,
        run_dir: Path,
        resume: bool,
        job: JobContext,
        recorder: RunRecorder,
    ) -> tuple[str, str]:
        import torch

        from engine.training.control import Control
        from engine.training.trainer import Trainer

        spec = models.get_spec(cfg.arch)
        model_cfg = models.config_from_dict(cfg.arch, cfg.model)
        if spec.trained_by == "fit":  # fitted in one go (scikit-learn), not by the Trainer
            return self._fit_features(cfg, run_id, run_dir, model_cfg, job, recorder)
        train_cfg = TrainConfig.from_dict(cfg.train)
        device = best_device()
        task = spec.task
        train_cfg.validate(
            device_type=device.type, task=task, has_validation=cfg.validation_split is not None
        )
        model_max = getattr(model_cfg, "max_len", None)
        if model_max and cfg.max_length > model_max:  # positions the model has no room for
            cfg.max_length = int(model_max)
        if task == "seq2seq":  # its own vocabulary, from the pairs (kept in the run folder)
            tok = self.pair_vocabulary(cfg, model_cfg, run_dir, resume, job)
            pad_id = 0
        else:
            tok = self.tokenizers.get(cfg.tokenizer)
            pad_id = self.tokenizers.pad_id(cfg.tokenizer)
        main = World.from_env().main  # torchrun's rank 0, or the one worker
        # the control answers from the start: stop (and cancel) work during set-up too
        with self.book.training(run_id, Control()) as control:

            def check() -> None:
                job.check_cancelled()
                if control.stop_requested:
                    raise Stopped()

            try:
                job.progress(0, 1, "tokenizing")
                train, labels = self.examples(cfg, cfg.train_split, task, None, tok, pad_id, check)
                val = None
                if cfg.validation_split:
                    val, _ = self.examples(
                        cfg, cfg.validation_split, task, labels, tok, pad_id, check
                    )
                check()
                if main:
                    save_rebuild_files(run_dir, tok, labels or [])
                torch.manual_seed(train_cfg.seed)
                np.random.seed(train_cfg.seed % 2**32)
                model = models.build_model(
                    cfg.arch,
                    model_cfg,
                    vocab_size=tok.get_vocab_size(),
                    num_classes=len(labels) if labels else 0,
                    pad_id=pad_id,
                )
                if cfg.vectors is not None:
                    table = self.vectors(cfg.vectors)
                    found = init_from_vectors(model, spec, tok, table, cfg.freeze_vectors)
                    recorder.on_message(
                        f"{found:,} of {tok.get_vocab_size():,} embedding rows from {cfg.vectors}"
                        + (" (frozen)" if cfg.freeze_vectors else ""),
                        "info",
                    )
                check()
            except Stopped:
                return "stopped", "stopped before training began"
            trainable, frozen = models.param_counts(model)
            side = self.text_side(cfg, train_cfg, run_dir, tok, pad_id, labels)
            trainer = Trainer(
                model, train, val, train_cfg, run_dir, device, recorder, control, text_side=side
            )
            recorder.total_steps = int(trainer.total_steps)
            self.book.update(
                run_id,
                total_steps=recorder.total_steps,
                device=device.type,
                trainable=trainable,
                frozen=frozen,
            )
            try:
                result = trainer.fit(job, resume_from=run_dir if resume else None)
            except Cancelled:
                return "stopped", "cancelled"
            if result.state in ("completed", "early_stopped") and main:
                job.progress(result.step, result.step, "scoring the best checkpoint on test")
                self.score_test(cfg, run_id, run_dir, task, labels, tok, pad_id, check, trainer)
        state = result.state
        if state.startswith("failed"):
            return "failed", state.removeprefix("failed: ")
        best = "" if result.best_value is None else f"best {result.metric} {result.best_value:.4f}"
        if state in ("stopped", "cancelled"):
            return "stopped", f"stopped at step {result.step}; {best}".strip("; ")
        how = "early stopping" if state == "early_stopped" else "done"
        # no duration here: this segment's time disagrees with the run's after a resume; the
        # run's trained and wall times are in its record
        return "finished", f"{how} at step {result.step}; {best}".strip("; ")

    def text_side(
        self,
        cfg: RunConfig,
        train_cfg: TrainConfig,
        run_dir: Path,
        tok: Any,
        pad_id: int,
        labels: list[str] | None,
    ) -> Any:
        """What the run's attacks read beside the ids (engine.training.adversarial.TextSide):
        the tokenizer, classes and, where a discrete attack reads them, the texts of the
        training or validation rows, in the examples' order. None when nothing is attacked."""
        from engine.training.adversarial import TextSide

        if not train_cfg.attack_uses() or not labels:
            return None
        train_texts = val_texts = None
        if train_cfg.adversarial == "augment":
            train_texts = self.labelled(cfg, cfg.train_split, labels)[0]
        if train_cfg.robust_every > 0 and train_cfg.robust_recipe != "pgd" and cfg.validation_split:
            val_texts = self.labelled(cfg, cfg.validation_split, labels)[0]
        return TextSide(
            tokenizer=tok,
            labels=list(labels),
            arch=cfg.arch,
            params=dict(cfg.model),
            max_length=cfg.max_length,
            pad_id=pad_id,
            train_texts=train_texts,
            val_texts=val_texts,
            run_dir=run_dir,
        )

    def score_test(
        self,
        cfg: RunConfig,
        run_id: str,
        run_dir: Path,
        task: str,
        labels: list[str] | None,
        tok: Any,
        pad_id: int,
        check: Callable[[], None],
        trainer: Any,
    ) -> None:
        """Score the run's best (else last) checkpoint once on its test split, when it has
        one that is neither its training nor its validation split: the run's test score."""
        from safetensors.torch import load_model

        from engine.training.accumulate import AMP
        from engine.training.checkpoint import best_or_last, checkpoint_step
        from engine.training.metrics import evaluate

        split = cfg.test_split
        if not self.has_test_split(cfg):
            return
        try:
            ckpt = best_or_last(run_dir / "checkpoints")
            test, _ = self.examples(cfg, str(split), task, labels, tok, pad_id, check)
        except EngineError as exc:
            self.book.update(run_id, message=f"not scored on {split}: {exc.message}")
            return
        train_cfg = trainer.config
        load_model(trainer.model, str(ckpt / "model.safetensors"), device=str(trainer.device))
        ev = evaluate(
            trainer.model,
            test,
            trainer.device,
            batch_size=train_cfg.batch_size,
            token_budget=train_cfg.token_budget,
            autocast_dtype=AMP[train_cfg.precision],
        )
        step = checkpoint_step(ckpt)
        self.book.evaluated(
            run_id, step, self.book.epoch_at(run_id, step), ev.to_dict(), split="test"
        )

    def has_test_split(self, cfg: RunConfig) -> bool:
        split = cfg.test_split
        return (
            bool(split)
            and split not in (cfg.train_split, cfg.validation_split)
            and self.datasets.split_rows(cfg.dataset, str(split)) > 0
        )

    def pair_vocabulary(
        self, cfg: RunConfig, model_cfg: Any, run_dir: Path, resume: bool, job: JobContext
    ) -> Any:
        """The seq2seq run's vocabulary: the one in its folder when resuming (ids must not
        move), else built from the training split's sources and targets at model.level."""
        from tokenizers import Tokenizer

        saved = run_dir / TOKENIZER_FILE
        if resume and saved.is_file():
            return Tokenizer.from_file(str(saved))
        split = cfg.train_split
        texts = self.datasets.texts(cfg.dataset, split) + self.datasets.targets(cfg.dataset, split)
        job.progress(0, 1, f"building the {model_cfg.level} vocabulary")
        # built here, in the run's worker (the registries it reads are the engine's, remote)
        return TokenizerService.pair_vocabulary(
            model_cfg.level,
            texts,
            list(models.SEQ2SEQ_SPECIALS),
            f"dataset '{cfg.dataset}' split '{split}'",
            job,
        )

    def pair_examples(self, cfg: RunConfig, split: str, tok: Any, check: Callable[[], None]) -> Any:
        """A split's (source, target) pairs as rows source SEP target EOS, each side cut at
        max_length tokens; pairs whose source has no token are left out."""
        from engine.training.data import TextExamples

        sources = self.datasets.texts(cfg.dataset, split)
        targets = self.datasets.targets(cfg.dataset, split)
        sep, eos = tok.token_to_id("[SEP]"), tok.token_to_id("[EOS]")
        rows: list[list[int]] = []
        for start in range(0, len(sources), ENCODE_CHUNK):
            check()
            end = start + ENCODE_CHUNK
            src = tok.encode_batch_fast(sources[start:end], add_special_tokens=False)
            tgt = tok.encode_batch_fast(targets[start:end], add_special_tokens=False)
            for s, t in zip(src, tgt, strict=True):
                if s.ids:
                    rows.append([*s.ids[: cfg.max_length], sep, *t.ids[: cfg.max_length], eos])
        if not rows:
            raise EngineError(
                f"split '{split}' of '{cfg.dataset}' has no pair with a non-empty source",
                hint="pick another split, or import pairs with a source and a target column",
            )
        return TextExamples(rows, None, pad_id=0, pairs=True)

    def examples(
        self,
        cfg: RunConfig,
        split: str,
        task: str,
        label_names: list[str] | None,
        tok: Any,
        pad_id: int,
        check: Callable[[], None] = lambda: None,
    ) -> tuple[Any, list[str] | None]:
        """A split's texts as token ids (cut at max_length), with class ids for a classifier;
        label_names default to the split's sorted labels (and are returned). check() runs
        between chunks of texts (it raises to stop)."""
        from engine.training.data import TextExamples

        if task == "seq2seq":
            return self.pair_examples(cfg, split, tok, check), None
        texts = self.datasets.texts(cfg.dataset, split)
        if not texts:
            raise EngineError(
                f"dataset '{cfg.dataset}' has no rows in split '{split}'",
                hint="split it first (workbench datasets split), or pick another split",
            )
        ids: list[list[int]] = []
        for start in range(0, len(texts), ENCODE_CHUNK):
            check()
            chunk = tok.encode_batch_fast(
                texts[start : start + ENCODE_CHUNK], add_special_tokens=True
            )
            ids += [cut(e, cfg.truncation, cfg.max_length) for e in chunk]
        if task == "lm":
            keep = [i for i in ids if len(i) >= 2]
            return TextExamples(keep, None, pad_id=pad_id), None
        raw = self.datasets.labels(cfg.dataset, split)
        if label_names is None:
            label_names = sorted({lab for lab in raw if lab is not None})
            if len(label_names) < 2:
                raise EngineError(
                    f"split '{split}' of '{cfg.dataset}' has {len(label_names)} "
                    "label(s); a classifier needs at least two"
                )
        index = {lab: i for i, lab in enumerate(label_names)}
        pairs = [(i, index[lab]) for i, lab in zip(ids, raw, strict=True) if lab in index]
        if not pairs:
            raise EngineError(f"split '{split}' has no rows with the training labels")
        return TextExamples(
            [p[0] for p in pairs], [p[1] for p in pairs], pad_id=pad_id, label_names=label_names
        ), label_names

    def labelled(
        self, cfg: RunConfig, split: str, names: list[str] | None
    ) -> tuple[list[str], list[int], list[str]]:
        """(texts, class ids, class names) of a split; names default to its sorted labels."""
        texts = self.datasets.texts(cfg.dataset, split)
        raw = self.datasets.labels(cfg.dataset, split)
        names = names or sorted({lab for lab in raw if lab is not None})
        index = {lab: i for i, lab in enumerate(names)}
        pairs = [(t, index[lab]) for t, lab in zip(texts, raw, strict=True) if lab in index]
        return [p[0] for p in pairs], [p[1] for p in pairs], names

    def _fit_features(
        self,
        cfg: RunConfig,
        run_id: str,
        run_dir: Path,
        model_cfg: Any,
        job: JobContext,
        recorder: RunRecorder,
    ) -> tuple[str, str]:
        """Frozen encoder features + logistic regression: fitted, then reported like a run,
        its regression saved as the run's one checkpoint and scored on the test split."""
        from engine.training.checkpoint import save_fitted
        from engine.training.metrics import classification_scores

        texts, y, names = self.labelled(cfg, cfg.train_split, None)
        model = models.build_model(
            cfg.arch, model_cfg, vocab_size=1, num_classes=len(names), pad_id=0
        )
        self.book.update(run_id, total_steps=1, device=str(best_device()))
        job.progress(0, 1, f"encoding {len(texts):,} texts and fitting")
        report = model.fit(texts, y)  # type: ignore[union-attr]
        recorder.on_step(1, 1.0, {"train_accuracy": report.train_accuracy})
        if cfg.validation_split:
            vtexts, vy, _ = self.labelled(cfg, cfg.validation_split, names)
            scores = classification_scores(vy, model.predict(vtexts), len(names), names)  # type: ignore[union-attr]
            recorder.on_eval(1, 1.0, scores)
        save_fitted(
            run_dir / "checkpoints",
            model.head_tensors(),  # type: ignore[union-attr]
            {"step": 1, "epoch": 1.0, "trained_by": "fit"},
        )
        (run_dir / LABELS_FILE).write_text(json.dumps(names), encoding="utf-8")
        if self.has_test_split(cfg):
            ttexts, ty, _ = self.labelled(cfg, str(cfg.test_split), names)
            if ty:
                scores = classification_scores(ty, model.predict(ttexts), len(names), names)  # type: ignore[union-attr]
                self.book.evaluated(run_id, 1, 1.0, scores, split="test")
        job.progress(1, 1, "fitted")
        return "finished", (
            f"fitted on {report.examples:,} texts, {report.features} features, "
            f"{report.seconds:.1f} s"
        )


def init_from_vectors(model: Any, spec: Any, tok: Any, table: Any, freeze: bool) -> int:
    """Start the model's token table (its embeddings door's, models.token_table) from a static
    table (with .vector(word) and .dim): the row of every token of tok that the table knows;
    how many rows were copied. freeze stops the whole table from training. EngineError for a
    family without a table of its own."""
    layer = models.token_table(spec, model)
    if layer is None:
        raise EngineError(f"a {spec.name} model has no embedding table to initialise")
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

    return models.init_embedding(layer, vocab, lookup, freeze)


def cut(encoding: Any, truncation: Any, max_length: int) -> list[int]:
    """The ids a run trains on of one encoded text: its truncation's (a windowed run's first
    window: the windows are pooled when it predicts)."""
    if len(encoding.ids) <= max_length or truncation.how == "head":
        return list(encoding.ids[:max_length])
    ids = encoding.ids
    return [ids[i] for i in truncation.pick(encoding.special_tokens_mask, max_length)[0]]


def save_rebuild_files(run_dir: Path, tokenizer: Any, labels: list[str]) -> None:
    """What rebuilds the run's model later: its tokenizer and class names, in the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(run_dir / TOKENIZER_FILE))
    (run_dir / LABELS_FILE).write_text(json.dumps(labels), encoding="utf-8")


def read_labels(run_dir: Path) -> list[str] | None:
    """The class names a run saved (None for runs from before they were saved)."""
    try:
        data = json.loads((run_dir / LABELS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [str(x) for x in data] if isinstance(data, list) else None
