"""The builder form's values: typed text parsed with reasons, TOML written and read back, and
the form's state: defaults, edits, problems (no Textual, no engine process)."""

from __future__ import annotations

import pytest

from engine import protocol as P
from engine.training.service import RunConfig
from screens.builder.model import (
    NO_SPLIT,
    PRETRAINED_TOKENIZER,
    FormError,
    RunForm,
    config_dict,
    format_value,
    match_fields,
    parse_value,
    read_toml,
    to_toml,
    values_from_config,
)

CNN = P.ArchitectureInfo(
    name="cnn",
    task="classify",
    description="",
    settings=[
        P.SettingSpec(name="embed_dim", kind="int", default=64),
        P.SettingSpec(name="kernel_sizes", kind="ints", default=[3, 4, 5]),
        P.SettingSpec(name="dropout", kind="float", default=0.5),
    ],
)
TRAIN = [
    P.SettingSpec(name="lr", kind="float", default=5e-4),
    P.SettingSpec(name="max_steps", kind="int", optional=True),
    P.SettingSpec(name="optimizer", kind="choice", default="adamw", choices=["adamw", "sgd"]),
]
SCHEMA = P.RunSchemaResult(architectures=[CNN], train=TRAIN, device="cpu", precisions=["fp32"])


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("int", " 12 ", 12),
        ("int", "1_000", 1000),
        ("int", "1e3", 1000),
        ("float", "2e-3", 0.002),
        ("ints", "3, 4 5", [3, 4, 5]),
        ("ints", "[2,3]", [2, 3]),
        ("str", "abc", "abc"),
    ],
)
def test_parse_value(kind: str, text: str, value: object) -> None:
    assert parse_value(kind, text) == value


@pytest.mark.parametrize(
    ("kind", "text", "reason"),
    [
        ("int", "1.5", "not a whole number"),
        ("int", "abc", "not a whole number"),
        ("float", "fast", "not a number"),
        ("ints", "3, x", "separated by commas"),
        ("int", "", "needs a value"),
    ],
)
def test_parse_value_says_why(kind: str, text: str, reason: str) -> None:
    with pytest.raises(FormError, match=reason):
        parse_value(kind, text)


def test_optional_empty_is_none_and_formatting() -> None:
    assert parse_value("int", "  ", optional=True) is None
    assert format_value([3, 4]) == "3, 4" and format_value(0.002) == "0.002"
    assert format_value(None) == ""


def test_toml_round_trip_runs_from_the_cli_parser() -> None:
    values = {
        "name": "",
        "data.dataset": "rotten-tomatoes",
        "data.tokenizer": "minilm-wordpiece",
        "data.train_split": "train",
        "data.validation_split": None,
        "data.test_split": None,
        "data.max_length": 64,
        "model.arch": "cnn",
        "model.embed_dim": 50,
        "model.kernel_sizes": [2, 3],
        "model.dropout": 0.25,
        "model.vectors": "glove-6b-50d",
        "model.freeze_vectors": True,
        "train.lr": 0.001,
        "train.max_steps": None,
        "train.optimizer": "sgd",
    }
    text = to_toml(config_dict(values, CNN, TRAIN))
    cfg = RunConfig.from_toml(text)  # what `workbench train` reads
    assert cfg.name == "cnn-rotten-tomatoes" and cfg.validation_split is None
    assert cfg.test_split is None  # none: "" in the file, not the default "test"
    assert cfg.model == {"embed_dim": 50, "kernel_sizes": [2, 3], "dropout": 0.25}
    assert cfg.vectors == "glove-6b-50d" and cfg.freeze_vectors
    assert cfg.train == {"lr": 0.001, "optimizer": "sgd"}  # an empty max_steps is left out
    back, ignored = values_from_config(read_toml(text), SCHEMA)
    assert ignored == []
    for key, value in values.items():
        if key != "name" and value is not None:
            assert back[key] == value, key
    assert back["data.validation_split"] is None and back["data.test_split"] is None
    values["data.test_split"] = "test"
    assert RunConfig.from_toml(to_toml(config_dict(values, CNN, TRAIN))).test_split == "test"


def test_reading_reports_what_the_form_cannot_hold() -> None:
    text = '[data]\ndataset = "d"\nshuffle = true\n[model]\narch = "cnn"\nwidth = 3\n[extra]\n'
    values, ignored = values_from_config(read_toml(text), SCHEMA)
    assert values["model.arch"] == "cnn" and ignored == ["data.shuffle", "model.width", "extra"]
    with pytest.raises(FormError, match="unknown architecture 'rnnn'"):
        values_from_config(read_toml('[model]\narch = "rnnn"\n'), SCHEMA)
    with pytest.raises(FormError, match="not valid TOML"):
        read_toml("[model\n")


# ----------------------------------------------------------------- the form's state

GRU = P.ArchitectureInfo(
    name="gru",
    task="classify",
    description="",
    settings=[
        P.SettingSpec(name="embed_dim", kind="int", default=64),
        P.SettingSpec(name="hidden", kind="int", default=128),
        P.SettingSpec(name="dropout", kind="float", default=0.3),
    ],
)
BERT = P.ArchitectureInfo(
    name="bert-finetune",
    task="classify",
    description="",
    settings=[],
    pretrained_tokenizer=True,
    takes_vectors=False,
)
DECODER = P.ArchitectureInfo(
    name="decoder-finetune",
    task="classify",
    description="",
    settings=[],
    pretrained_tokenizer=True,
    takes_vectors=False,
)
SEQ2SEQ = P.ArchitectureInfo(name="seq2seq", task="seq2seq", description="", settings=[])
PRECISION = P.SettingSpec(name="precision", kind="choice", default="fp32", choices=["fp32", "fp16"])
EPOCHS = P.SettingSpec(name="epochs", kind="int", default=3)
MOMENTUM = P.SettingSpec(
    name="momentum", kind="float", default=0.9, applies_when={"optimizer": ["sgd"]}
)
METRIC = P.SettingSpec(
    name="metric",
    kind="choice",
    default="loss",
    choices=["loss", "accuracy"],
    applies_when={"data.validation_split": ["*"]},
)
FORM_SCHEMA = P.RunSchemaResult(
    architectures=[CNN, GRU, BERT, DECODER, SEQ2SEQ],
    train=[*TRAIN, EPOCHS, PRECISION, MOMENTUM, METRIC],
    device="cpu",
    precisions=["fp32", "bf16"],
)
DATASETS = [
    P.DatasetInfo(
        name="rotten-tomatoes",
        source="builtin",
        rows=10,
        classes=2,
        splits={"train": 8, "validation": 1, "test": 1},
    ),
    P.DatasetInfo(
        name="reuters", source="builtin", rows=9, classes=8, splits={"train": 6, "test": 3}
    ),
    P.DatasetInfo(name="plain", source="x.csv", rows=5, classes=2, splits={"": 5, "test": 0}),
    P.DatasetInfo(name="missing", source="builtin", rows=0, classes=0, available=False),
]
TOKENIZERS = [
    P.TokenizerInfo(name="word", kind="word", vocab_size=100),
    P.TokenizerInfo(name="minilm-wordpiece", kind="wordpiece", vocab_size=30522),
]


def form(arch: str = "cnn") -> RunForm:
    f = RunForm()
    f.schema = FORM_SCHEMA
    f.take_choices(DATASETS, TOKENIZERS, ["glove-6b-50d"])
    f.reset(arch)
    return f


def test_choices_leave_out_what_is_not_installed_and_say_when_they_change() -> None:
    f = form()
    assert [d.name for d in f.datasets] == ["rotten-tomatoes", "reuters", "plain"]
    assert not f.take_choices(DATASETS, TOKENIZERS, ["glove-6b-50d"])
    assert f.take_choices(DATASETS[:1], TOKENIZERS, ["glove-6b-50d"])


def test_defaults_pick_the_bundled_data_and_the_schema_defaults() -> None:
    v = form().values
    assert v["data.dataset"] == "rotten-tomatoes" and v["data.tokenizer"] == "minilm-wordpiece"
    assert (v["data.train_split"], v["data.validation_split"]) == ("train", "validation")
    assert v["data.test_split"] == "test"
    assert v["model.kernel_sizes"] == [3, 4, 5] and v["train.lr"] == 5e-4
    assert v["model.vectors"] is None and v["name"] == ""


def test_typing_keeps_the_value_or_says_why_not() -> None:
    f = form()
    f.typed("model.embed_dim", "6x")
    assert "not a whole number" in f.local_errors["model.embed_dim"]
    assert f.values["model.embed_dim"] == 64  # the last good value stays
    f.typed("model.embed_dim", "32")
    assert "model.embed_dim" not in f.local_errors and f.values["model.embed_dim"] == 32
    f.typed("name", "  ")
    f.typed("train.max_steps", "")
    f.typed("data.max_length", "1e2")
    assert f.values["name"] is None and f.values["train.max_steps"] is None
    assert f.values["data.max_length"] == 100


def test_a_new_architecture_keeps_what_was_typed_but_not_the_old_defaults() -> None:
    f = form()
    f.typed("model.embed_dim", "50")  # changed from the CNN's default: kept
    assert f.choose("model.arch", "gru")
    assert f.values["model.embed_dim"] == 50
    assert f.values["model.dropout"] == 0.3  # the CNN's default 0.5 is not carried over
    assert f.values["model.hidden"] == 128
    assert f.arch is GRU and not f.choose("model.arch", "gru")  # the same choice: nothing


def test_a_pretrained_model_takes_its_own_tokenizer() -> None:
    f = form()
    f.choose("data.tokenizer", "word")
    f.choose("model.arch", "bert-finetune")
    assert f.values["data.tokenizer"] == PRETRAINED_TOKENIZER
    f.choose("model.arch", "decoder-finetune")  # SmolLM2 reads ids with its own
    assert f.values["data.tokenizer"] == "smollm2-bpe"


def test_a_seq2seq_run_hides_and_leaves_out_the_tokenizer_and_truncation() -> None:
    f = form()
    f.choose("data.truncation", "tail")
    assert f.applies("data.tokenizer") and f.applies("data.truncation")
    f.choose("model.arch", "seq2seq")
    for key in ("data.tokenizer", "data.truncation", "data.stride"):
        assert not f.applies(key) and "builds its own vocabulary" in f.why_hidden(key)
    data = f.config()["data"]
    assert "tokenizer" not in data and "truncation" not in data and data["dataset"]
    assert RunConfig.from_toml(f.toml()).tokenizer == ""


def test_a_new_dataset_brings_its_splits_unless_the_train_split_is_there() -> None:
    f = form()
    f.choose("data.validation_split", NO_SPLIT)
    assert f.values["data.validation_split"] is None
    f.choose("data.dataset", "plain")  # no train split there: the dataset's own
    assert f.splits("plain") == [""]
    assert (f.values["data.train_split"], f.values["data.validation_split"]) == ("", None)
    assert f.values["data.test_split"] is None  # its "test" has no rows
    f = form()
    f.choose("data.validation_split", "test")
    f.choose("data.dataset", "reuters")  # it has a train split: the choices stay
    assert (f.values["data.train_split"], f.values["data.validation_split"]) == ("train", "test")
    assert f.values["data.test_split"] is None  # not scored on the split that picks the best
    f = form()
    f.choose("data.dataset", "reuters")  # no validation split there: its test one validates
    v = f.values
    assert (v["data.train_split"], v["data.validation_split"], v["data.test_split"]) == (
        "train",
        "test",
        None,
    )
    f = form()
    f.choose("data.test_split", NO_SPLIT)
    f.choose("data.dataset", "rotten-tomatoes")  # the same splits: none stays none
    f.choose("data.dataset", "reuters")
    f.choose("data.dataset", "rotten-tomatoes")
    assert f.values["data.validation_split"] == "test" and f.values["data.test_split"] is None


def test_problems_join_per_field_and_what_cannot_be_read_wins() -> None:
    f = form()
    f.plan = P.RunPlanResult(
        problems=[
            P.FieldProblem("model.embed_dim", "must be positive"),
            P.FieldProblem("model.embed_dim", "too big", hint="under 4096"),
            P.FieldProblem("", "no such dataset"),
        ]
    )
    assert f.problems() == {
        "model.embed_dim": "must be positive; too big (under 4096)",
        "": "no such dataset",
    }
    f.typed("model.embed_dim", "x")
    assert f.problems()["model.embed_dim"].startswith("'x' is not")


def test_specs_and_the_precisions_this_device_offers() -> None:
    f = form()
    assert f.spec("data.dataset") is None and f.spec("name") is None
    spec = f.spec("train.precision")
    assert spec is not None and f.offered(spec).choices == ["fp32", "bf16"]
    assert f.offered(TRAIN[0]) is TRAIN[0]


def test_a_loaded_file_sits_on_the_architecture_defaults() -> None:
    f = form()
    values, ignored = f.read('[data]\ndataset = "plain"\n[model]\narch = "gru"\nhidden = 7\n')
    assert ignored == []
    f.apply(values)
    assert f.values["model.hidden"] == 7 and f.values["model.embed_dim"] == 64
    assert f.values["data.train_split"] == ""  # the dataset's own splits
    assert f.config()["model"] == {"arch": "gru", "embed_dim": 64, "hidden": 7, "dropout": 0.3}
    assert f.toml().startswith("# gru-plain.")


def test_steps_are_epochs_of_steps_capped_by_max_steps() -> None:
    f = form()
    plan = P.RunPlanResult(steps_per_epoch=40)
    assert f.steps(plan) == 120
    f.values["train.max_steps"] = 50
    assert f.steps(plan) == 50


# ----------------------------------------------------------------- settings that do not apply


def test_a_setting_that_does_not_apply_is_hidden_and_not_written_but_kept() -> None:
    f = form()
    assert not f.applies("train.momentum")  # AdamW
    assert f.why_hidden("train.momentum") == "applies only when optimizer is sgd"
    assert "momentum" not in f.config()["train"]
    f.choose("train.optimizer", "sgd")
    assert f.applies("train.momentum") and f.why_hidden("train.momentum") == ""
    f.typed("train.momentum", "0.5")
    assert f.config()["train"]["momentum"] == 0.5
    f.choose("train.optimizer", "adamw")  # hidden again, but what was typed is kept
    assert "momentum" not in f.config()["train"] and f.values["train.momentum"] == 0.5
    # no validation split: no metric picks a best checkpoint
    assert f.applies("train.metric")
    f.choose("data.validation_split", NO_SPLIT)
    assert not f.applies("train.metric") and "metric" not in f.config()["train"]
    assert f.why_hidden("train.metric") == "applies only when data.validation_split is set"
    assert f.applies("data.dataset") and f.applies("train.lr")  # no rule: always


def test_freezing_the_vectors_applies_only_with_vectors() -> None:
    f = form()
    f.values["model.freeze_vectors"] = True
    assert not f.applies("model.freeze_vectors")
    assert "freeze_vectors" not in f.config()["model"]
    f.choose("model.vectors", "glove-6b-50d")
    assert f.applies("model.freeze_vectors") and f.config()["model"]["freeze_vectors"] is True


# ----------------------------------------------------------------- kept across restarts


def test_the_form_comes_back_from_its_snapshot() -> None:
    import json

    f = form()
    f.choose("model.arch", "gru")
    f.choose("data.dataset", "reuters")
    f.typed("model.hidden", "7")
    f.typed("train.lr", "fast")  # cannot be read: the text comes back with its reason
    saved = json.loads(json.dumps(f.snapshot()))  # what the view state file holds
    again = form()
    assert again.restore(saved)
    assert again.values.items() <= f.values.items() and again.arch is GRU  # the GRU's own
    assert again.values["data.dataset"] == "reuters"
    assert again.text_of("train.lr") == "fast" and "not a number" in again.local_errors["train.lr"]
    assert again.text_of("model.hidden") == "7"
    assert again.config() == f.config()


@pytest.mark.parametrize(
    "saved",
    [None, [], "x", {}, {"values": 3}, {"values": {"model.arch": "nope"}}, {"values": {}}],
)
def test_a_snapshot_that_cannot_be_used_changes_nothing(saved: object) -> None:
    f = form()
    before = dict(f.values)
    assert not f.restore(saved)
    assert f.values == before


def test_a_snapshot_of_another_version_keeps_what_still_fits() -> None:
    f = form()
    saved = {
        "values": {"model.arch": "gru", "model.hidden": 9, "train.gone": 1, "data.shuffle": 1},
        "typed": {"train.lr": 3, "nowhere": "x"},
    }
    assert f.restore(saved)
    assert f.values["model.hidden"] == 9 and f.values["model.embed_dim"] == 64  # defaults
    assert "train.gone" not in f.values and "data.shuffle" not in f.values
    assert f.local_errors == {} and f.bad_text == {}


def test_a_rebuilt_form_forgets_errors_of_fields_it_lost() -> None:
    f = form()
    f.typed("model.kernel_sizes", "3, x")
    f.typed("train.lr", "fast")
    f.drop_errors_except({"train.lr"})
    assert set(f.local_errors) == {"train.lr"} and set(f.bad_text) == {"train.lr"}


# ----------------------------------------------------------------- warnings


def test_warnings_say_the_reason_and_the_usual_range_and_give_way_to_problems() -> None:
    f = form()
    f.plan = P.RunPlanResult(
        warnings=[
            P.FieldProblem(
                "train.lr", "5 is above the usual range", "it blows up", "1e-06 to 0.03"
            ),
            P.FieldProblem("model.dropout", "0.99 is above the usual range", "", "0 to 0.7"),
            P.FieldProblem("model.embed_dim", "huge", "slow"),
        ],
        problems=[P.FieldProblem("model.embed_dim", "must be positive")],
    )
    assert f.warnings() == {
        "train.lr": "5 is above the usual range (usual: 1e-06 to 0.03): it blows up",
        "model.dropout": "0.99 is above the usual range (usual: 0 to 0.7)",
    }
    f.typed("train.lr", "x")  # what cannot be read is a problem: no warning on top
    assert "train.lr" not in f.warnings()


# ----------------------------------------------------------------- finding a field

FIELDS = [
    ("name", "run name", "the run's name"),
    ("data.max_length", "max length", "tokens kept of each text"),
    ("model.embed_dim", "embed_dim", "width of each token's vector"),
    ("train.lr", "lr", "learning rate"),
    ("train.weight_decay", "weight_decay", "decoupled weight decay"),
    ("train.early_stopping_patience", "early stop", "evaluations without improvement"),
    ("train.max_steps", "max_steps", "stop after this many steps"),
    ("train.eval_every", "eval_every", "evaluate every N steps"),
]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("lr", "train.lr"),  # its name exactly
        ("LR ", "train.lr"),
        ("max", "data.max_length"),  # starts with it: the first in the form
        ("max s", "train.max_steps"),  # spaces and underscores alike
        ("stop", "train.early_stopping_patience"),  # a word of it
        ("early stop", "train.early_stopping_patience"),  # its label
        ("wd", "train.weight_decay"),  # initials
        ("patnc", "train.early_stopping_patience"),  # letters in order
        ("learning", "train.lr"),  # its help
        ("train.", "train.lr"),  # the section: its first field
    ],
)
def test_a_field_is_found_by_part_of_its_name(query: str, first: str) -> None:
    assert match_fields(query, FIELDS)[0] == first


def test_finding_ranks_and_leaves_out_what_does_not_match() -> None:
    assert match_fields("max", FIELDS) == ["data.max_length", "train.max_steps"]
    assert match_fields("", FIELDS) == [] and match_fields("zzz", FIELDS) == []
    assert match_fields("e", FIELDS)[:2] == ["model.embed_dim", "train.early_stopping_patience"]


def test_a_dataset_whose_splits_come_later_gets_its_own_defaults() -> None:
    unopened = P.DatasetInfo(name="news", source="builtin", rows=0, classes=0)
    f = form()
    f.take_choices([*DATASETS, unopened], TOKENIZERS, [])
    f.choose("data.dataset", "news")  # a built-in opens on first use: no splits known yet
    assert f.values["data.validation_split"] is None
    opened = P.DatasetInfo(
        name="news", source="builtin", rows=9, classes=4, splits={"train": 6, "test": 3}
    )
    assert f.take_choices([*DATASETS, opened], TOKENIZERS, [])
    v = f.values
    assert (v["data.train_split"], v["data.validation_split"], v["data.test_split"]) == (
        "train",
        "test",
        None,
    )
    f.choose("data.validation_split", NO_SPLIT)
    f.take_choices([*DATASETS, opened], TOKENIZERS, [])  # known before: the choice stays
    assert f.values["data.validation_split"] is None


def test_truncation_fields_apply_to_their_strategy_and_round_trip() -> None:
    f = form()
    assert f.values["data.truncation"] == "head"
    assert not f.applies("data.stride") and not f.applies("data.head_tokens")
    assert "truncation" not in config_dict(f.values, CNN, TRAIN)["data"]  # the default
    f.choose("data.truncation", "windows")
    assert f.applies("data.stride") and f.applies("data.pool") and not f.applies("data.head_tokens")
    assert f.why_hidden("data.head_tokens") == "applies only when truncation is head+tail"
    f.typed("data.stride", "32")
    f.choose("data.pool", "max")
    f.typed("data.head_tokens", "10")  # hidden: not written
    text = to_toml(config_dict(f.values, CNN, TRAIN))
    cfg = RunConfig.from_toml(text)
    assert cfg.truncation.to_data() == {"truncation": "windows", "stride": 32, "pool": "max"}
    back, ignored = values_from_config(read_toml(text), SCHEMA)
    assert ignored == [] and back["data.truncation"] == "windows" and back["data.stride"] == 32
    f.typed("data.stride", "many")
    assert "not a whole number" in f.local_errors["data.stride"]
