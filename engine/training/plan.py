"""The model builder's check of a run configuration, field by field, with the model it would
build: the layer tree, parameter counts, memory for one training step.

Each field is checked on its own first, so a problem is reported against the field that has
it, then the fields together (d_model and num_heads, say). Built models are cached by what
shapes them, so changing the batch size or the learning rate never rebuilds one.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import typing
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from engine import protocol as P
from engine.core.device import best_device, free_memory
from engine.core.errors import EngineError
from engine.models import service as models
from engine.training.config import RunConfig, TrainConfig

if TYPE_CHECKING:
    from engine.training.checks import ConfigChecks

_CACHE_SIZE = 4


class TooBig(EngineError):
    """A configuration whose training step cannot fit in the device's memory."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, code="too_large")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def free_of(device: str) -> str:
    return "GPU" if device == "cuda" else "machine" if device == "cpu" else device


def _problem(field: str, exc: EngineError) -> P.FieldProblem:
    return P.FieldProblem(field=field, message=exc.message, hint=exc.hint or "")


def _named_field(message: str, section: str, names: typing.Iterable[str]) -> str:
    """The first of names that message mentions, as section.name; the section otherwise."""
    hits = [(message.find(n), n) for n in names if n in message]
    return f"{section}.{min(hits)[1]}" if hits else section


def _check_fields(
    section: str, values: dict[str, Any], check: typing.Callable[[dict[str, Any]], Any]
) -> tuple[list[P.FieldProblem], Any]:
    """Problems of a section's fields, each blamed on the field that has it, and check's
    result for them all (None when any is wrong).

    A field is checked alone first; one that fails alone is checked again beside the fields
    that passed, since a rule between fields (d_model and num_heads) may have failed only
    against another field's default. What passes singly but not together is blamed on the
    first field the message names."""
    suspect: dict[str, EngineError] = {}
    for key, value in values.items():
        try:
            check({key: value})
        except EngineError as exc:
            suspect[key] = exc
    good = {k: v for k, v in values.items() if k not in suspect}
    problems = []
    for key, first in suspect.items():
        try:
            check({**good, key: values[key]})
        except EngineError as exc:
            problems.append(_problem(f"{section}.{key}", exc))
        except Exception:
            problems.append(_problem(f"{section}.{key}", first))
    if problems:
        return problems, None
    try:
        return [], check(values)
    except EngineError as exc:
        return [_problem(_named_field(exc.message, section, values), exc)], None


class Planner:
    """Checks run configurations and describes the models they build, for the model builder."""

    def __init__(self, checks: ConfigChecks) -> None:
        self.checks = checks
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, config_toml: str, raise_too_big: bool = False) -> P.RunPlanResult:
        """Every problem of the configuration, by field, and what it would build; with
        raise_too_big, a step that cannot fit in memory raises TooBig instead (a run is then
        refused before it exists)."""
        try:
            cfg = RunConfig.from_toml(config_toml)
        except EngineError as exc:
            keys = ("data.max_length", "data.dataset", "model.arch", "model.freeze_vectors")
            field = next((k for k in keys if k in exc.message), "")  # "": the file as a whole
            return P.RunPlanResult(problems=[_problem(field, exc)])
        problems: list[P.FieldProblem] = []
        device = best_device().type
        out = P.RunPlanResult(device=device)

        # --- data and tokenizer
        datasets = self.checks.datasets
        has_data = False
        try:
            datasets.get(cfg.dataset)
            has_data = True
        except EngineError as exc:
            problems.append(_problem("data.dataset", exc))
        if has_data:
            for key, split in (
                ("data.train_split", cfg.train_split),
                ("data.validation_split", cfg.validation_split),
            ):
                if split is None:
                    continue
                try:
                    rows = datasets.split_rows(cfg.dataset, split)
                except EngineError as exc:
                    problems.append(_problem(key, exc))
                    continue
                if rows == 0:
                    problems.append(
                        P.FieldProblem(
                            key,
                            f"'{cfg.dataset}' has no rows in split '{split}'",
                            "pick another split, or split the dataset on screen 1 (p)",
                        )
                    )
                elif key == "data.train_split":
                    out.train_rows = rows
        tok = None
        try:
            self.checks.tokenizers.info(cfg.tokenizer)
            tok = self.checks.tokenizers.get(cfg.tokenizer)
        except EngineError as exc:
            problems.append(_problem("data.tokenizer", exc))

        # --- the architecture and its settings, one by one and then together
        spec = models.ARCHITECTURES.get(cfg.arch)
        model_cfg = None
        if spec is None:
            problems.append(
                P.FieldProblem(
                    "model.arch",
                    f"there is no architecture '{cfg.arch}'",
                    "architectures are: " + ", ".join(models.ARCHITECTURES),
                )
            )
        else:
            out.task = spec.task
            found, model_cfg = _check_fields(
                "model", cfg.model, lambda values: models.config_from_dict(cfg.arch, values)
            )
            problems += found

        # --- training settings
        train_cfg = TrainConfig()
        if spec is not None and spec.trained_by != "fit":
            checks = {
                "device_type": device,
                "task": spec.task,
                "has_validation": cfg.validation_split is not None,
            }

            def check_train(values: dict[str, Any]) -> Any:
                built = TrainConfig.from_dict(values)
                built.validate(**checks)  # type: ignore[arg-type]
                return built

            found, checked = _check_fields("train", cfg.train, check_train)
            problems += found
            train_cfg = checked or TrainConfig()

        if tok is not None and model_cfg is not None:  # after the model: its folder is checked
            try:
                self.checks.check_tokenizer(cfg)
            except EngineError as exc:
                problems.append(_problem("data.tokenizer", exc))
                tok = None

        # --- static vectors (their width against embed_dim)
        if cfg.vectors is not None and spec is not None and not problems:
            try:
                self.checks.check(cfg)
            except EngineError as exc:
                problems.append(_problem("model.vectors", exc))

        # --- the model itself
        if spec is not None and model_cfg is not None and tok is not None:
            labels = 0
            if spec.task == "classify" and has_data:
                found_labels = datasets.labels(cfg.dataset, cfg.train_split)
                labels = len({lab for lab in found_labels if lab is not None})
                if labels < 2 and not any(p.field.startswith("data.") for p in problems):
                    problems.append(
                        P.FieldProblem(
                            "data.train_split",
                            f"split '{cfg.train_split}' of '{cfg.dataset}' has {labels} "
                            "label(s); a classifier needs at least two",
                            "pick a labelled dataset, or a language model architecture",
                        )
                    )
            if spec.task == "lm" or labels >= 2:
                try:
                    self._describe(out, cfg, spec, model_cfg, tok, labels, train_cfg)
                except TooBig as exc:
                    if raise_too_big:
                        raise
                    problems.append(_problem("", exc))
                except EngineError as exc:
                    problems.append(_problem("model.arch", exc))
        out.problems = problems
        if out.train_rows and out.batch_size:
            out.steps_per_epoch = -(-out.train_rows // out.batch_size)
        return out

    def _describe(
        self,
        out: P.RunPlanResult,
        cfg: RunConfig,
        spec: Any,
        model_cfg: Any,
        tok: Any,
        labels: int,
        train_cfg: Any,
    ) -> None:
        pad_id = self.checks.tokenizers.pad_id_of(tok)
        vocab = tok.get_vocab_size()
        key = json.dumps(
            [cfg.arch, dataclasses.asdict(model_cfg), vocab, labels, pad_id, cfg.freeze_vectors],
            sort_keys=True,
            default=str,
        )
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
        if model is None:
            import torch

            # a model trained from scratch is built on the meta device: its sizes without its
            # memory, so a huge embed_dim costs nothing to check; a pretrained one is loaded
            on_meta = not spec.pretrained_tokenizer and spec.trained_by != "fit"
            try:
                with torch.random.fork_rng(), torch.device("meta" if on_meta else "cpu"):
                    torch.manual_seed(0)
                    model = models.build_model(cfg.arch, model_cfg, vocab, labels, pad_id)
            except (RuntimeError, OverflowError, ValueError, MemoryError) as exc:
                raise EngineError(
                    f"a {cfg.arch} of these sizes cannot be built: {exc}",
                    hint="use smaller sizes (embed_dim, hidden_size, d_model, layers)",
                ) from None
            layer = models.token_table(spec, model)
            if cfg.vectors is not None and cfg.freeze_vectors and layer is not None:
                layer.weight.requires_grad_(False)  # as init_embedding(freeze=True) leaves it
            with self._lock:
                self._models[key] = model
                while len(self._models) > _CACHE_SIZE:
                    self._models.popitem(last=False)
        seq_len = cfg.max_length
        model_max = getattr(model_cfg, "max_len", None)
        if model_max:
            seq_len = min(seq_len, int(model_max))
        batch = int(getattr(model_cfg, "batch_size", 0) or train_cfg.batch_size)
        precision = train_cfg.precision if spec.trained_by != "fit" else "fp32"
        out.layers = [P.LayerRow(*row) for row in models.describe(model, max_depth=5)]
        out.trainable, out.frozen = models.param_counts(model)
        out.memory = models.memory_parts(model, batch, seq_len, precision)
        out.batch_size, out.seq_len = batch, seq_len
        out.vocab_size, out.num_classes = vocab, labels
        need, free = sum(out.memory.values()), free_memory(out.device)
        if free is not None and need > free:
            raise TooBig(
                f"one training step needs about {_gib(need)} (weights {_gib(out.memory['weights'])},"
                f" activations {_gib(out.memory['activations'])}), more than the {free_of(out.device)}"
                f" has free ({_gib(free)})",
                hint="use smaller sizes, a smaller batch size or max length, or bf16",
            )
