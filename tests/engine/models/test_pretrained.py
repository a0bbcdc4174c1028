"""bert-finetune: a tiny random BERT folder for shapes, padding and memorising; the bundled
MiniLM for freezing counts and for an export that transformers.pipeline loads offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.pretrained import PretrainedClassifier, encoder_parts, export
from tests.helpers.models import (
    assert_padding_free,
    minilm_finetune,
    overfit_classifier,
    tiny_bert_folder,
    tiny_bert_texts,
)


def tiny_bert(num_classes: int = 2, **params: object) -> PretrainedClassifier:
    torch.manual_seed(0)
    folder = tiny_bert_folder()
    config = registry.config_from_dict("bert-finetune", {"folder": str(folder), **params})
    model = registry.build_model("bert-finetune", config, 14, num_classes, 0)
    assert isinstance(model, PretrainedClassifier)
    return model.eval()


def test_a_tiny_bert_gives_logits_and_reads_its_own_tokenizer() -> None:
    model = tiny_bert(num_classes=3)
    ids, mask, _ = tiny_bert_texts(5, seed=0)
    assert model(ids, mask).shape == (5, 3)
    assert model.task == "classify"
    assert model.tokenizer_path == tiny_bert_folder() / "tokenizer.json"
    assert model.max_len == 64
    assert model.model.config._attn_implementation == "sdpa"


def test_padding_does_not_change_a_tiny_berts_logits() -> None:
    ids, mask, _ = tiny_bert_texts(6, seed=1)
    assert mask.sum(dim=1).min() < ids.shape[1]  # some rows are padded
    assert_padding_free(tiny_bert(), ids, mask)


def test_a_tiny_bert_memorises_16_examples() -> None:
    model = tiny_bert()
    ids, mask, labels = tiny_bert_texts(16, seed=2)
    loss, acc, steps = overfit_classifier(model, ids, mask, labels, steps=300, lr=3e-3)
    assert acc == 1.0 and loss < 0.05, f"loss {loss:.3f}, accuracy {acc} after {steps} steps"


def test_freezing_the_tiny_bert_leaves_only_the_top() -> None:
    model = tiny_bert(freeze_embeddings=True, trainable_layers=0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        n.startswith(("model.bert.pooler", "model.classifier")) for n in trainable
    )
    everything = tiny_bert()
    assert registry.param_counts(everything)[1] == 0
    with pytest.raises(
        EngineError, match="trainable_layers is 3 but the model has 2 encoder layers"
    ):
        tiny_bert(trainable_layers=3)


def test_a_vocabulary_larger_than_the_models_table_is_refused() -> None:
    config = registry.config_from_dict("bert-finetune", {"folder": str(tiny_bert_folder())})
    with pytest.raises(EngineError, match="the tokenizer has 30522 tokens but the model's table"):
        registry.build_model("bert-finetune", config, 30522, 2, 0)


def test_minilm_with_one_trainable_layer_and_frozen_embeddings_counts_right() -> None:
    model = minilm_finetune()
    embeddings, layers = encoder_parts(model.model)
    assert len(layers) == 6

    def size(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    top = size(layers[5]) + size(model.model.bert.pooler) + size(model.model.classifier)
    below = size(embeddings) + sum(size(layer) for layer in layers[:5])
    assert registry.param_counts(model) == (top, below)
    # hidden 384, intermediate 1536: one layer 1,774,464 + pooler 147,840 + head 770
    assert top == 1_923_074
    assert top + below == size(model)
    assert not any(p.requires_grad for p in layers[4].parameters())
    assert all(p.requires_grad for p in layers[5].parameters())
    parts = registry.memory_parts(model, 8, 64, "fp32")
    assert parts["optimizer"] == 8 * top and parts["weights"] == 4 * (top + below)


def test_minilm_exports_a_folder_that_a_pipeline_loads_offline(tmp_path: Path) -> None:
    from transformers import pipeline

    model = minilm_finetune().eval()
    folder = export(model, tmp_path / "export", labels=["negative", "positive"])
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    answer = classify("I love my dog")[0]
    assert answer["label"] in {"negative", "positive"}
    # the pipeline's score is our model's softmax for the same ids
    ids = torch.tensor([[101, 1045, 2293, 2026, 3899, 102]])
    with torch.no_grad():
        probs = model(ids, torch.ones_like(ids)).softmax(dim=1)[0]
    expected = probs.max().item()
    assert answer["score"] == pytest.approx(expected, abs=1e-4)
    assert answer["label"] == ["negative", "positive"][int(probs.argmax())]
    with pytest.raises(EngineError, match="3 label names for a model of 2 classes"):
        export(model, tmp_path / "again", labels=["a", "b", "c"])
