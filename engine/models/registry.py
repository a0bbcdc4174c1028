"""The one list of model architectures, and what the engine asks of any model: build it from a
name and a dict of parameters, count its parameters, estimate its memory, describe its layers.

Every model built here takes forward(input_ids [B, T], attention_mask [B, T]) and has task
"classify" (logits [B, C]), "lm" (logits [B, T, V], position t predicting token t + 1) or
"seq2seq" (a pair row: source SEP target EOS, logits laid out as a language model's from SEP on;
engine.models.seq2seq).
Architectures with trained_by == "fit" (features-logreg) are not nn.Modules and are trained by
their own fit(texts, labels), not by the generic trainer. Architectures with
pretrained_tokenizer read ids from the model folder's tokenizer (model.tokenizer_path).

Every model also has the embeddings door (engine.models.common.EmbeddingsDoor), so that
attributions and embedding-space attacks reach each family the same way:

    input_embeddings()                   the token table (.weight [V, D])
    embed(input_ids)                     the vectors [B, T, D] the model reads for the ids,
                                         before positions, scaling or dropout
    forward_embeddings(embeds, mask)     the logits from such vectors; in eval mode
                                         forward(ids, mask) == forward_embeddings(embed(ids), mask)
                                         for either padding side, and gradients reach embeds

token_table(spec, model) is the table a run may start from static vectors and turn back into
vectors: the door's, for the families that own theirs (not the pretrained ones).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from torch import nn

from engine.core import settings
from engine.core.errors import EngineError
from engine.models import (
    attention_rnn,
    cnn,
    decoder,
    embedding_bag,
    features,
    lm,
    pretrained,
    rnn,
    seq2seq,
    transformer,
)
from engine.models.common import check_build
from engine.models.features import FeatureClassifier

Task = Literal["classify", "lm", "seq2seq"]
Model: TypeAlias = nn.Module | FeatureClassifier
Builder = Callable[[Any, int, int, int], Model]  # (config, vocab_size, num_classes, pad_id)
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class ArchSpec:
    """An architecture: its config class, how to build it, and what it is for."""

    name: str
    config_class: type[Any]
    build: Builder
    task: Task
    description: str
    fixed: Mapping[str, Any] = field(default_factory=dict)  # config fields this name pins
    trained_by: Literal["trainer", "fit"] = "trainer"
    pretrained_tokenizer: bool = False  # ids must come from model.tokenizer_path

    def setting_names(self) -> list[str]:
        """The config fields a user may set (pinned ones excluded)."""
        return [f.name for f in dataclasses.fields(self.config_class) if f.name not in self.fixed]

    def defaults(self) -> Any:
        """The default config, with the pinned fields set."""
        return self.config_class(**self.fixed)


def _spec(*args: Any, **kwargs: Any) -> tuple[str, ArchSpec]:
    spec = ArchSpec(*args, **kwargs)
    return spec.name, spec


ARCHITECTURES: dict[str, ArchSpec] = dict(
    [
        _spec(
            "embedding-bag",
            embedding_bag.EmbeddingBagConfig,
            embedding_bag.build,
            "classify",
            "averaged (or max/sum) word embeddings with nn.EmbeddingBag, then a linear layer",
            {"impl": "embedding_bag"},
        ),
        _spec(
            "pooling",
            embedding_bag.EmbeddingBagConfig,
            embedding_bag.build,
            "classify",
            "word embeddings pooled by hand over the padding mask (mean/max/sum), then linear",
            {"impl": "pooling"},
        ),
        _spec(
            "cnn",
            cnn.CNNConfig,
            cnn.build,
            "classify",
            "TextCNN: convolutions of several widths, max over time, dropout, linear",
        ),
        _spec(
            "rnn",
            rnn.RNNConfig,
            rnn.build,
            "classify",
            "a plain (tanh) RNN over packed sequences; last hidden state to a linear layer",
            {"cell": "rnn"},
        ),
        _spec(
            "lstm",
            rnn.RNNConfig,
            rnn.build,
            "classify",
            "an LSTM over packed sequences; last hidden state (both directions) to linear",
            {"cell": "lstm"},
        ),
        _spec(
            "gru",
            rnn.RNNConfig,
            rnn.build,
            "classify",
            "a GRU over packed sequences; last hidden state (both directions) to linear",
            {"cell": "gru"},
        ),
        _spec(
            "attention-rnn",
            attention_rnn.AttentionRNNConfig,
            attention_rnn.build,
            "classify",
            "an RNN/LSTM/GRU pooled by additive attention; shows which words it weighed",
        ),
        _spec(
            "transformer",
            transformer.TransformerConfig,
            transformer.build,
            "classify",
            "a Transformer encoder trained from scratch; first-position or mean pooling",
        ),
        _spec(
            "bert-finetune",
            pretrained.BertFinetuneConfig,
            pretrained.build,
            "classify",
            "fine-tune a pretrained BERT-family encoder (default MiniLM) with a new head",
            pretrained_tokenizer=True,
        ),
        _spec(
            "decoder-finetune",
            decoder.DecoderFinetuneConfig,
            decoder.build,
            "classify",
            "fine-tune a GPT-style decoder (default SmolLM2-135M) with a head on its last token",
            pretrained_tokenizer=True,
        ),
        _spec(
            "features-logreg",
            features.FeaturesConfig,
            features.build,
            "classify",
            "frozen MiniLM sentence features + scikit-learn logistic regression (fit, no trainer)",
            trained_by="fit",
            pretrained_tokenizer=True,
        ),
        _spec(
            "lstm-lm",
            lm.LSTMLMConfig,
            lm.build_lstm,
            "lm",
            "an LSTM language model over token ids (characters or words)",
        ),
        _spec(
            "transformer-lm",
            lm.TransformerLMConfig,
            lm.build_transformer,
            "lm",
            "a small GPT-style causal Transformer decoder with learned positions",
        ),
        _spec(
            "seq2seq",
            seq2seq.Seq2SeqConfig,
            seq2seq.build,
            "seq2seq",
            "a GRU encoder-decoder with additive attention over characters or words (pairs)",
        ),
    ]
)


def get_spec(arch: str) -> ArchSpec:
    """The architecture called arch; EngineError listing the names otherwise."""
    spec = ARCHITECTURES.get(arch)
    if spec is None:
        raise EngineError(
            f"there is no architecture '{arch}'",
            hint="architectures are: " + ", ".join(ARCHITECTURES),
            code="not_found",
        )
    return spec


def config_from_dict(arch: str, params: Mapping[str, Any]) -> Any:
    """The architecture's config from user parameters (defaults for the rest), validated.
    EngineError for an unknown key (listing the valid ones), a value of the wrong type, a pinned
    field set otherwise, or a value validate() rejects."""
    spec = get_spec(arch)
    valid = spec.setting_names()
    unknown = [k for k in params if k not in valid and k not in spec.fixed]
    if unknown:
        raise EngineError(
            f"{arch} has no parameter {', '.join(repr(k) for k in unknown)}",
            hint="valid parameters are: " + ", ".join(valid),
        )
    for key, pinned in spec.fixed.items():
        if key in params and params[key] != pinned:
            others = [s.name for s in ARCHITECTURES.values() if s.fixed.get(key) == params[key]]
            raise EngineError(
                f"{arch} always has {key}={pinned!r}",
                hint=f"use the architecture {others[0]}" if others else "leave it out",
            )
    values = settings.coerce_all(spec.config_class, params)
    config = spec.config_class(**{**values, **spec.fixed})
    config.validate()
    return config


def build_model(arch: str, config: Any, vocab_size: int, num_classes: int, pad_id: int) -> Model:
    """The architecture's model for config (validated again here). LMs ignore num_classes;
    pretrained families ignore pad_id (their folder's tokenizer pads)."""
    spec = get_spec(arch)
    if type(config) is not spec.config_class:
        raise EngineError(
            f"{arch} needs a {spec.config_class.__name__}, got {type(config).__name__}",
            hint="make it with config_from_dict",
        )
    for key, pinned in spec.fixed.items():
        if getattr(config, key) != pinned:
            raise EngineError(f"{arch} always has {key}={pinned!r}, got {getattr(config, key)!r}")
    config.validate()
    check_build(vocab_size, num_classes, pad_id, spec.task)
    return spec.build(config, vocab_size, num_classes, pad_id)


def token_table(spec: ArchSpec, model: Model) -> nn.Embedding | nn.EmbeddingBag | None:
    """The model's own token table through its embeddings door, which init_embedding can start
    from static vectors and a trained run's vectors come from; None for families that read ids
    from a pretrained folder's tokenizer, whose table belongs to that folder."""
    if spec.pretrained_tokenizer:
        return None
    door = getattr(model, "input_embeddings", None)
    table = door() if callable(door) else None
    return table if isinstance(table, nn.Embedding | nn.EmbeddingBag) else None


# --- sizes


def param_counts(model: Model) -> tuple[int, int]:
    """(trainable, frozen) parameter counts; shared tensors count once. For a feature
    classifier the regression's weights are the trainable ones (fitted by fit, not gradients)."""
    if isinstance(model, FeatureClassifier):
        outputs = 1 if model.num_classes == 2 else model.num_classes
        _, frozen = param_counts(model.encoder)
        return outputs * (model.hidden_size + 1), frozen
    trainable = frozen = 0
    for p in model.parameters():
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return trainable, frozen


def estimate_memory(model: Model, batch_size: int, seq_len: int, precision: str = "fp32") -> int:
    """A rough estimate of the bytes one training step needs: the sum of memory_parts."""
    return sum(memory_parts(model, batch_size, seq_len, precision).values())


def memory_parts(
    model: Model, batch_size: int, seq_len: int, precision: str = "fp32"
) -> dict[str, int]:
    """Bytes by kind for one AdamW training step with P parameters, P_t of them trainable:

        weights      4 P (fp32 masters), + 2 P for autocast's half copies when bf16/fp16
        gradients    4 P_t
        optimizer    8 P_t (AdamW's exp_avg and exp_avg_sq, fp32)
        activations  a * B * T * W, a = 4 (fp32) or 2 (bf16/fp16) bytes

    W is the per-token width of what autograd keeps, summed over the modules from the first
    one (in registration order, which follows forward order in these models) that has a
    trainable parameter: an embedding's dim, a linear's outputs, a convolution's channels, a
    LayerNorm's width, a recurrent layer's (gates + 2) * hidden per layer and direction, and
    heads * T for an attention's weights. Dropout masks, temporaries and the allocator's slack
    are left out. A feature classifier only runs inference: weights and one layer's widest
    activation."""
    if precision not in PRECISIONS:
        raise EngineError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    check_positive = [("batch_size", batch_size), ("seq_len", seq_len)]
    for name, value in check_positive:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EngineError(f"{name} must be a positive integer, got {value!r}")
    act = 4 if precision == "fp32" else 2
    if isinstance(model, FeatureClassifier):
        total = sum(p.numel() for p in model.encoder.parameters())
        widest = max((_width(m, seq_len) for m in model.encoder.modules()), default=0)
        return {
            "weights": 4 * total,
            "gradients": 0,
            "optimizer": 0,
            "activations": 2 * act * batch_size * seq_len * widest,
        }
    trainable, frozen = param_counts(model)
    total = trainable + frozen
    width = 0
    started = False
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        started = started or any(p.requires_grad for p in own)
        if started:
            width += _width(module, seq_len)
    return {
        "weights": 4 * total + (0 if precision == "fp32" else 2 * total),
        "gradients": 4 * trainable,
        "optimizer": 8 * trainable,
        "activations": act * batch_size * seq_len * width,
    }


_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _width(module: nn.Module, seq_len: int) -> int:
    """Per-token values the module keeps for backward (see memory_parts)."""
    if isinstance(module, nn.Embedding | nn.EmbeddingBag):
        return module.embedding_dim
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.Conv1d):
        return module.out_channels
    if isinstance(module, nn.LayerNorm):
        return int(module.normalized_shape[-1])
    if isinstance(module, nn.RNNBase):
        directions = 2 if module.bidirectional else 1
        gates = _GATES.get(type(module).__name__, 4)
        return (gates + 2) * module.hidden_size * directions * module.num_layers
    if isinstance(module, nn.MultiheadAttention):
        return module.num_heads * seq_len
    heads = getattr(module, "num_attention_heads", None)  # Hugging Face self-attention
    if isinstance(heads, int) and not isinstance(module, nn.ModuleList):
        return heads * seq_len
    return 0


# --- the layer tree


def describe(model: Model, max_depth: int | None = None) -> list[tuple[int, str, str, int, int]]:
    """The layer tree, parents before children: (depth, dotted name ("" for the model itself),
    class name, trainable parameters, frozen parameters), counts including all descendants."""
    if isinstance(model, FeatureClassifier):
        trainable, frozen = param_counts(model)
        rows: list[tuple[int, str, str, int, int]] = [
            (0, "", type(model).__name__, trainable, frozen)
        ]
        if max_depth is None or max_depth >= 1:
            deeper = None if max_depth is None else max_depth - 1
            rows += [
                (depth + 1, "encoder" + (f".{name}" if name else ""), kind, t, f)
                for depth, name, kind, t, f in describe(model.encoder, deeper)
            ]
            rows.append((1, "classifier", "LogisticRegression", trainable, 0))
        return rows
    tree: list[tuple[int, str, str, int, int]] = []

    def walk(module: nn.Module, name: str, depth: int) -> None:
        trainable, frozen = param_counts(module)
        tree.append((depth, name, type(module).__name__, trainable, frozen))
        if max_depth is None or depth < max_depth:
            for child_name, child in module.named_children():
                walk(child, f"{name}.{child_name}" if name else child_name, depth + 1)

    walk(model, "", 0)
    return tree
