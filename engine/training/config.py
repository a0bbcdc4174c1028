"""A run's configuration: RunConfig (the TOML a person writes) and TrainConfig (its [train]
table: every knob of the trainer), checked before any work starts.

Torch-free, so that a config file can be checked without loading torch.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import msgspec

from engine import protocol as P
from engine.core import settings
from engine.core.errors import EngineError
from engine.models.service import Truncation

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
METRICS = ("accuracy", "macro_f1", "loss", "perplexity", "token_accuracy", "exact_match", "bleu")
PRECISIONS = ("fp32", "bf16", "fp16")
ADVERSARIAL = ("none", "pgd", "augment")  # how adversarial examples join training
ADV_RECIPES = ("charedit", "wordsub")  # the discrete attacks "augment" makes on the fly
ADV_NORMS = ("inf", "2")
ROBUST_RECIPES = ("pgd", "charedit", "wordsub")  # what robust_every attacks the slice with
MAX_ADV_EPSILON = 10.0  # relative: a multiple of the token table's typical size
MAX_ADV_STEPS = 1000
MAX_ROBUST_N = 10_000
MAX_DEVICES = 64  # processes of one run
MAX_NODES = 64  # machines of one run
LOWER_IS_BETTER = frozenset({"loss", "perplexity"})
# what an evaluation may measure: stored, plotted as val_<name>, and the run's metric choices
EVAL_METRICS = (
    "loss",
    "accuracy",
    "macro_f1",
    "perplexity",
    "token_accuracy",
    "exact_match",
    "bleu",
)
MAX_EPOCHS = 1_000_000
MAX_STEPS = 10**12
TASK_METRICS = {
    "classify": ("accuracy", "macro_f1", "loss"),
    "lm": ("loss", "perplexity"),
    "seq2seq": ("loss", "token_accuracy", "exact_match", "bleu"),
}
TASK_KINDS = {
    "classify": "a classifier",
    "lm": "a language model",
    "seq2seq": "a sequence-to-sequence model",
}


DATA_KEYS = P.RUN_DATA_KEYS


@dataclass
class RunConfig:
    """The TOML a person writes (examples/ has one per architecture)."""

    name: str
    dataset: str
    tokenizer: str
    arch: str
    train_split: str = "train"
    validation_split: str | None = "validation"
    test_split: str | None = "test"  # the best checkpoint is scored on it at the end, if present
    max_length: int = 256
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    vectors: str | None = None  # a static source that initialises the embedding layer
    freeze_vectors: bool = False
    # how a text longer than max_length is read (engine.models.truncation)
    truncation: Truncation = field(default_factory=Truncation)

    def summary(self) -> str:
        """Its key settings in a few words, for a runs table: "adamw lr 0.0005 · batch 32 ·
        3 ep · embed_dim 64"."""
        t = self.train
        parts = [f"{t.get('optimizer', 'adamw')} lr {t.get('lr', 5e-4):g}"]
        parts.append(f"batch {t.get('batch_size', 32)}")
        if t.get("max_steps"):
            parts.append(f"{t['max_steps']} steps")
        else:
            parts.append(f"{t.get('epochs', 3)} ep")
        for key, value in list(self.model.items())[:2]:
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                parts.append(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}")
        if self.vectors:
            parts.append(f"vectors {self.vectors}")
        return " · ".join(parts)

    @classmethod
    def from_toml(cls, text: str, name: str | None = None) -> RunConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise EngineError(f"the configuration is not valid TOML: {exc}") from None
        known = {"name", "data", "model", "train"}
        extra = sorted(set(data) - known)
        if extra:
            raise EngineError(
                f"unknown section(s) {', '.join(extra)} in the configuration",
                hint="sections are: name, [data], [model], [train]",
            )
        d = data.get("data", {})
        if not isinstance(d, dict):
            raise EngineError("[data] must be a table of settings", hint="see examples/*.toml")
        unknown = sorted(set(d) - set(DATA_KEYS))
        if unknown:
            raise EngineError(
                f"unknown data setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                hint="[data] takes: " + ", ".join(DATA_KEYS),
            )
        model = dict(data.get("model", {}))
        arch = model.pop("arch", None)
        vectors = model.pop("vectors", None)
        freeze_vectors = model.pop("freeze_vectors", False)
        if not isinstance(freeze_vectors, bool):
            raise EngineError(f"model.freeze_vectors must be true or false, not {freeze_vectors!r}")
        for key, value in (("data.dataset", d.get("dataset")), ("model.arch", arch)):
            if not value:
                raise EngineError(f"the configuration has no {key}", hint="see examples/*.toml")
        max_length = d.get("max_length", 256)
        if not isinstance(max_length, int) or max_length < 2:
            raise EngineError(
                f"data.max_length must be a whole number of 2 or more, not {max_length!r}"
            )
        truncation = Truncation.from_data(d)
        truncation.validate(max_length)
        return cls(
            name=str(name or data.get("name") or f"{arch}-{d['dataset']}"),
            dataset=str(d["dataset"]),
            # a seq2seq run builds its own vocabulary from its pairs: no tokenizer by default
            tokenizer=str(d.get("tokenizer", "" if arch == "seq2seq" else "minilm-wordpiece")),
            arch=str(arch),
            train_split=str(d.get("train_split", "train")),
            validation_split=d.get("validation_split", "validation") or None,
            test_split=str(d.get("test_split", "test") or "") or None,
            max_length=max_length,
            model=model,
            train=dict(data.get("train", {})),
            vectors=str(vectors) if vectors else None,
            freeze_vectors=freeze_vectors,
            truncation=truncation,
        )


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, batching, evaluation, checkpoints, precision."""

    optimizer: str = "adamw"
    lr: float = 5e-4
    weight_decay: float = 0.01
    momentum: float = 0.9  # sgd only
    schedule: str = "linear"
    warmup_steps: int = 0
    warmup_ratio: float = 0.0  # a share of all steps; set this or warmup_steps
    batch_size: int = 32
    token_budget: int | None = None  # most padded tokens (rows x longest row) in one batch
    epochs: int = 3
    max_steps: int | None = None
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    early_stopping_patience: int = 0  # evaluations without improvement; 0 = off
    metric: str = "loss"  # decides the best checkpoint and early stopping
    seed: int = 0
    precision: str = "fp32"
    eval_every: int = 0  # steps; 0 = at the end of each epoch
    checkpoint_every: int = 0  # steps; 0 = at the end of each epoch
    keep_checkpoints: int = 2  # most recent ones kept, besides the best
    compile: bool = False
    bucketing: bool = True
    # adversarial training (classifiers): "pgd" perturbs the embeddings of each batch's real
    # tokens within adv_epsilon (relative to the token table's size) in adv_steps steps and
    # mixes losses: (1 - adv_ratio) * clean + adv_ratio * adversarial; "augment" replaces a
    # share adv_ratio of each batch's examples by adv_recipe attacks made with the current
    # model (adv_budget queries each), trained on with their true labels
    adversarial: str = "none"
    adv_ratio: float = 0.5
    adv_epsilon: float = 0.05  # also the ball of robust_recipe "pgd"
    adv_steps: int = 3  # also robust_recipe "pgd"'s
    adv_norm: str = "inf"
    adv_recipe: str = "charedit"
    adv_budget: int = 50  # also robust_recipe charedit/wordsub's
    # robustness while training: every robust_every steps (0: off) the first robust_n rows of
    # the validation split are attacked with robust_recipe (eval mode): robust_accuracy and
    # attack_success_rate (shares, as accuracy is) join the run's metrics
    robust_every: int = 0
    robust_recipe: str = "pgd"
    robust_n: int = 50
    # processes the run trains in, each on its own device, through torchrun (DDP); 0 (or
    # "all" in a config file): every GPU, one on a CPU
    devices: int = 1
    # machines the run trains on (torchrun's --nnodes), `devices` processes on each: the
    # engine's machine is node 0; each other one joins with `workbench join` (rendezvous at
    # rdzv_endpoint, HOST:PORT of the engine's machine as the others reach it)
    nodes: int = 1
    rdzv_endpoint: str = ""

    def validate(
        self,
        device_type: str | None = None,
        task: str | None = None,
        has_validation: bool = True,
    ) -> None:
        """Raise EngineError naming every invalid value; device and task add their own rules."""
        problems = _problems(self)
        if device_type is not None and self.precision == "fp16" and device_type != "cuda":
            problems.append(
                f"fp16 needs a CUDA GPU and this device is {device_type}: use bf16 or fp32"
            )
        if task is not None:
            allowed = TASK_METRICS.get(task)
            if allowed is None:
                problems.append(f"task must be classify, lm or seq2seq, got {task!r}")
            elif self.metric in METRICS and self.metric not in allowed:
                kind = TASK_KINDS[task]
                problems.append(
                    f"metric {self.metric} does not apply to {kind}; "
                    f"use one of: {', '.join(allowed)}"
                )
        if not has_validation and self.early_stopping_patience > 0:
            problems.append("early stopping needs validation data; set its patience to 0")
        if not has_validation and self.robust_every > 0:
            problems.append(
                "robust_every attacks rows of the validation split and there is none; "
                "set a validation split or robust_every = 0"
            )
        if task is not None and task != "classify":
            for what in self.attack_uses():
                problems.append(
                    f"{what} applies only to classifiers (an attack flips a class); "
                    f"{TASK_KINDS[task]} trains without it"
                )
        if problems:
            raise EngineError("; ".join(problems), hint="fix the training settings")

    def attack_uses(self) -> list[str]:
        """The settings that make the run attack its model: "adversarial pgd", "robust_every"."""
        out = []
        if self.adversarial != "none":
            out.append(f"adversarial {self.adversarial}")
        if self.robust_every > 0:
            out.append("robust_every")
        return out

    @property
    def needs_door(self) -> bool:
        """Whether training reaches the model's embeddings (PGD in embedding space)."""
        return self.adversarial == "pgd" or (self.robust_every > 0 and self.robust_recipe == "pgd")

    @property
    def needs_texts(self) -> bool:
        """Whether training attacks texts (discrete recipes read and edit the words)."""
        return self.adversarial == "augment" or (
            self.robust_every > 0 and self.robust_recipe != "pgd"
        )

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of the chosen metric is an improvement."""
        return self.metric not in LOWER_IS_BETTER

    def to_dict(self) -> dict[str, Any]:
        """Plain values for TOML/JSON; unset optional values are left out (TOML has no null)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from parsed TOML/JSON; unknown keys and wrong types raise EngineError."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise EngineError(
                f"unknown training setting{'s' if len(unknown) > 1 else ''}: "
                f"{', '.join(unknown)}; valid settings are: {', '.join(valid)}",
                hint="check the spelling in the config file",
            )
        if data.get("devices") == "all":
            data = {**data, "devices": 0}
        try:
            return cls(**settings.coerce_all(cls, data))
        except EngineError as exc:
            raise EngineError(exc.message, hint="fix the training settings") from None


def _problems(c: TrainConfig) -> list[str]:
    out = settings.type_problems(c)
    if out:  # the value checks below assume the right types
        return out

    def one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            out.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    def at_most(name: str, value: float | None, high: float) -> None:
        if value is not None and math.isfinite(value) and value > high:
            out.append(f"{name} must be at most {high:,}, got {value:,}")

    def at_least(name: str, value: float | None, low: float, optional: bool = False) -> None:
        if value is None and optional:
            return
        if value is None or not math.isfinite(value) or value < low:
            out.append(f"{name} must be at least {low:g}, got {value}")

    one_of("optimizer", c.optimizer, OPTIMIZERS)
    if not (math.isfinite(c.lr) and c.lr > 0):
        out.append(f"learning rate must be above 0, got {c.lr}")
    at_least("weight decay", c.weight_decay, 0)
    if not (0 <= c.momentum < 1):
        out.append(f"momentum must be from 0 up to (not including) 1, got {c.momentum}")
    one_of("schedule", c.schedule, SCHEDULES)
    at_least("warmup steps", c.warmup_steps, 0)
    if not (0 <= c.warmup_ratio < 1):
        out.append(f"warmup ratio must be from 0 up to (not including) 1, got {c.warmup_ratio}")
    if c.warmup_steps > 0 and c.warmup_ratio > 0:
        out.append("set warmup steps or warmup ratio, not both")
    at_least("batch size", c.batch_size, 1)
    at_least("token budget", c.token_budget, 1, optional=True)
    at_least("epochs", c.epochs, 1)
    at_most("epochs", c.epochs, MAX_EPOCHS)
    at_least("max steps", c.max_steps, 1, optional=True)
    at_most("max steps", c.max_steps, MAX_STEPS)
    at_least("gradient clipping norm", c.grad_clip, 0)
    at_least("early stopping patience", c.early_stopping_patience, 0)
    one_of("metric", c.metric, METRICS)
    if not (0 <= c.seed < 2**63):
        out.append(f"seed must be from 0 to 2**63 - 1, got {c.seed}")
    one_of("precision", c.precision, PRECISIONS)
    at_least("eval every (steps)", c.eval_every, 0)
    at_least("checkpoint every (steps)", c.checkpoint_every, 0)
    at_least("checkpoints kept", c.keep_checkpoints, 1)
    one_of("adversarial", c.adversarial, ADVERSARIAL)
    if not (math.isfinite(c.adv_ratio) and 0 < c.adv_ratio <= 1):
        out.append(
            f"adv_ratio must be above 0 and at most 1 (the adversarial share), got {c.adv_ratio}"
        )
    if not (math.isfinite(c.adv_epsilon) and 0 < c.adv_epsilon <= MAX_ADV_EPSILON):
        out.append(
            f"adv_epsilon must be above 0 and at most {MAX_ADV_EPSILON:g} (relative to the "
            f"token table's size), got {c.adv_epsilon}"
        )
    at_least("adv_steps", c.adv_steps, 1)
    at_most("adv_steps", c.adv_steps, MAX_ADV_STEPS)
    one_of("adv_norm", c.adv_norm, ADV_NORMS)
    one_of("adv_recipe", c.adv_recipe, ADV_RECIPES)
    at_least("adv_budget", c.adv_budget, 1)
    at_least("robust_every (steps)", c.robust_every, 0)
    one_of("robust_recipe", c.robust_recipe, ROBUST_RECIPES)
    at_least("robust_n", c.robust_n, 1)
    at_most("robust_n", c.robust_n, MAX_ROBUST_N)
    at_least("devices", c.devices, 0)
    at_most("devices", c.devices, MAX_DEVICES)
    at_least("nodes", c.nodes, 1)
    at_most("nodes", c.nodes, MAX_NODES)
    if c.nodes > 1 or c.rdzv_endpoint:
        problem = endpoint_problem(c.rdzv_endpoint)
        if problem:
            out.append(problem)
    return out


def endpoint_problem(endpoint: str) -> str | None:
    """What is wrong with a rendezvous endpoint (HOST:PORT), or None."""
    host, _, port = endpoint.rpartition(":")
    if not endpoint:
        return (
            "a run on several nodes needs rdzv_endpoint: HOST:PORT of the engine's machine as "
            "the other nodes reach it (for example 10.0.0.1:29500)"
        )
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in " /"):
        return f"rdzv_endpoint must be HOST:PORT with a port from 1 to 65535, got {endpoint!r}"
    return None


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """(host, port) of a valid HOST:PORT (an IPv6 host may be in brackets)."""
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def fitted_refusal(arch: str, train: dict[str, Any]) -> str | None:
    """Why a fitted (not trained) model cannot take the attack settings of [train], or None."""
    asked = []
    mode = train.get("adversarial", "none")
    if mode not in (None, "none"):
        asked.append(f"adversarial = {mode!r}")
    every = train.get("robust_every", 0)
    if isinstance(every, int | float) and not isinstance(every, bool) and every > 0:
        asked.append("robust_every")
    spread = [
        f"{k} = {train[k]}"
        for k in ("devices", "nodes")
        if isinstance(train.get(k), int) and not isinstance(train.get(k), bool) and train[k] > 1
    ]
    if spread:
        return (
            f"{arch} is fitted in one go by scikit-learn in one process, so "
            f"{' and '.join(spread)} cannot apply; leave them out, or train a network for that"
        )
    if not asked:
        return None
    return (
        f"{arch} is fitted in one go, not trained step by step, so {' and '.join(asked)} "
        "cannot apply (no training steps to attack); attack the fitted run afterwards with a "
        "black-box recipe (charedit, wordsub), or train a network (embedding-bag, cnn, ...) "
        "for pgd or augment"
    )


# One line each, for the model builder's help on the [train] fields.
TRAIN_HELP: dict[str, str] = {
    "optimizer": "AdamW or SGD (with momentum)",
    "lr": "learning rate",
    "weight_decay": "decoupled weight decay (AdamW) or L2 (SGD)",
    "momentum": "SGD only",
    "schedule": "learning rate schedule after warmup",
    "warmup_steps": "steps of linear warmup",
    "warmup_ratio": "warmup as a share of all steps (instead of steps)",
    "batch_size": "examples per step",
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
    "adversarial": "adversarial training: none, pgd (embedding space) or augment (attacked texts)",
    "adv_ratio": "pgd: weight of the adversarial loss; augment: share of each batch attacked",
    "adv_epsilon": "PGD ball radius, relative to the token table's size (training, robust pgd)",
    "adv_steps": "PGD steps per batch (training and robust pgd)",
    "adv_norm": "PGD norm: inf (each coordinate) or 2 (each token's vector); robust pgd too",
    "adv_recipe": "augment: the discrete attack made on the fly",
    "adv_budget": "model queries per attacked text (augment, robust charedit/wordsub)",
    "robust_every": "attack validation rows every N steps: robust accuracy; 0 off",
    "robust_recipe": "the attack robust_every measures with",
    "robust_n": "the first N validation rows robust_every attacks",
    "devices": 'processes, one per device, through torchrun; 0 or "all": every GPU',
    "nodes": "machines the run trains on; the others join with `workbench join`",
    "rdzv_endpoint": "HOST:PORT of the engine's machine as the other nodes reach it",
}
TRAIN_CHOICES = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "metric": METRICS,
    "precision": PRECISIONS,
    "adversarial": ADVERSARIAL,
    "adv_norm": ADV_NORMS,
    "adv_recipe": ADV_RECIPES,
    "robust_recipe": ROBUST_RECIPES,
}


# When a setting does the trainer any good (SettingSpec.applies_when): SGD's momentum is not
# read by AdamW; with no validation split nothing is evaluated, so no metric picks a best
# checkpoint and nothing stops early. Warmup is kept for every schedule: "constant" warms up
# too, then holds the rate (engine.training.optim.lr_factor). The PGD ball (adv_epsilon, adv_steps,
# adv_norm) and adv_budget serve robust_every's attacks too, so they are always shown.
TRAIN_APPLIES: dict[str, dict[str, list[str]]] = {
    "momentum": {"optimizer": ["sgd"]},
    "metric": {"data.validation_split": ["*"]},
    "eval_every": {"data.validation_split": ["*"]},
    "early_stopping_patience": {"data.validation_split": ["*"]},
    "adv_ratio": {"adversarial": ["pgd", "augment"]},
    "adv_recipe": {"adversarial": ["augment"]},
    "robust_every": {"data.validation_split": ["*"]},
    "robust_recipe": {"data.validation_split": ["*"]},
    "robust_n": {"data.validation_split": ["*"]},
}


def train_specs() -> list[Any]:
    """The [train] settings as form fields, each saying when it applies."""
    return [
        msgspec.structs.replace(s, applies_when=TRAIN_APPLIES[s.name])
        if s.name in TRAIN_APPLIES
        else s
        for s in settings.specs(TrainConfig, TRAIN_HELP, TRAIN_CHOICES)
    ]


def device_precisions(device_type: str) -> list[str]:
    """The precisions a run may train in on this kind of device (TrainConfig.validate's rule)."""
    return ["fp32", "bf16", "fp16"] if device_type == "cuda" else ["fp32", "bf16"]
