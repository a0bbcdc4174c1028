"""The model builder's check of a run configuration, field by field, with the model it would
build: the layer tree, parameter counts, memory for one training step.

Each field is checked on its own first, so a problem is reported against the field that has
it, then the fields together (d_model and num_heads, say). Values that work but are far from
the usual ones (lr = 5 for AdamW, dropout 0.99) come back as warnings: the run may still start.
Built models are cached by what shapes them, so changing the batch size or the learning rate
never rebuilds one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import tomllib
import typing
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import protocol as P
from engine.core.device import best_device, free_memory
from engine.core.errors import EngineError, NullContext
from engine.models import service as models
from engine.training.config import RunConfig, TrainConfig, fitted_refusal, train_specs

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
        self._vocabularies: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def plan(self, config_toml: str, raise_too_big: bool = False) -> P.RunPlanResult:
        """Every problem of the configuration, by field, and what it would build; with
        raise_too_big, a step that cannot fit in memory raises TooBig instead (a run is then
        refused before it exists)."""
        try:
            cfg = RunConfig.from_toml(config_toml)
        except EngineError as exc:
            keys = (
                "data.head_tokens",
                "data.stride",
                "data.pool",
                "data.truncation",
                "data.max_length",
                "data.dataset",
                "model.arch",
                "model.freeze_vectors",
            )
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
        test_rows: int | None = None
        if has_data and cfg.test_split:
            try:
                test_rows = datasets.split_rows(cfg.dataset, cfg.test_split)
            except EngineError:
                test_rows = None  # no such split: a warning, not a problem (it is optional)
        tok = None
        known = models.ARCHITECTURES.get(cfg.arch)
        pairs = known is not None and known.task == "seq2seq"
        if not pairs:  # a seq2seq run builds its own vocabulary (below, once its level is known)
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
        elif spec is not None:
            refused = fitted_refusal(cfg.arch, cfg.train)
            if refused:
                key = "adversarial" if "adversarial" in refused else "robust_every"
                problems.append(
                    P.FieldProblem(
                        f"train.{key}", refused, "leave adversarial and robust_every out of [train]"
                    )
                )

        if pairs and has_data and model_cfg is not None:
            try:
                self.checks.check_pairs(cfg)
                tok = self._pair_vocabulary(cfg, model_cfg.level)
            except EngineError as exc:
                problems.append(
                    _problem("data.tokenizer" if cfg.tokenizer else "data.dataset", exc)
                )
        elif tok is not None and model_cfg is not None:  # after the model: its folder is checked
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
            if spec.task != "classify" or labels >= 2:
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
        if spec is not None:
            facts = PlanFacts(
                trained_by=spec.trained_by,
                pretrained=spec.pretrained_tokenizer,
                train_rows=out.train_rows,
                steps_per_epoch=out.steps_per_epoch,
                model_max_len=getattr(model_cfg, "max_len", None),
                test_rows=test_rows,
                test_split_set="test_split" in tomllib.loads(config_toml).get("data", {}),
            )
            wrong = {p.field for p in problems}
            out.warnings = [w for w in usual_warnings(cfg, facts) if w.field not in wrong]
        return out

    def _pair_vocabulary(self, cfg: RunConfig, level: str) -> Any:
        """The vocabulary a seq2seq run would build from its training pairs (kept for the
        dataset's split and level while the dataset is unchanged)."""
        datasets = self.checks.datasets
        key = (cfg.dataset, cfg.train_split, level, datasets.info(cfg.dataset).created)
        with self._lock:
            cached = self._vocabularies.get(key)
        if cached is not None:
            return cached
        texts = datasets.texts(cfg.dataset, cfg.train_split)
        texts += datasets.targets(cfg.dataset, cfg.train_split)
        tok = self.checks.tokenizers.pair_vocabulary(
            level, texts, list(models.SEQ2SEQ_SPECIALS), f"dataset '{cfg.dataset}'", NullContext()
        )
        with self._lock:
            self._vocabularies[key] = tok
            while len(self._vocabularies) > _CACHE_SIZE:
                self._vocabularies.popitem(last=False)
        return tok

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


# ----------------------------------------------------------------- warnings


@dataclass(frozen=True)
class Usual:
    """A setting's usual range, and why a value outside it is probably not what was meant."""

    low: float
    high: float
    too_low: str = ""  # "" : a low value is never warned about
    too_high: str = ""
    off: float | None = None  # the value that turns the setting off (never warned about)


WIDTH = Usual(4, 4096, "very narrow: it can hold little", "very wide: slow and memory-hungry", 0)
MODEL_USUAL: dict[str, Usual] = {
    "dropout": Usual(0, 0.7, "", "zeroes most activations while training: little gets through"),
    "embed_dim": WIDTH,
    "hidden_size": WIDTH,
    "d_model": WIDTH,
    "ff_size": WIDTH,
    "channels": WIDTH,
    "attention_size": WIDTH,
    "num_layers": Usual(1, 24, "", "very deep: slow, and hard to train from scratch"),
    "num_heads": Usual(1, 32, "", "many heads, each very narrow"),
    "kernel_sizes": Usual(1, 15, "", "a convolution this wide sees most of a short text at once"),
    "C": Usual(1e-4, 1e4, "regularises so strongly it barely fits", "hardly regularised"),
}
LR_HIGH = "the loss usually blows up (NaN) or jumps about"
LR_LOW = "the model barely moves in the steps it has"


def train_usual(name: str, optimizer: str, pretrained: bool) -> tuple[Usual, str] | None:
    """The usual range of a [train] setting, and what it depends on ("for AdamW")."""
    opt = "SGD" if optimizer == "sgd" else "AdamW"
    if name == "lr":
        if optimizer == "sgd":
            return Usual(1e-4, 1.0, LR_LOW, LR_HIGH), "for SGD"
        if pretrained:
            high = "a rate this high usually wrecks the pretrained weights"
            return Usual(1e-6, 5e-4, LR_LOW, high), "for fine-tuning with AdamW"
        return Usual(1e-6, 3e-2, LR_LOW, LR_HIGH), "for AdamW"
    if name == "weight_decay":
        strong = "decay this strong pulls weights to 0 faster than they learn"
        return Usual(0, 0.05 if optimizer == "sgd" else 0.3, "", strong), f"for {opt}"
    fixed = {
        "batch_size": Usual(1, 4096, "", "a batch this large needs a lot of memory"),
        "epochs": Usual(1, 500, "", "that many passes take very long and overfit"),
        "momentum": Usual(0, 0.99, "", "momentum this close to 1 makes SGD overshoot"),
        "warmup_ratio": Usual(0, 0.3, "", "most of the run is spent warming up"),
        "grad_clip": Usual(0.01, math.inf, "clipping this tight makes every step tiny", "", 0),
    }
    return (fixed[name], "") if name in fixed else None


def _num(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:g}"


def _usual_text(usual: Usual) -> str:
    if usual.high == math.inf:
        return f"{_num(usual.low)} or more" + (
            f" ({_num(usual.off)}: off)" if usual.off == 0 else ""
        )
    return f"{_num(usual.low)} to {_num(usual.high)}"


def _outside(field: str, value: Any, usual: Usual, scope: str = "") -> P.FieldProblem | None:
    """A warning when a number (or each of a list of them) is outside its usual range."""
    numbers = value if isinstance(value, list | tuple) else [value]
    if not numbers or any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        return None  # wrong types are problems, found elsewhere
    scope = f" {scope}" if scope else ""
    for v in numbers:
        if not math.isfinite(v) or v == usual.off:
            continue
        if v > usual.high and usual.too_high:
            return P.FieldProblem(
                field,
                f"{_num(v)} is above the usual range{scope}",
                usual.too_high,
                _usual_text(usual),
            )
        if v < usual.low and usual.too_low:
            return P.FieldProblem(
                field,
                f"{_num(v)} is below the usual range{scope}",
                usual.too_low,
                _usual_text(usual),
            )
    return None


@dataclass(frozen=True)
class PlanFacts:
    """What the plan found out that the warnings weigh values against."""

    trained_by: str = "trainer"
    pretrained: bool = False  # a pretrained model (fine-tuned)
    train_rows: int = 0
    steps_per_epoch: int = 0
    model_max_len: int | None = None  # the longest input the model takes
    test_rows: int | None = None  # rows in the test split; None: the dataset has no such split
    test_split_set: bool = False  # the file names a test split (else "test" by default)


def usual_warnings(cfg: RunConfig, facts: PlanFacts) -> list[P.FieldProblem]:
    """Values that work but are far from the usual ones, each on its field, with the reason
    and the usual range; settings that are set but do not apply."""
    out: list[P.FieldProblem | None] = []
    if cfg.max_length < 8:
        out.append(
            P.FieldProblem(
                "data.max_length",
                f"keeps only {cfg.max_length} tokens of each text",
                "most texts are cut to a few words",
                "8 to 8,192",
            )
        )
    elif facts.model_max_len and cfg.max_length > facts.model_max_len:
        out.append(
            P.FieldProblem(
                "data.max_length",
                f"the model reads at most {facts.model_max_len} tokens (model.max_len)",
                f"texts are cut at {facts.model_max_len}, not {cfg.max_length}",
            )
        )
    out += _test_split_warnings(cfg, facts)
    for name, value in cfg.model.items():
        if name in MODEL_USUAL:
            out.append(_outside(f"model.{name}", value, MODEL_USUAL[name]))
    if facts.trained_by != "fit":
        out += _train_warnings(cfg, facts)
    first: dict[str, P.FieldProblem] = {}  # one warning a field: the first found
    for w in out:
        if w is not None:
            first.setdefault(w.field, w)
    return list(first.values())


def _test_split_warnings(cfg: RunConfig, facts: PlanFacts) -> list[P.FieldProblem]:
    split = cfg.test_split
    if not split or not facts.test_split_set:  # the default "test" is used where it fits
        return []
    same = "train" if split == cfg.train_split else "validation"
    if split in (cfg.train_split, cfg.validation_split):
        return [
            P.FieldProblem(
                "data.test_split",
                f"'{split}' is the {same} split: the run is not scored on a test split",
                "pick a split the model neither learns from nor is chosen by, or none",
            )
        ]
    if not facts.test_rows:
        what = "has no rows in" if facts.test_rows == 0 else "has no split"
        return [
            P.FieldProblem(
                "data.test_split",
                f"'{cfg.dataset}' {what} '{split}': the run is not scored on a test split",
                "split the dataset on screen 1 (p), or choose none",
            )
        ]
    return []


def _train_warnings(cfg: RunConfig, facts: PlanFacts) -> list[P.FieldProblem | None]:
    values = {**TrainConfig().to_dict(), **cfg.train}
    optimizer = str(values.get("optimizer", "adamw"))
    keyed = {f"train.{k}": v for k, v in values.items()}
    keyed["data.validation_split"] = cfg.validation_split
    out: list[P.FieldProblem | None] = []
    for spec in train_specs():
        if spec.name in cfg.train and not spec.applies("train", keyed):
            rule = ", ".join(f"{k} is {' or '.join(v)}" for k, v in spec.applies_when.items())
            rule = rule.replace("is *", "is set")
            out.append(
                P.FieldProblem(
                    f"train.{spec.name}",
                    f"set but not used: {spec.name} applies only when {rule}",
                    "leave it out of the file",
                )
            )
            continue
        found = train_usual(spec.name, optimizer, facts.pretrained)
        if found is not None and spec.name in values:
            out.append(_outside(f"train.{spec.name}", values[spec.name], *found))
    rows, per_epoch = facts.train_rows, facts.steps_per_epoch
    batch = values.get("batch_size")
    if rows and isinstance(batch, int) and not isinstance(batch, bool) and batch > rows:
        out.append(
            P.FieldProblem(
                "train.batch_size",
                f"{_num(batch)} is more than the {rows:,} training rows",
                "every epoch is one step of the whole split",
                f"1 to {rows:,}",
            )
        )
    epochs, max_steps = values.get("epochs"), values.get("max_steps")
    if per_epoch and isinstance(epochs, int) and not isinstance(epochs, bool):
        total = per_epoch * epochs
        if isinstance(max_steps, int) and not isinstance(max_steps, bool) and max_steps > 0:
            total = min(total, max_steps)
        warmup = values.get("warmup_steps")
        if isinstance(warmup, int) and not isinstance(warmup, bool) and warmup > total:
            out.append(
                P.FieldProblem(
                    "train.warmup_steps",
                    f"{_num(warmup)} is more than the run's {total:,} steps",
                    "the rate never reaches its peak",
                    f"0 to {total:,}",
                )
            )
        many = next((w for w in out if w is not None and w.field == "train.epochs"), None)
        if many is not None:
            many.message += f" ({total:,} steps)"
    return out
