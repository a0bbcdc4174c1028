"""The registry: the architecture names, configs from user dicts (and the errors a person can
act on), building, parameter counts, the memory estimate and the layer tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.cnn import CNNConfig
from engine.models.rnn import RNNConfig
from engine.models.transformer import TransformerConfig
from tests.helpers.models import PAD, VOCAB, build

OWN_VOCAB = [
    "embedding-bag",
    "pooling",
    "cnn",
    "rnn",
    "lstm",
    "gru",
    "attention-rnn",
    "transformer",
    "lstm-lm",
    "transformer-lm",
]


def test_the_architectures_are_the_promised_fourteen() -> None:
    assert list(registry.ARCHITECTURES) == [
        *OWN_VOCAB[:8],
        "bert-finetune",
        "decoder-finetune",
        "features-logreg",
        "lstm-lm",
        "transformer-lm",
        "seq2seq",
    ]
    for name, spec in registry.ARCHITECTURES.items():
        assert spec.name == name and spec.description
        task = "lm" if name.endswith("-lm") else "seq2seq" if name == "seq2seq" else "classify"
        assert spec.task == task
    assert [n for n, s in registry.ARCHITECTURES.items() if s.trained_by == "fit"] == [
        "features-logreg"
    ]
    assert [n for n, s in registry.ARCHITECTURES.items() if s.pretrained_tokenizer] == [
        "bert-finetune",
        "decoder-finetune",
        "features-logreg",
    ]


@pytest.mark.parametrize("arch", OWN_VOCAB)
def test_default_configs_build_the_promised_task(arch: str) -> None:
    spec = registry.ARCHITECTURES[arch]
    config = registry.config_from_dict(arch, {})
    assert config == spec.defaults()
    model = registry.build_model(arch, config, VOCAB, 3, PAD)
    assert model.task == spec.task and model.pad_id == PAD
    ids = torch.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 0, 0]])
    mask = (ids != 0).long()
    out = model.eval()(ids, mask)
    assert out.shape == ((2, 6, VOCAB) if spec.task == "lm" else (2, 3))


@pytest.mark.parametrize("arch", OWN_VOCAB)
def test_weights_round_trip_through_safetensors(arch: str, tmp_path: Path) -> None:
    """The trainer saves state_dicts with safetensors: no shared tensors, nothing pickled."""
    model = build(arch, {})
    assert model.max_len is None or model.max_len >= 1
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    fresh = build(arch, {}, seed=1)
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    mask = (ids != 0).long()
    assert not torch.allclose(fresh(ids, mask), model(ids, mask))
    fresh.load_state_dict(load_file(tmp_path / "model.safetensors"))
    torch.testing.assert_close(fresh(ids, mask), model(ids, mask))


def test_names_pin_their_cell_and_implementation() -> None:
    assert registry.config_from_dict("gru", {"hidden_size": 8}).cell == "gru"
    assert registry.config_from_dict("rnn", {}).cell == "rnn"
    assert registry.config_from_dict("pooling", {}).impl == "pooling"
    assert registry.config_from_dict("lstm", {"cell": "lstm"}).cell == "lstm"
    assert "cell" not in registry.ARCHITECTURES["lstm"].setting_names()
    assert "cell" in registry.ARCHITECTURES["attention-rnn"].setting_names()
    with pytest.raises(EngineError, match="lstm always has cell='lstm'") as e:
        registry.config_from_dict("lstm", {"cell": "gru"})
    assert e.value.hint == "use the architecture gru"


def test_values_are_read_as_their_declared_types() -> None:
    config = registry.config_from_dict("cnn", {"kernel_sizes": [2, 4], "dropout": 0})
    assert config == CNNConfig(kernel_sizes=(2, 4), dropout=0.0)
    assert isinstance(config.dropout, float) and isinstance(config.kernel_sizes, tuple)
    assert registry.config_from_dict("rnn", {"hidden_size": 16.0}).hidden_size == 16


@pytest.mark.parametrize(
    ("arch", "params", "message"),
    [
        ("cnn", {"embed_dim": -3}, "embed_dim must be a positive integer, got -3"),
        ("cnn", {"kernel_sizes": []}, "kernel_sizes must be a list of positive integers"),
        ("cnn", {"kernel_sizes": [3, 0]}, "each kernel size must be a positive integer, got 0"),
        ("cnn", {"kernel_sizes": 3}, "kernel_sizes must be a list, got 3"),
        ("embedding-bag", {"mode": "median"}, "mode must be one of mean, max, sum; got 'median'"),
        ("embedding-bag", {"hidden_size": -1}, "hidden_size must be an integer of at least 0"),
        ("lstm", {"dropout": 1.5}, r"dropout must be a number from 0 up to \(not including\) 1"),
        ("lstm", {"hidden_size": "big"}, "hidden_size must be an integer, got 'big'"),
        ("gru", {"hidden_size": 2.5}, "hidden_size must be an integer, got 2.5"),
        ("gru", {"bidirectional": 1}, "bidirectional must be true or false, got 1"),
        ("gru", {"num_layers": True}, "num_layers must be an integer, got True"),
        ("attention-rnn", {"attention_size": 0}, "attention_size must be a positive integer"),
        ("attention-rnn", {"cell": "transformer"}, "cell must be one of rnn, lstm, gru"),
        ("transformer", {"d_model": 30, "num_heads": 4}, r"d_model \(30\) must be divisible"),
        ("transformer", {"positions": "rotary"}, "positions must be one of sinusoidal, learned"),
        ("transformer", {"pooling": "max"}, "pooling must be one of cls, mean"),
        ("transformer-lm", {"max_len": 0}, "max_len must be a positive integer, got 0"),
        ("lstm-lm", {"dropout": -0.1}, "dropout must be a number"),
        ("bert-finetune", {"trainable_layers": -2}, "trainable_layers must be an integer of at"),
        ("bert-finetune", {"folder": "/no/such/model"}, "is not a Hugging Face model folder"),
        ("features-logreg", {"C": 0}, "C must be a positive number, got 0"),
        ("features-logreg", {"pooling": "max"}, "pooling must be one of cls, mean"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(
    arch: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        registry.config_from_dict(arch, params)


def test_unknown_keys_and_names_list_what_is_valid() -> None:
    with pytest.raises(EngineError, match="rnn has no parameter 'hiden_size'") as e:
        registry.config_from_dict("rnn", {"hiden_size": 3})
    assert e.value.hint == (
        "valid parameters are: embed_dim, hidden_size, num_layers, bidirectional, dropout"
    )
    with pytest.raises(EngineError, match="there is no architecture 'bert'") as e:
        registry.config_from_dict("bert", {})
    assert "bert-finetune" in e.value.hint and e.value.code == "not_found"


def test_configs_validate_on_their_own() -> None:
    with pytest.raises(EngineError, match="hidden_size must be a positive integer, got -3"):
        RNNConfig(hidden_size=-3).validate()
    with pytest.raises(EngineError) as e:
        TransformerConfig(d_model=30, num_heads=4).validate()
    assert e.value.hint == "try num_heads=2"


def test_build_refuses_arguments_no_model_can_use() -> None:
    config = registry.config_from_dict("cnn", {})
    with pytest.raises(EngineError, match="pad_id 30 is outside the vocabulary of 30 tokens"):
        registry.build_model("cnn", config, 30, 2, 30)
    with pytest.raises(EngineError, match="num_classes must be an integer of at least 2"):
        registry.build_model("cnn", config, 30, 1, 0)
    with pytest.raises(EngineError, match="cnn needs a CNNConfig, got RNNConfig"):
        registry.build_model("cnn", RNNConfig(), 30, 2, 0)
    with pytest.raises(EngineError, match="lstm always has cell='lstm', got 'gru'"):
        registry.build_model("lstm", RNNConfig(cell="gru"), 30, 2, 0)
    with pytest.raises(EngineError, match="embed_dim must be a positive integer"):
        registry.build_model("cnn", CNNConfig(embed_dim=0), 30, 2, 0)
    lm = registry.config_from_dict("lstm-lm", {})
    assert registry.build_model("lstm-lm", lm, 30, 0, 0).task == "lm"  # no classes for an LM


def test_param_counts_split_trainable_and_frozen() -> None:
    model = build("cnn", {"embed_dim": 8, "kernel_sizes": [2, 3], "channels": 4})
    # embedding 24*8, conv k=2: 4*8*2+4, conv k=3: 4*8*3+4, head: 8*2+2
    expected = 24 * 8 + (4 * 8 * 2 + 4) + (4 * 8 * 3 + 4) + (8 * 2 + 2)
    assert registry.param_counts(model) == (expected, 0)
    model.embedding.weight.requires_grad_(False)
    assert registry.param_counts(model) == (expected - 24 * 8, 24 * 8)


def test_memory_estimate_follows_its_formula() -> None:
    model = build("transformer", {"d_model": 16, "num_heads": 2, "ff_size": 32, "max_len": 64})
    trainable, _ = registry.param_counts(model)
    parts = registry.memory_parts(model, 8, 32, "fp32")
    assert parts["weights"] == 4 * trainable and parts["gradients"] == 4 * trainable
    assert parts["optimizer"] == 8 * trainable and parts["activations"] > 0
    assert registry.estimate_memory(model, 8, 32, "fp32") == sum(parts.values())
    double = registry.memory_parts(model, 16, 32, "fp32")["activations"]
    assert double == 2 * parts["activations"]  # linear in the batch
    longer = registry.memory_parts(model, 8, 64, "fp32")["activations"]
    assert longer > 2 * parts["activations"]  # attention grows with T squared
    half = registry.memory_parts(model, 8, 32, "bf16")
    assert half["weights"] == 6 * trainable and half["activations"] == parts["activations"] // 2
    for p in model.parameters():
        p.requires_grad_(False)
    model.head.requires_grad_(True)
    frozen_parts = registry.memory_parts(model, 8, 32, "fp32")
    head = sum(p.numel() for p in model.head.parameters())
    assert frozen_parts["optimizer"] == 8 * head
    assert frozen_parts["activations"] < parts["activations"]  # nothing kept below the head
    with pytest.raises(EngineError, match="precision must be one of fp32, bf16, fp16"):
        registry.estimate_memory(model, 8, 32, "int4")
    with pytest.raises(EngineError, match="batch_size must be a positive integer"):
        registry.estimate_memory(model, 0, 32)


def test_describe_gives_a_layer_tree_with_counts() -> None:
    model = build("lstm", {"embed_dim": 8, "hidden_size": 4})
    model.encoder.embedding.weight.requires_grad_(False)
    rows = registry.describe(model)
    assert rows[0] == (0, "", "RNNClassifier", *registry.param_counts(model))
    by_name = {name: (depth, kind, t, f) for depth, name, kind, t, f in rows}
    assert by_name["encoder"][:2] == (1, "RecurrentEncoder")
    assert by_name["encoder.embedding"] == (2, "Embedding", 0, VOCAB * 8)
    assert by_name["encoder.rnn"][1] == "LSTM"
    assert by_name["head"] == (1, "Linear", 4 * 2 + 2, 0)
    children = [r for r in rows if r[0] == 1]
    assert sum(r[3] for r in children) == rows[0][3]  # the children's counts add up
    assert sum(r[4] for r in children) == rows[0][4]
    assert [r[0] for r in registry.describe(model, max_depth=1)] == [0, 1, 1, 1]
