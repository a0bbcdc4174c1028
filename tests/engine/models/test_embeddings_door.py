"""The embeddings door on every family: input_embeddings() is the token table, embed(ids) its
rows, and forward_embeddings(embed(ids), mask) equals forward(ids, mask) for right and left
padding, with gradients reaching the vectors; state_dict keys stay those saved checkpoints have;
both Transformer families build their stack with blocks.pre_ln_encoder; token_table and
embedding_table go through the door."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.blocks import pre_ln_encoder
from engine.models.common import right_align, right_align_embeddings
from engine.models.features import FeatureClassifier, FeaturesConfig
from engine.models.loading import TrainedModel, TrainedRun, embedding_table
from engine.models.transformer import PositionalEmbedding
from tests.helpers.models import (
    PAD,
    VOCAB,
    build,
    left_padded,
    tiny_batch,
    tiny_bert_folder,
    tiny_bert_texts,
)

RNN = {"embed_dim": 16, "hidden_size": 16, "num_layers": 2}
TRANSFORMER = {"d_model": 16, "num_heads": 2, "num_layers": 2, "ff_size": 32, "max_len": 16}

# every family with a table of its own, on tiny configs (dropout on: eval mode must drop it)
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "bag-mean": ("embedding-bag", {"embed_dim": 16, "mode": "mean", "hidden_size": 16}),
    "bag-max": ("embedding-bag", {"embed_dim": 16, "mode": "max"}),
    "bag-sum": ("embedding-bag", {"embed_dim": 16, "mode": "sum", "dropout": 0.2}),
    "pool-mean": ("pooling", {"embed_dim": 16, "mode": "mean"}),
    "pool-max": ("pooling", {"embed_dim": 16, "mode": "max", "hidden_size": 16}),
    "pool-sum": ("pooling", {"embed_dim": 16, "mode": "sum"}),
    "cnn": ("cnn", {"embed_dim": 16, "kernel_sizes": [2, 3, 5], "channels": 4}),
    "rnn": ("rnn", {**RNN, "dropout": 0.2}),
    "lstm-bi": ("lstm", {**RNN, "bidirectional": True}),
    "gru": ("gru", RNN),
    "attention-lstm-bi": ("attention-rnn", {**RNN, "bidirectional": True, "attention_size": 8}),
    "transformer-cls": ("transformer", {**TRANSFORMER, "pooling": "cls"}),
    "transformer-mean-learned": ("transformer", {**TRANSFORMER, "positions": "learned"}),
    "lstm-lm": ("lstm-lm", {"embed_dim": 16, "hidden_size": 16, "num_layers": 2}),
    "transformer-lm": ("transformer-lm", TRANSFORMER),
}
CASES = pytest.mark.parametrize("case", list(FAMILIES))


def batches() -> list[tuple[Tensor, Tensor]]:
    """A right-padded batch (with an all-padding row) and the same batch left-padded."""
    ids, mask, _ = tiny_batch(n=6, seed=1)
    ids[2], mask[2] = PAD, 0
    return [(ids, mask), left_padded(ids, mask)]


def tiny_bert(num_classes: int = 2) -> Any:
    torch.manual_seed(0)
    config = registry.config_from_dict("bert-finetune", {"folder": str(tiny_bert_folder())})
    return registry.build_model("bert-finetune", config, 14, num_classes, 0).eval()


def fitted_features(labels: list[int], num_classes: int) -> FeatureClassifier:
    """A feature classifier on the tiny BERT, its regression fitted on 8 phrases."""
    from transformers import AutoModel

    from engine.models.pretrained import load_pretrained

    folder = tiny_bert_folder()
    torch.manual_seed(0)
    model = FeatureClassifier(
        FeaturesConfig(folder=str(folder)),
        num_classes,
        load_pretrained(AutoModel, folder),
        folder,
    )
    texts = ["good fun", "great actor", "fun movie", "good plot"]
    texts += ["bad plot", "dull movie", "awful actor", "bad dull"]
    model.fit(texts, labels)
    return model


def assert_door_matches_forward(model: Any, ids: Tensor, mask: Tensor, atol: float) -> None:
    with torch.no_grad():
        direct = model(ids, mask)
        through = model.forward_embeddings(model.embed(ids), mask)
    assert direct.shape == through.shape
    torch.testing.assert_close(through, direct, atol=atol, rtol=0)


# --- the door matches forward


@CASES
def test_forward_embeddings_of_embed_is_forward_for_either_padding_side(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, params, num_classes=3)
    for ids, mask in batches():
        assert_door_matches_forward(model, ids, mask, atol=1e-6)


@CASES
def test_forward_is_exactly_the_door_except_for_the_embedding_bag(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, params)
    for ids, mask in batches():
        with torch.no_grad():
            direct = model(ids, mask)
            through = model.forward_embeddings(model.embed(ids), mask)
        if arch == "embedding-bag":  # nn.EmbeddingBag's own kernel: equal to float rounding
            torch.testing.assert_close(through, direct, atol=1e-6, rtol=0)
        else:
            assert torch.equal(through, direct)


@CASES
def test_embed_is_rows_of_the_table_before_positions_scaling_or_dropout(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, {**params, "dropout": 0.5}).train()  # dropout would show in train mode
    table = model.input_embeddings()
    assert isinstance(table, nn.Embedding | nn.EmbeddingBag)
    assert table.weight.shape == (VOCAB, model.embed(torch.tensor([[1]])).shape[-1])
    ids, _, _ = tiny_batch(n=4, seed=2)
    vectors = model.embed(ids)
    assert vectors.shape == (*ids.shape, table.weight.shape[1])
    assert torch.equal(vectors, table.weight[ids])


@CASES
def test_gradients_reach_the_real_positions_of_the_embeddings(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, params)
    for ids, mask in batches():
        embeds = model.embed(ids).detach().requires_grad_(True)
        logits = model.forward_embeddings(embeds, mask)
        if model.task == "lm":
            logits = logits * mask.unsqueeze(-1)  # logits at padding positions mean nothing
        logits.square().sum().backward()
        assert embeds.grad is not None
        reached = embeds.grad.norm(dim=-1) > 0
        real = mask == 1
        if params.get("mode") == "max":  # only the tokens that win a dimension's max
            assert reached[real.any(dim=1)].any(dim=1).all(), case
        else:
            assert reached[real].all(), case
        if model.task == "classify":  # padding never reaches a row with real tokens
            assert not reached[real.any(dim=1)][~real[real.any(dim=1)]].any(), case


def test_the_door_reads_vectors_that_are_no_tokens_rows() -> None:
    """forward_embeddings works on any vectors of the right shape (what an attack feeds it)."""
    model = build(*FAMILIES["transformer-cls"])
    ids, mask, _ = tiny_batch(n=3, seed=3)
    embeds = model.embed(ids)
    nudged = embeds + 0.1 * torch.randn_like(embeds)
    with torch.no_grad():
        assert not torch.allclose(model.forward_embeddings(nudged, mask), model(ids, mask))


def test_the_bag_pools_embeddings_like_its_embedding_bag_for_each_mode() -> None:
    ids, mask, _ = tiny_batch(n=6, seed=4)
    for mode in ("mean", "max", "sum"):
        bag = build("embedding-bag", {"embed_dim": 8, "mode": mode})
        assert isinstance(bag.input_embeddings(), nn.EmbeddingBag)
        with torch.no_grad():
            want = bag(ids, mask)
            got = bag.forward_embeddings(bag.embed(ids), mask)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_the_attention_rnn_keeps_its_weights_through_the_door() -> None:
    model = build(*FAMILIES["attention-lstm-bi"])
    ids, mask = batches()[1]  # left padding
    with torch.no_grad():
        model(ids, mask)
        direct = model.last_attention
        model.forward_embeddings(model.embed(ids), mask)
    assert direct is not None and model.last_attention is not None
    assert torch.equal(model.last_attention, direct)
    assert (model.last_attention[mask == 0] == 0).all()


def test_right_align_embeddings_gathers_vectors_in_right_aligns_order() -> None:
    ids, mask = batches()[1]
    table = nn.Embedding(VOCAB, 5)
    aligned_ids, aligned_mask, order = right_align(ids, mask)
    vectors, vector_mask, vector_order = right_align_embeddings(table(ids), mask)
    assert torch.equal(vectors, table(aligned_ids))
    assert torch.equal(vector_mask, aligned_mask) and torch.equal(vector_order, order)
    assert vectors.shape == (*aligned_ids.shape, 5) and vector_mask.dtype == torch.long


def test_the_transformer_keeps_its_embed_module_and_embed_is_the_door() -> None:
    model = build(*FAMILIES["transformer-mean-learned"])
    children = dict(model.named_children())
    assert isinstance(children["embed"], PositionalEmbedding)
    assert model.positional is children["embed"]
    assert model.input_embeddings() is children["embed"].tokens
    ids, _, _ = tiny_batch(n=2)
    # embed is unscaled and without positions; the module adds both
    assert torch.equal(model.embed(ids), children["embed"].tokens(ids))
    with torch.no_grad():
        placed = children["embed"](ids)
    assert not torch.allclose(placed, model.embed(ids))


def test_a_sequence_past_max_len_is_refused_through_the_door_too() -> None:
    for arch in ("transformer", "transformer-lm"):
        model = build(arch, TRANSFORMER)
        long = torch.ones((1, 17), dtype=torch.long)
        with pytest.raises(EngineError, match="longer than the model's max_len of 16"):
            model.forward_embeddings(model.embed(long), torch.ones_like(long))


# --- the pretrained families


def test_a_tiny_bert_answers_through_inputs_embeds() -> None:
    model = tiny_bert(num_classes=3)
    table = model.input_embeddings()
    assert table is model.model.get_input_embeddings() and table.weight.shape == (14, 32)
    ids, mask, _ = tiny_bert_texts(6, seed=1)
    assert torch.equal(model.embed(ids), table.weight[ids])
    for batch_ids, batch_mask in [(ids, mask), left_padded(ids, mask)]:
        assert_door_matches_forward(model, batch_ids, batch_mask, atol=1e-6)
    embeds = model.embed(ids).detach().requires_grad_(True)
    model.forward_embeddings(embeds, mask).square().sum().backward()
    assert embeds.grad is not None and (embeds.grad.norm(dim=-1)[mask == 1] > 0).all()


@pytest.mark.parametrize(
    ("labels", "num_classes", "rows"),
    [
        ([0] * 4 + [1] * 4, 2, 1),  # binary: scikit-learn keeps one row of coef, a sigmoid
        ([0, 1, 2, 0, 1, 2, 0, 1], 3, 3),  # multinomial: softmax over three rows
        ([0] * 4 + [2] * 4, 3, 1),  # class 1 never seen: log(1e-12), as __call__ gives it
    ],
)
def test_the_feature_classifier_runs_its_regression_in_torch(
    labels: list[int], num_classes: int, rows: int
) -> None:
    model = fitted_features(labels, num_classes)
    assert model.classifier.coef_.shape == (rows, 32)
    assert model.input_embeddings() is model.encoder.get_input_embeddings()
    ids, mask, _ = tiny_bert_texts(6, seed=2)
    for batch_ids, batch_mask in [(ids, mask), left_padded(ids, mask)]:
        assert_door_matches_forward(model, batch_ids, batch_mask, atol=1e-6)
    embeds = model.embed(ids).detach().requires_grad_(True)
    log_proba = model.forward_embeddings(embeds, mask)
    assert log_proba.shape == (6, num_classes) and log_proba.dtype == torch.float32
    if 1 not in labels:
        assert torch.allclose(log_proba[:, 1], torch.log(torch.tensor(1e-12)))
    log_proba[:, labels[0]].sum().backward()
    assert embeds.grad is not None and (embeds.grad.norm(dim=-1)[mask == 1] > 0).all()


def test_the_feature_classifiers_torch_head_matches_predict_proba() -> None:
    model = fitted_features([0, 1, 2, 0, 1, 2, 0, 1], 3)
    texts = ["good movie", "awful plot", "fun actor"]
    features = model.features(texts)
    got = model.log_proba_of_features(torch.from_numpy(features)).exp().double()
    want = torch.from_numpy(model.predict_proba(texts))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


# --- the state_dict keys saved checkpoints hold (written from the code before the door)

BAG_KEYS = ["embedding.weight", "head.0.weight", "head.0.bias", "head.3.weight", "head.3.bias"]
RNN_LAYER = ["weight_ih_l{}", "weight_hh_l{}", "bias_ih_l{}", "bias_hh_l{}"]
ENCODER_LAYER = [
    "self_attn.in_proj_weight",
    "self_attn.in_proj_bias",
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "linear1.weight",
    "linear1.bias",
    "linear2.weight",
    "linear2.bias",
    "norm1.weight",
    "norm1.bias",
    "norm2.weight",
    "norm2.bias",
]
BERT_LAYER = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
]


def rnn_keys(prefix: str, layers: int, bidirectional: bool) -> list[str]:
    keys = []
    for i in range(layers):
        keys += [prefix + k.format(i) for k in RNN_LAYER]
        if bidirectional:
            keys += [prefix + k.format(i) + "_reverse" for k in RNN_LAYER]
    return keys


def layer_keys(prefix: str, suffixes: list[str], layers: int) -> list[str]:
    return [f"{prefix}{i}.{s}" for i in range(layers) for s in suffixes]


ENCODER = layer_keys("encoder.layers.", ENCODER_LAYER, 2)
STATE_KEYS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "embedding-bag": ("embedding-bag", {"embed_dim": 16, "hidden_size": 16}, BAG_KEYS),
    "pooling": ("pooling", {"embed_dim": 16, "hidden_size": 16}, BAG_KEYS),
    "cnn": (
        "cnn",
        {"embed_dim": 16, "kernel_sizes": [2, 3], "channels": 4},
        [
            "embedding.weight",
            "convs.0.weight",
            "convs.0.bias",
            "convs.1.weight",
            "convs.1.bias",
            "head.weight",
            "head.bias",
        ],
    ),
    "lstm-bi": (
        "lstm",
        {**RNN, "bidirectional": True},
        [
            "encoder.embedding.weight",
            *rnn_keys("encoder.rnn.", 2, True),
            "head.weight",
            "head.bias",
        ],
    ),
    "gru": (
        "gru",
        RNN,
        [
            "encoder.embedding.weight",
            *rnn_keys("encoder.rnn.", 2, False),
            "head.weight",
            "head.bias",
        ],
    ),
    "rnn": (
        "rnn",
        RNN,
        [
            "encoder.embedding.weight",
            *rnn_keys("encoder.rnn.", 2, False),
            "head.weight",
            "head.bias",
        ],
    ),
    "attention-rnn": (
        "attention-rnn",
        {**RNN, "attention_size": 8},
        [
            "encoder.embedding.weight",
            *rnn_keys("encoder.rnn.", 2, False),
            "attention.project.weight",
            "attention.project.bias",
            "attention.score.weight",
            "head.weight",
            "head.bias",
        ],
    ),
    "transformer-sinusoidal": (
        "transformer",
        TRANSFORMER,
        [
            "embed.tokens.weight",
            *ENCODER,
            "encoder.norm.weight",
            "encoder.norm.bias",
            "head.weight",
            "head.bias",
        ],
    ),
    "transformer-learned": (
        "transformer",
        {**TRANSFORMER, "positions": "learned"},
        [
            "embed.tokens.weight",
            "embed.learned.weight",
            *ENCODER,
            "encoder.norm.weight",
            "encoder.norm.bias",
            "head.weight",
            "head.bias",
        ],
    ),
    "lstm-lm": (
        "lstm-lm",
        {"embed_dim": 16, "hidden_size": 16, "num_layers": 2},
        ["embedding.weight", *rnn_keys("lstm.", 2, False), "head.weight", "head.bias"],
    ),
    "transformer-lm": (
        "transformer-lm",
        TRANSFORMER,
        [
            "embedding.weight",
            "positions.weight",
            *layer_keys("blocks.layers.", ENCODER_LAYER, 2),
            "norm.weight",
            "norm.bias",
            "head.weight",
            "head.bias",
        ],
    ),
}


@pytest.mark.parametrize("case", list(STATE_KEYS))
def test_state_dict_keys_are_those_saved_checkpoints_hold(case: str) -> None:
    arch, params, keys = STATE_KEYS[case]
    assert list(build(arch, params).state_dict()) == keys


def test_a_tiny_berts_state_dict_keys_are_those_saved_checkpoints_hold() -> None:
    embeddings = [
        "word_embeddings.weight",
        "position_embeddings.weight",
        "token_type_embeddings.weight",
        "LayerNorm.weight",
        "LayerNorm.bias",
    ]
    keys = [f"model.bert.embeddings.{k}" for k in embeddings]
    keys += layer_keys("model.bert.encoder.layer.", BERT_LAYER, 2)
    keys += ["model.bert.pooler.dense.weight", "model.bert.pooler.dense.bias"]
    keys += ["model.classifier.weight", "model.classifier.bias"]
    assert list(tiny_bert().state_dict()) == keys


def test_weights_saved_by_one_model_load_strictly_into_another(tmp_path: Path) -> None:
    """As load_trained loads a checkpoint: safetensors, every key matched, the same logits."""
    from safetensors.torch import load_model, save_model

    ids, mask, _ = tiny_batch(n=4)
    for case, (arch, params, _) in STATE_KEYS.items():
        model = build(arch, params, seed=1)
        save_model(model, str(tmp_path / f"{case}.safetensors"))
        fresh = build(arch, params, seed=2)
        load_model(fresh, str(tmp_path / f"{case}.safetensors"), strict=True)
        with torch.no_grad():
            assert torch.equal(fresh(ids, mask), model(ids, mask)), case


# --- one Transformer stack for both families


@pytest.mark.parametrize(
    ("final_norm", "norm_keys"), [(True, ["norm.weight", "norm.bias"]), (False, [])]
)
def test_pre_ln_encoder_builds_the_stack_both_families_use(
    final_norm: bool, norm_keys: list[str]
) -> None:
    stack = pre_ln_encoder(16, 2, 32, 0.1, num_layers=3, final_norm=final_norm)
    assert isinstance(stack, nn.TransformerEncoder) and len(stack.layers) == 3
    assert list(stack.state_dict()) == layer_keys("layers.", ENCODER_LAYER, 3) + norm_keys
    layer = stack.layers[0]
    assert layer.norm_first and layer.self_attn.batch_first
    assert layer.activation is torch.nn.functional.gelu
    assert layer.linear1.out_features == 32 and layer.self_attn.num_heads == 2
    assert layer.dropout.p == 0.1 and not stack.enable_nested_tensor
    assert (stack.norm is not None) == final_norm


@pytest.mark.parametrize(
    ("arch", "attribute", "final_norm"),
    [("transformer", "encoder", True), ("transformer-lm", "blocks", False)],
)
def test_both_transformer_families_hold_that_stack(
    arch: str, attribute: str, final_norm: bool
) -> None:
    model = build(arch, {**TRANSFORMER, "dropout": 0.2})
    stack = getattr(model, attribute)
    want = pre_ln_encoder(16, 2, 32, 0.2, num_layers=2, final_norm=final_norm)
    assert repr(stack) == repr(want)
    assert {k: v.shape for k, v in stack.state_dict().items()} == {
        k: v.shape for k, v in want.state_dict().items()
    }


# --- token_table and embedding_table go through the door


class WordTokenizer:
    """Enough of a tokenizers.Tokenizer for embedding_table: w0 .. w(VOCAB-1)."""

    def get_vocab(self) -> dict[str, int]:
        return {f"w{i}": i for i in range(VOCAB)}


def trained(arch: str, model: Any) -> TrainedModel:
    run = TrainedRun(
        run_id="r1",
        folder=Path("."),
        checkpoint=Path("ckpt-3"),
        arch=arch,
        params={},
        tokenizer=WordTokenizer(),
        pad_id=PAD,
        labels=["a", "b"],
        description=f"run r1 ({arch} on tiny)",
    )
    return TrainedModel(run, model, registry.get_spec(arch), Path("ckpt-3"), 3)


@pytest.mark.parametrize("case", ["bag-mean", "cnn", "gru", "attention-lstm-bi", "transformer-cls"])
def test_token_table_and_embedding_table_are_the_doors_table(case: str) -> None:
    arch, params = FAMILIES[case]
    model = build(arch, params)
    table = registry.token_table(registry.get_spec(arch), model)
    assert table is model.input_embeddings()
    words, matrix = embedding_table(trained(arch, model))
    assert words == [f"w{i}" for i in range(VOCAB)]
    assert matrix.shape == (VOCAB, 16)
    torch.testing.assert_close(torch.from_numpy(matrix), model.input_embeddings().weight.detach())


def test_pretrained_families_have_no_table_of_their_own() -> None:
    model = tiny_bert()
    assert registry.token_table(registry.get_spec("bert-finetune"), model) is None
    with pytest.raises(
        EngineError, match="a bert-finetune model has no embedding table of its own"
    ):
        embedding_table(trained("bert-finetune", model))
