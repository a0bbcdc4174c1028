"""What the model builder asks before a run starts: the settings a form shows, and a check of
a configuration field by field with the model it would build (layer tree, parameter counts,
memory for one training step).

Each field is checked on its own first, so a problem is reported against the field that has
it, then the fields together (d_model and num_heads, say). Built models are cached by what
shapes them, so changing the batch size or the learning rate never rebuilds one.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import types
import typing
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

from engine import protocol as P
from engine.data.errors import DataError
from engine.runs import RunConfig

if TYPE_CHECKING:
    from engine.train_job import TrainingJobs

# One line each, for the form's help; a setting without one shows none.
HELP: dict[str, str] = {
    "embed_dim": "width of each token's vector",
    "mode": "how token vectors are pooled into one",
    "hidden_size": "width of the hidden state (0: no hidden layer)",
    "dropout": "share of activations zeroed while training (0 to 1)",
    "kernel_sizes": "convolution widths in tokens, e.g. 3, 4, 5",
    "channels": "filters per kernel size",
    "cell": "the recurrent cell",
    "num_layers": "stacked layers",
    "bidirectional": "read the text both ways",
    "attention_size": "width of the attention's scoring layer",
    "d_model": "width of the Transformer (divisible by num_heads)",
    "num_heads": "attention heads",
    "ff_size": "width of each feed-forward layer",
    "positions": "sinusoidal (fixed) or learned position embeddings",
    "pooling": "first position ([CLS]) or the mean over tokens",
    "max_len": "longest input the model takes, in tokens",
    "folder": "a Hugging Face model folder; empty for the bundled MiniLM",
    "freeze_embeddings": "keep the pretrained embeddings fixed",
    "trainable_layers": "top encoder layers that train: -1 all, 0 head only",
    "batch_size": "examples per step",
    "C": "inverse regularisation strength of the logistic regression",
    "max_iter": "most solver iterations",
    "optimizer": "AdamW or SGD (with momentum)",
    "lr": "learning rate",
    "weight_decay": "decoupled weight decay (AdamW) or L2 (SGD)",
    "momentum": "SGD only",
    "schedule": "learning rate schedule after warmup",
    "warmup_steps": "steps of linear warmup",
    "warmup_ratio": "warmup as a share of all steps (instead of steps)",
    "token_budget": "most padded tokens in one batch; empty: batch_size only",
    "epochs": "passes over the training split",
    "max_steps": "stop after this many steps; empty: the epochs decide",
    "grad_clip": "largest gradient norm; 0 turns clipping off",
    "early_stopping_patience": "evaluations without improvement before stopping; 0 off",
    "metric": "picks the best checkpoint and drives early stopping",
    "seed": "the same seed gives the same run",
    "precision": "fp32, or bf16/fp16 mixed precision where the device has it",
    "eval_every": "evaluate every N steps; 0: each epoch",
    "checkpoint_every": "checkpoint every N steps; 0: each epoch",
    "keep_checkpoints": "recent checkpoints kept besides the best",
    "compile": "torch.compile the model (slow start, faster steps on a GPU)",
    "bucketing": "batch texts of similar length so padding is small",
}
_CACHE_SIZE = 4


def setting_specs(config_class: type[Any], skip: typing.Iterable[str] = ()) -> list[P.SettingSpec]:
    """A SettingSpec for each field of a config dataclass, from its type hints and defaults."""
    from engine.train import config as train_config

    choices_of = {
        "optimizer": train_config.OPTIMIZERS,
        "schedule": train_config.SCHEDULES,
        "metric": train_config.METRICS,
        "precision": train_config.PRECISIONS,
    }
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    out = []
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        hint = hints[f.name]
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            hint = args[0]
        choices: list[str] = []
        kind: Literal["int", "float", "bool", "str", "ints", "choice"]
        if typing.get_origin(hint) is Literal:
            kind, choices = "choice", [str(c) for c in typing.get_args(hint)]
        elif f.name in choices_of:
            kind, choices = "choice", list(choices_of[f.name])
        elif typing.get_origin(hint) is tuple:
            kind = "ints"
        elif hint is bool:
            kind = "bool"
        elif hint is int:
            kind = "int"
        elif hint is float:
            kind = "float"
        else:
            kind = "str"
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            default = list(default)
        out.append(
            P.SettingSpec(
                name=f.name,
                kind=kind,
                default=default,
                choices=choices,
                optional=optional,
                help=HELP.get(f.name, ""),
            )
        )
    return out


def device_precisions(device_type: str) -> list[str]:
    """The precisions a run may train in on this kind of device (TrainConfig.validate's rule)."""
    return ["fp32", "bf16", "fp16"] if device_type == "cuda" else ["fp32", "bf16"]


def schema() -> P.RunSchemaResult:
    """Every architecture's settings and the training settings."""
    from engine.models.registry import ARCHITECTURES
    from engine.train.config import TrainConfig
    from engine.train_job import best_device

    archs = [
        P.ArchitectureInfo(
            name=spec.name,
            task=spec.task,
            description=spec.description,
            settings=setting_specs(spec.config_class, skip=spec.fixed),
            trained_by=spec.trained_by,
            pretrained_tokenizer=spec.pretrained_tokenizer,
            takes_vectors=not spec.pretrained_tokenizer and spec.trained_by != "fit",
        )
        for spec in ARCHITECTURES.values()
    ]
    device = best_device().type
    return P.RunSchemaResult(
        architectures=archs,
        train=setting_specs(TrainConfig),
        device=device,
        precisions=device_precisions(device),
    )


def _problem(field: str, exc: DataError) -> P.FieldProblem:
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
    suspect: dict[str, DataError] = {}
    for key, value in values.items():
        try:
            check({key: value})
        except DataError as exc:
            suspect[key] = exc
    good = {k: v for k, v in values.items() if k not in suspect}
    problems = []
    for key, first in suspect.items():
        try:
            check({**good, key: values[key]})
        except DataError as exc:
            problems.append(_problem(f"{section}.{key}", exc))
        except Exception:
            problems.append(_problem(f"{section}.{key}", first))
    if problems:
        return problems, None
    try:
        return [], check(values)
    except DataError as exc:
        return [_problem(_named_field(exc.message, section, values), exc)], None


class Planner:
    """Checks run configurations and describes the models they build, for the model builder."""

    def __init__(self, jobs: TrainingJobs) -> None:
        self.jobs = jobs
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, config_toml: str) -> P.RunPlanResult:
        from engine.models import registry
        from engine.train.config import TrainConfig
        from engine.train_job import best_device

        try:
            cfg = RunConfig.from_toml(config_toml)
        except DataError as exc:
            keys = ("data.max_length", "data.dataset", "model.arch", "model.freeze_vectors")
            field = next((k for k in keys if k in exc.message), "")  # "": the file as a whole
            return P.RunPlanResult(problems=[_problem(field, exc)])
        problems: list[P.FieldProblem] = []
        device = best_device().type
        out = P.RunPlanResult(device=device)

        # --- data and tokenizer
        ds = None
        try:
            ds = self.jobs.datasets.get(cfg.dataset)
        except DataError as exc:
            problems.append(_problem("data.dataset", exc))
        if ds is not None:
            for key, split in (
                ("data.train_split", cfg.train_split),
                ("data.validation_split", cfg.validation_split),
            ):
                if split is None:
                    continue
                try:
                    picked = ds.split_indices(split)
                except DataError as exc:
                    problems.append(_problem(key, exc))
                    continue
                rows = ds.num_rows if picked is None else len(picked)
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
            self.jobs.tokenizers.info(cfg.tokenizer)
            tok = self.jobs.tokenizers.get(cfg.tokenizer)
        except DataError as exc:
            problems.append(_problem("data.tokenizer", exc))

        # --- the architecture and its settings, one by one and then together
        spec = registry.ARCHITECTURES.get(cfg.arch)
        model_cfg = None
        if spec is None:
            problems.append(
                P.FieldProblem(
                    "model.arch",
                    f"there is no architecture '{cfg.arch}'",
                    "architectures are: " + ", ".join(registry.ARCHITECTURES),
                )
            )
        else:
            out.task = spec.task
            found, model_cfg = _check_fields(
                "model", cfg.model, lambda values: registry.config_from_dict(cfg.arch, values)
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
                self.jobs.check_tokenizer(cfg)
            except DataError as exc:
                problems.append(_problem("data.tokenizer", exc))
                tok = None

        # --- static vectors (their width against embed_dim)
        if cfg.vectors is not None and spec is not None and not problems:
            try:
                self.jobs.check(cfg)
            except DataError as exc:
                problems.append(_problem("model.vectors", exc))

        # --- the model itself
        if spec is not None and model_cfg is not None and tok is not None:
            labels = 0
            if spec.task == "classify" and ds is not None:
                labels = len({lab for lab in ds.labels(cfg.train_split) if lab is not None})
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
                except DataError as exc:
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
        from engine.models import registry
        from engine.tokenize.specials import pad_token

        pad = pad_token(tok)
        pad_id = pad[1] if pad is not None else 0
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

            with torch.random.fork_rng():
                torch.manual_seed(0)
                model = registry.build_model(cfg.arch, model_cfg, vocab, labels, pad_id)
            layer = getattr(model, "embedding", None)
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
        out.layers = [P.LayerRow(*row) for row in registry.describe(model, max_depth=5)]
        out.trainable, out.frozen = registry.param_counts(model)
        out.memory = registry.memory_parts(model, batch, seq_len, precision)
        out.batch_size, out.seq_len = batch, seq_len
        out.vocab_size, out.num_classes = vocab, labels
