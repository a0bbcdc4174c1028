"""The builder form's values: typed text parsed with reasons, TOML written and read back."""

from __future__ import annotations

import pytest

from engine import protocol as P
from engine.training.service import RunConfig
from workbench.run_form import (
    FormError,
    config_dict,
    format_value,
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
    assert cfg.model == {"embed_dim": 50, "kernel_sizes": [2, 3], "dropout": 0.25}
    assert cfg.vectors == "glove-6b-50d" and cfg.freeze_vectors
    assert cfg.train == {"lr": 0.001, "optimizer": "sgd"}  # an empty max_steps is left out
    back, ignored = values_from_config(read_toml(text), SCHEMA)
    assert ignored == []
    for key, value in values.items():
        if key != "name" and value is not None:
            assert back[key] == value, key
    assert back["data.validation_split"] is None


def test_reading_reports_what_the_form_cannot_hold() -> None:
    text = '[data]\ndataset = "d"\nshuffle = true\n[model]\narch = "cnn"\nwidth = 3\n[extra]\n'
    values, ignored = values_from_config(read_toml(text), SCHEMA)
    assert values["model.arch"] == "cnn" and ignored == ["data.shuffle", "model.width", "extra"]
    with pytest.raises(FormError, match="unknown architecture 'rnnn'"):
        values_from_config(read_toml('[model]\narch = "rnnn"\n'), SCHEMA)
    with pytest.raises(FormError, match="not valid TOML"):
        read_toml("[model\n")
