"""TrainConfig: invalid values refused with messages a person can act on; TOML round trip."""

from __future__ import annotations

import tomllib

import pytest

from engine import protocol as P
from engine.core.errors import EngineError
from engine.training.config import TrainConfig, train_specs


def test_defaults_are_valid() -> None:
    assert TrainConfig().validate("cpu", "classify") is None
    assert TrainConfig().validate("cpu", "lm") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -0.1}, "learning rate must be above 0, got -0.1"),
        ({"lr": 0.0}, "learning rate must be above 0, got 0.0"),
        ({"lr": float("nan")}, "learning rate must be above 0, got nan"),
        ({"optimizer": "adam"}, "optimizer must be one of adamw, sgd, got 'adam'"),
        ({"schedule": "step"}, "schedule must be one of constant, linear, cosine"),
        ({"batch_size": 0}, "batch size must be at least 1, got 0"),
        ({"epochs": 0}, "epochs must be at least 1, got 0"),
        ({"max_steps": 0}, "max steps must be at least 1, got 0"),
        ({"token_budget": 0}, "token budget must be at least 1, got 0"),
        ({"weight_decay": -1.0}, "weight decay must be at least 0"),
        ({"momentum": 1.0}, "momentum must be from 0 up to (not including) 1, got 1.0"),
        ({"warmup_ratio": 1.5}, "warmup ratio must be from 0 up to"),
        ({"warmup_steps": 10, "warmup_ratio": 0.1}, "set warmup steps or warmup ratio, not both"),
        ({"grad_clip": -1.0}, "gradient clipping norm must be at least 0"),
        ({"early_stopping_patience": -1}, "early stopping patience must be at least 0"),
        ({"metric": "rouge"}, "metric must be one of accuracy, macro_f1, loss, perplexity, token_"),
        ({"precision": "fp8"}, "precision must be one of fp32, bf16, fp16, got 'fp8'"),
        ({"seed": -1}, "seed must be from 0"),
        ({"eval_every": -5}, "eval every (steps) must be at least 0"),
        ({"checkpoint_every": -5}, "checkpoint every (steps) must be at least 0"),
        ({"keep_checkpoints": 0}, "checkpoints kept must be at least 1"),
        ({"batch_size": "32"}, "batch_size must be an integer, got '32'"),
        ({"compile": 1}, "compile must be true or false, got 1"),
        ({"nodes": 0}, "nodes must be at least 1, got 0"),
        ({"nodes": 65}, "nodes must be at most 64, got 65"),
        ({"nodes": 2}, "a run on several nodes needs rdzv_endpoint: HOST:PORT"),
        ({"nodes": 2, "rdzv_endpoint": "10.0.0.1"}, "rdzv_endpoint must be HOST:PORT with a"),
        ({"nodes": 2, "rdzv_endpoint": "10.0.0.1:0"}, "with a port from 1 to 65535, got"),
        ({"nodes": 2, "rdzv_endpoint": ":29500"}, "rdzv_endpoint must be HOST:PORT"),
        ({"rdzv_endpoint": "a b:1"}, "rdzv_endpoint must be HOST:PORT"),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message(
    changes: dict[str, object], message: str
) -> None:
    config = TrainConfig(**changes)  # type: ignore[arg-type]
    with pytest.raises(EngineError) as err:
        config.validate()
    assert message in err.value.message


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(EngineError) as err:
        TrainConfig(lr=-1.0, batch_size=0).validate()
    assert "learning rate" in err.value.message and "batch size" in err.value.message


def test_fp16_needs_cuda_but_bf16_runs_on_cpu() -> None:
    TrainConfig(precision="bf16").validate("cpu", "classify")
    TrainConfig(precision="fp16").validate("cuda", "classify")
    with pytest.raises(EngineError, match="fp16 needs a CUDA GPU and this device is cpu"):
        TrainConfig(precision="fp16").validate("cpu", "classify")


def test_metric_must_fit_the_task() -> None:
    TrainConfig(metric="perplexity").validate(task="lm")
    with pytest.raises(EngineError, match="metric accuracy does not apply to a language model"):
        TrainConfig(metric="accuracy").validate(task="lm")
    with pytest.raises(EngineError, match="metric perplexity does not apply to a classifier"):
        TrainConfig(metric="perplexity").validate(task="classify")


def test_early_stopping_needs_validation_data() -> None:
    TrainConfig(early_stopping_patience=2).validate(has_validation=True)
    with pytest.raises(EngineError, match="early stopping needs validation data"):
        TrainConfig(early_stopping_patience=2).validate(has_validation=False)


def test_toml_round_trip() -> None:
    text = """
optimizer = "sgd"
lr = 1
momentum = 0.5
schedule = "cosine"
warmup_ratio = 0.1
batch_size = 8
token_budget = 4096
metric = "macro_f1"
bucketing = false
"""
    config = TrainConfig.from_dict(tomllib.loads(text))
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.token_budget == 4096 and config.bucketing is False
    assert config.max_steps is None
    data = config.to_dict()
    assert "max_steps" not in data  # TOML has no null
    assert TrainConfig.from_dict(data) == config


def test_unknown_keys_are_refused_listing_the_valid_ones() -> None:
    with pytest.raises(EngineError) as err:
        TrainConfig.from_dict({"learning_rate": 0.1, "lr": 0.1})
    msg = err.value.message
    assert "unknown training setting: learning_rate" in msg
    assert "valid settings are: optimizer, lr, weight_decay" in msg


def test_wrong_types_are_refused() -> None:
    with pytest.raises(EngineError, match=r"epochs must be an integer, got 2\.5"):
        TrainConfig.from_dict({"epochs": 2.5})
    assert TrainConfig.from_dict({"epochs": 2.0}).epochs == 2  # TOML's 2.0 is a whole number
    with pytest.raises(EngineError, match="max_steps must be an integer, got 'many'"):
        TrainConfig.from_dict({"max_steps": "many"})
    with pytest.raises(EngineError, match="batch_size must be an integer, got True"):
        TrainConfig.from_dict({"batch_size": True})


def test_higher_is_better() -> None:
    assert TrainConfig(metric="accuracy").higher_is_better
    assert TrainConfig(metric="macro_f1").higher_is_better
    assert not TrainConfig(metric="loss").higher_is_better
    assert not TrainConfig(metric="perplexity").higher_is_better


def test_train_specs_say_when_a_setting_applies() -> None:
    specs = {s.name: s for s in train_specs()}
    momentum = specs["momentum"]
    assert momentum.applies_when == {"optimizer": ["sgd"]}
    assert momentum.applies("train", {"train.optimizer": "sgd"})
    assert not momentum.applies("train", {"train.optimizer": "adamw"})
    # with no validation split nothing is evaluated: no metric, no early stopping
    for name in ("metric", "early_stopping_patience", "eval_every"):
        assert specs[name].applies("train", {"data.validation_split": "validation"}), name
        assert not specs[name].applies("train", {"data.validation_split": None}), name
        assert not specs[name].applies("train", {"data.validation_split": ""}), name
    # warmup is kept for every schedule: "constant" warms up too, then holds the rate
    assert specs["warmup_steps"].applies_when == {} and specs["warmup_ratio"].applies_when == {}
    assert specs["lr"].applies("train", {})


def test_applies_reads_bools_and_unset_values() -> None:
    spec = P.SettingSpec(name="x", kind="int", applies_when={"model.flag": ["true"]})
    assert spec.applies("train", {"model.flag": True})
    assert not spec.applies("train", {"model.flag": False})
    assert not spec.applies("train", {})
    unset = P.SettingSpec(name="y", kind="int", applies_when={"mode": [""]})
    assert unset.applies("model", {"model.mode": None}) and not unset.applies(
        "model", {"model.mode": "a"}
    )


def test_several_nodes_take_a_rendezvous_endpoint() -> None:
    from engine.training.config import fitted_refusal, split_endpoint

    TrainConfig(nodes=2, rdzv_endpoint="10.0.0.1:29500").validate("cpu", "classify")
    assert split_endpoint("gpu0.lan:29500") == ("gpu0.lan", 29500)
    assert split_endpoint("[::1]:29500") == ("::1", 29500)
    refused = fitted_refusal("features-logreg", {"nodes": 2, "rdzv_endpoint": "h:1"})
    assert refused is not None and "nodes = 2 cannot apply" in refused
    assert "devices = 3" in (fitted_refusal("features-logreg", {"devices": 3}) or "")
