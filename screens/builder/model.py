"""The model builder's form as plain values: parse what is typed, keep what is wrong with it,
write and read the run TOML.

A form value lives under a key "section.setting" ("data.dataset", "model.embed_dim",
"train.lr") or "name". The TOML written here is the file `workbench train` takes; a setting that
does not apply (the engine's SettingSpec.applies_when: momentum for AdamW) is kept in the form,
so it comes back when it applies again, but not written.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from typing import Any

import msgspec
import tomli_w

from engine import protocol as P

# how a long text is read (engine.models.truncation), and when its settings apply
TRUNCATIONS = P.TRUNCATIONS
DATA_KEYS = P.RUN_DATA_KEYS
TRUNCATION_DEFAULTS = {"truncation": "head", "head_tokens": 0, "stride": 0, "pool": "mean"}
TRUNCATION_APPLIES = {
    "data.head_tokens": ("head+tail",),
    "data.stride": ("windows",),
    "data.pool": ("windows",),
}
INT_FIELDS = ("data.max_length", "data.head_tokens", "data.stride")
OPTIONAL_SPLITS = ("validation_split", "test_split")  # "" in the TOML: none
VECTOR_KEYS = ("vectors", "freeze_vectors")
NO_SPLIT = "(none)"
DEFAULT_ARCH = "embedding-bag"
DEFAULT_DATASET = "rotten-tomatoes"
DEFAULT_TOKENIZER = "minilm-wordpiece"
PRETRAINED_TOKENIZER = "minilm-wordpiece"  # the bundled MiniLM's own
# the tokenizer a pretrained architecture's default model reads ids with, and that model
OWN_TOKENIZERS = {"decoder-finetune": ("smollm2-bpe", "SmolLM2")}


def own_tokenizer(arch: str) -> tuple[str, str]:
    """(tokenizer, model) of a pretrained architecture's default model."""
    return OWN_TOKENIZERS.get(arch, (PRETRAINED_TOKENIZER, "MiniLM"))


# what a seq2seq run does not read: it builds its own vocabulary and cuts at the head
PAIR_UNUSED = ("data.tokenizer", "data.truncation", *TRUNCATION_APPLIES)

# choosing one of these changes which fields the form has (a dataset changes only choices)
REBUILDS = ("model.arch",)


class FormError(ValueError):
    """What is wrong with a typed value, in words for the person typing."""


def parse_value(kind: str, text: str, optional: bool = False) -> Any:
    """The typed text as a setting of this kind; FormError saying what was expected."""
    text = text.strip()
    if not text:
        if optional:
            return None
        raise FormError("needs a value")
    if kind == "int":
        try:
            return int(text.replace("_", ""))
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
            raise FormError(f"'{text}' is not a whole number") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise FormError(f"'{text}' is not a number (e.g. 0.001 or 2e-3)") from None
    if kind == "ints":
        parts = [p for p in re.split(r"[,\s]+", text.strip("[]() ")) if p]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise FormError("give whole numbers separated by commas, e.g. 3, 4, 5") from None
        if not values:
            raise FormError("give at least one number")
        return values
    return text


def format_value(value: Any) -> str:
    """A value as the form shows it in a text box."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_dict(
    values: dict[str, Any], arch: P.ArchitectureInfo, train: list[P.SettingSpec]
) -> dict[str, Any]:
    """The run configuration the form describes, as TOML-ready tables (empty values left out)."""
    data = {k: values.get(f"data.{k}") for k in DATA_KEYS}
    how = data.get("truncation") or "head"
    for key, default in TRUNCATION_DEFAULTS.items():  # only what differs, and applies
        applies = key == "truncation" or how in TRUNCATION_APPLIES[f"data.{key}"]
        if data.get(key) in (None, default) or not applies:
            data.pop(key, None)
    for key in OPTIONAL_SPLITS:
        data[key] = data[key] or ""  # "": none
    if arch.task == "seq2seq":  # its own vocabulary from the pairs; sources are cut at the head
        for key in PAIR_UNUSED:
            data.pop(key.removeprefix("data."), None)
    model: dict[str, Any] = {"arch": arch.name}
    for s in arch.settings:
        value = values.get(f"model.{s.name}")
        if value is not None and s.applies("model", values):
            model[s.name] = value
    if arch.takes_vectors and values.get("model.vectors"):
        model["vectors"] = values["model.vectors"]
        model["freeze_vectors"] = bool(values.get("model.freeze_vectors"))
    out: dict[str, Any] = {
        "name": values.get("name") or f"{arch.name}-{data['dataset']}",
        "data": {k: v for k, v in data.items() if v is not None},
        "model": model,
    }
    if arch.trained_by != "fit":
        out["train"] = {
            s.name: values[f"train.{s.name}"]
            for s in train
            if values.get(f"train.{s.name}") is not None and s.applies("train", values)
        }
    return out


def to_toml(config: dict[str, Any]) -> str:
    head = f"# {config['name']}. Run it: workbench train FILE.toml --follow\n"
    return head + tomli_w.dumps(config)


def read_toml(text: str) -> dict[str, Any]:
    """The tables of a run TOML; FormError saying where it is broken."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormError(f"not valid TOML: {exc}") from None
    for section in ("data", "model", "train"):
        if not isinstance(data.get(section, {}), dict):
            raise FormError(f"[{section}] must be a table")
    return data


def values_from_config(
    data: dict[str, Any], schema: P.RunSchemaResult
) -> tuple[dict[str, Any], list[str]]:
    """Form values from a parsed run TOML, and the keys the form has no field for."""
    values: dict[str, Any] = {}
    ignored: list[str] = []
    if "name" in data:
        values["name"] = str(data["name"])
    for key, value in data.get("data", {}).items():
        if key in DATA_KEYS:
            values[f"data.{key}"] = value
        else:
            ignored.append(f"data.{key}")
    for key in OPTIONAL_SPLITS:
        if key in data.get("data", {}) and not data["data"][key]:
            values[f"data.{key}"] = None
    model = dict(data.get("model", {}))
    arch_name = str(model.pop("arch", ""))
    arch = next((a for a in schema.architectures if a.name == arch_name), None)
    if arch is None:
        raise FormError(
            f"unknown architecture {arch_name!r}" if arch_name else "the file has no model.arch",
        )
    values["model.arch"] = arch.name
    names = {s.name for s in arch.settings} | set(VECTOR_KEYS)
    for key, value in model.items():
        if key in names:
            values[f"model.{key}"] = value
        else:
            ignored.append(f"model.{key}")
    train_names = {s.name for s in schema.train}
    for key, value in data.get("train", {}).items():
        if key in train_names:
            values[f"train.{key}"] = value
        else:
            ignored.append(f"train.{key}")
    ignored += [k for k in data if k not in ("name", "data", "model", "train")]
    return values, ignored


class RunForm:
    """What the builder's form holds: the engine's schema and the catalog's choices, the values
    typed or chosen, what cannot be read (local errors) and the engine's last plan of them."""

    def __init__(self) -> None:
        self.schema: P.RunSchemaResult | None = None
        self.datasets: list[P.DatasetInfo] = []
        self.tokenizers: list[P.TokenizerInfo] = []
        self.vector_sources: list[str] = []
        self.values: dict[str, Any] = {}
        self.local_errors: dict[str, str] = {}
        self.bad_text: dict[str, str] = {}  # what was typed where it could not be read
        self.plan: P.RunPlanResult | None = None

    @property
    def arch(self) -> P.ArchitectureInfo | None:
        if self.schema is None:
            return None
        name = self.values.get("model.arch")
        return next((a for a in self.schema.architectures if a.name == name), None)

    def take_choices(
        self, datasets: list[P.DatasetInfo], tokenizers: list[P.TokenizerInfo], vectors: list[str]
    ) -> bool:
        """The available datasets and tokenizers and these vectors as the form's choices;
        whether any changed."""
        before = (self.datasets, self.tokenizers, self.vector_sources)
        dataset = str(self.values.get("data.dataset") or "")
        unknown = dataset and not self.splits(dataset)  # a built-in not opened yet
        self.datasets = [d for d in datasets if d.available]
        self.tokenizers = [t for t in tokenizers if t.available]
        self.vector_sources = list(vectors)
        if unknown and self.splits(dataset):  # its splits are known now: its own defaults
            self.values.update(self.split_defaults(dataset))
        return before != (self.datasets, self.tokenizers, self.vector_sources)

    # ------------------------------------------------------------- defaults

    def default_values(self, arch_name: str = DEFAULT_ARCH) -> dict[str, Any]:
        assert self.schema is not None
        names = [d.name for d in self.datasets]
        dataset = DEFAULT_DATASET if DEFAULT_DATASET in names else (names or [""])[0]
        toks = [t.name for t in self.tokenizers]
        values: dict[str, Any] = {
            "name": "",
            "data.dataset": dataset,
            "data.tokenizer": DEFAULT_TOKENIZER if DEFAULT_TOKENIZER in toks else (toks or [""])[0],
            "data.max_length": 128,
            **{f"data.{k}": v for k, v in TRUNCATION_DEFAULTS.items()},
            "model.arch": arch_name,
            "model.vectors": None,
            "model.freeze_vectors": False,
        }
        values.update(self.split_defaults(dataset))
        values.update(self.model_defaults(arch_name))
        values.update({f"train.{s.name}": s.default for s in self.schema.train})
        return values

    def split_defaults(self, dataset: str) -> dict[str, Any]:
        splits = self.splits(dataset)
        train = "train" if "train" in splits else (splits or ["train"])[0]
        val = next((s for s in ("validation", "test") if s in splits and s != train), None)
        return {
            "data.train_split": train,
            "data.validation_split": val,
            "data.test_split": self.test_default(dataset, train, val),
        }

    def test_default(self, dataset: str, train: str | None, validation: str | None) -> str | None:
        """The split the best checkpoint is scored on: "test" where the dataset has it and it
        is neither the train nor the validation split (the engine's own rule), else none."""
        fits = "test" in self.splits(dataset) and "test" not in (train, validation)
        return "test" if fits else None

    def model_defaults(
        self, arch_name: str, keep: dict[str, Any] | None = None, was: str | None = None
    ) -> dict[str, Any]:
        """An architecture's settings at their defaults, keeping the values of the same name
        that were changed from the defaults of the architecture was, so moving from an LSTM to
        a GRU keeps the sizes typed but not the LSTM's own defaults."""
        assert self.schema is not None
        arch = next(a for a in self.schema.architectures if a.name == arch_name)
        before = next((a for a in self.schema.architectures if a.name == was), None)
        old_defaults = {s.name: s.default for s in before.settings} if before else {}
        out: dict[str, Any] = {}
        for s in arch.settings:
            old = (keep or {}).get(f"model.{s.name}")
            changed = old is not None and old != old_defaults.get(s.name, s.default)
            fits = s.kind != "choice" or old in s.choices
            out[f"model.{s.name}"] = old if changed and fits else s.default
        return out

    def splits(self, dataset: str) -> list[str]:
        """The dataset's splits that have rows."""
        info = next((d for d in self.datasets if d.name == dataset), None)
        return [s for s, n in (info.splits if info else {}).items() if n > 0]

    def reset(self, arch_name: str = DEFAULT_ARCH) -> None:
        self.values = self.default_values(arch_name)
        self.local_errors.clear()
        self.bad_text.clear()

    def apply(self, values: dict[str, Any]) -> None:
        """A loaded configuration: the architecture's defaults under what the file sets (the
        splits it leaves out are the defaults of its dataset)."""
        base = self.default_values(values["model.arch"])
        dataset = str(values.get("data.dataset", base["data.dataset"]))
        base.update(self.split_defaults(dataset))
        base.update(values)
        if "data.test_split" not in values:
            train, val = base["data.train_split"], base["data.validation_split"]
            base["data.test_split"] = self.test_default(dataset, train, val)
        self.values = base
        self.local_errors.clear()
        self.bad_text.clear()

    # ------------------------------------------------------------- kept across restarts

    def snapshot(self) -> dict[str, Any]:
        """The form as JSON values (what restore() takes back): every value, and the text of
        each field that could not be read."""
        return {"values": dict(self.values), "typed": dict(self.bad_text)}

    def restore(self, saved: Any) -> bool:
        """The form as a snapshot left it, over the defaults of its architecture (keys this
        schema has no field for are dropped); False, changing nothing, when it cannot be used
        (another version's, or not a snapshot at all)."""
        assert self.schema is not None
        values = saved.get("values") if isinstance(saved, dict) else None
        if not isinstance(values, dict):
            return False
        arch = values.get("model.arch")
        if not any(a.name == arch for a in self.schema.architectures):
            return False
        base = self.default_values(str(arch))
        base.update({k: v for k, v in values.items() if k in base})
        self.values = base
        self.local_errors.clear()
        self.bad_text.clear()
        typed = saved.get("typed")
        for key, text in typed.items() if isinstance(typed, dict) else []:
            if key in base and isinstance(text, str):
                self.typed(key, text)
        return True

    # ------------------------------------------------------------- edits

    def spec(self, key: str) -> P.SettingSpec | None:
        """The schema's setting behind a model.* or train.* key."""
        assert self.schema is not None
        section, _, name = key.partition(".")
        if section not in ("model", "train"):
            return None
        arch = self.arch
        settings = (arch.settings if arch else []) if section == "model" else self.schema.train
        return next((s for s in settings if s.name == name), None)

    def offered(self, s: P.SettingSpec) -> P.SettingSpec:
        """A train setting as the form offers it: precision only in what this device trains."""
        assert self.schema is not None
        if s.name == "precision":
            return msgspec.structs.replace(s, choices=self.schema.precisions)
        return s

    def typed(self, key: str, text: str) -> None:
        """Text typed in a field: its value, or why it cannot be read."""
        spec = self.spec(key)
        kind = spec.kind if spec else ("int" if key in INT_FIELDS else "str")
        try:
            value = parse_value(kind, text, optional=spec.optional if spec else key == "name")
        except FormError as exc:
            self.local_errors[key] = str(exc)
            self.bad_text[key] = text
        else:
            self.local_errors.pop(key, None)
            self.bad_text.pop(key, None)
            self.values[key] = value

    def text_of(self, key: str) -> str:
        """What a text field shows: what was typed there if it could not be read, else its
        value."""
        return self.bad_text[key] if key in self.bad_text else format_value(self.values.get(key))

    def drop_errors_except(self, keys: set[str]) -> None:
        """Forget what could not be read in fields the form no longer has."""
        for key in list(self.local_errors):
            if key not in keys:
                self.local_errors.pop(key)
                self.bad_text.pop(key, None)

    def applies(self, key: str) -> bool:
        """Whether the field of key does anything now (the engine's applies_when; the vectors'
        freeze only with vectors chosen); a field that does not is hidden and not written."""
        if key == "model.freeze_vectors":
            return bool(self.values.get("model.vectors"))
        if key in PAIR_UNUSED and self.arch is not None and self.arch.task == "seq2seq":
            return False
        if key in TRUNCATION_APPLIES:
            return self.values.get("data.truncation") in TRUNCATION_APPLIES[key]
        spec = self.spec(key)
        return spec is None or spec.applies(key.partition(".")[0], self.values)

    def why_hidden(self, key: str) -> str:
        """Why a field does not apply now, in words ("" when it does)."""
        if self.applies(key):
            return ""
        if key == "model.freeze_vectors":
            return "applies only with init vectors chosen"
        if key in PAIR_UNUSED and self.arch is not None and self.arch.task == "seq2seq":
            return "a seq2seq run builds its own vocabulary from its pairs (model.level)"
        if key in TRUNCATION_APPLIES:
            return "applies only when truncation is " + " or ".join(TRUNCATION_APPLIES[key])
        spec = self.spec(key)
        assert spec is not None
        rules = []
        for name, allowed in spec.applies_when.items():
            shown = " or ".join(a for a in allowed if a != "*")
            rules.append(f"{name} is set" if "*" in allowed else f"{name} is {shown}")
        return "applies only when " + " and ".join(rules)

    def choose(self, key: str, choice: Any) -> bool:
        """A choice made in a list or a checkbox; whether it changed anything. A new
        architecture brings its own settings (and a pretrained model its own tokenizer); a
        new dataset its splits, unless the train split is one of them."""
        value: Any = None if choice == NO_SPLIT else choice
        was = self.values.get(key)
        if was == value:
            return False
        self.values[key] = value
        if key == "model.arch":
            self.values.update(self.model_defaults(str(value), keep=self.values, was=was))
            arch = self.arch
            if arch is not None and arch.pretrained_tokenizer:  # ids must be the model's own
                self.values["data.tokenizer"] = own_tokenizer(arch.name)[0]
        elif key == "data.dataset":
            self._fit_splits(str(value))
        return True

    def _fit_splits(self, dataset: str) -> None:
        """Splits the new dataset has stay chosen; one it lacks becomes its default (the
        validation split "validation" on a dataset of train and test becomes "test")."""
        v, splits = self.values, self.splits(dataset)
        defaults = self.split_defaults(dataset)
        if v.get("data.train_split") not in splits:
            v.update(defaults)
            return
        if v.get("data.validation_split") not in (*splits, None):
            v["data.validation_split"] = defaults["data.validation_split"]
        test = v.get("data.test_split")
        if test not in (*splits, None) or test in (
            v["data.train_split"],
            v["data.validation_split"],
        ):
            v["data.test_split"] = self.test_default(
                dataset, v["data.train_split"], v["data.validation_split"]
            )

    # ------------------------------------------------------------- judging

    def problems(self) -> dict[str, str]:
        """Field key ("" for the file as a whole) -> what is wrong there: the plan's problems,
        then what could not be read."""
        found: dict[str, str] = {}
        for p in self.plan.problems if self.plan else []:
            text = p.message + (f" ({p.hint})" if p.hint else "")
            found[p.field] = f"{found[p.field]}; {text}" if p.field in found else text
        found.update(self.local_errors)
        return found

    def warnings(self) -> dict[str, str]:
        """Field key -> why the engine thinks its value is probably not what was meant (a
        value far outside the usual range), with that range; a field with a problem has no
        warning. Warnings never stop a run."""
        problems = self.problems()
        found: dict[str, str] = {}
        for w in self.plan.warnings if self.plan else []:
            if w.field in problems:
                continue
            text = w.message + (f" (usual: {w.usual})" if w.usual else "")
            text += f": {w.hint}" if w.hint else ""
            found[w.field] = f"{found[w.field]}; {text}" if w.field in found else text
        return found

    def config(self) -> dict[str, Any]:
        assert self.schema is not None and self.arch is not None
        return config_dict(self.values, self.arch, self.schema.train)

    def toml(self) -> str:
        return to_toml(self.config())

    def read(self, text: str) -> tuple[dict[str, Any], list[str]]:
        """The values of a run TOML's text, and the keys the form has no field for."""
        assert self.schema is not None
        return values_from_config(read_toml(text), self.schema)

    def steps(self, plan: P.RunPlanResult) -> int:
        """At most how many steps the run takes: epochs of steps, capped by max_steps."""
        steps = plan.steps_per_epoch * int(self.values.get("train.epochs") or 0)
        max_steps = self.values.get("train.max_steps")
        return min(steps, int(max_steps)) if max_steps else steps


def _words(text: str) -> str:
    return re.sub(r"[\s._-]+", " ", text.lower()).strip()


def match_fields(query: str, fields: Sequence[tuple[str, str, str]]) -> list[str]:
    """The keys of the fields (key, label, help) that query names, best first: its name or
    label exactly, then one starting with it, then a word of it, the key containing it, its
    words' initials ("wd": weight_decay), its letters in order, then its help. Case, spaces,
    dots, dashes and underscores do not matter."""
    q = _words(query)
    if not q:
        return []
    squashed = q.replace(" ", "")
    scored: list[tuple[int, int, str]] = []
    for index, (key, label, help_text) in enumerate(fields):
        name, lab, whole = _words(key.rpartition(".")[2]), _words(label), _words(key)
        words = f"{name} {lab}".split()
        initials = "".join(w[0] for w in name.split())
        letters = iter(name.replace(" ", ""))
        if q in (name, lab):
            score = 0
        elif name.startswith(q) or lab.startswith(q):
            score = 1
        elif any(w.startswith(q) for w in words):
            score = 2
        elif q in whole or q in lab:
            score = 3
        elif len(squashed) >= 2 and initials.startswith(squashed):
            score = 4
        elif len(squashed) >= 2 and all(c in letters for c in squashed):
            score = 5
        elif len(q) >= 3 and q in _words(help_text):
            score = 6
        else:
            continue
        scored.append((score, index, key))
    return [key for _, _, key in sorted(scored)]
