"""decoder-finetune: a tiny random Llama-style folder for shapes, left padding, masking,
freezing and memorising 16 examples; SmolLM2 (the optional asset) for the real thing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.decoder import DecoderClassifier, left_align
from engine.models.service import own_tokenizer_vocab
from tests.helpers.models import (
    assert_padding_free,
    left_padded,
    overfit_classifier,
    tiny_bert_folder,
    tiny_decoder_folder,
)

WORDS = ["good", "bad", "movie", "plot", "actor", "fun", "dull", "great", "awful"]


def tiny_decoder(num_classes: int = 2, **params: object) -> DecoderClassifier:
    torch.manual_seed(0)
    config = registry.config_from_dict(
        "decoder-finetune", {"folder": str(tiny_decoder_folder()), **params}
    )
    model = registry.build_model("decoder-finetune", config, 11, num_classes, 0)
    assert isinstance(model, DecoderClassifier)
    return model.eval()


def texts(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, mask, labels): n different random phrases of 1 to 6 of the tiny words (ids
    2..10), right-padded with id 1 (end-of-sequence: the tokenizer has no pad token)."""
    g = torch.Generator().manual_seed(seed)
    seen: list[tuple[int, ...]] = []
    while len(seen) < n:
        length = 6 if not seen else int(torch.randint(1, 7, (1,), generator=g))
        phrase = tuple(torch.randint(2, 11, (length,), generator=g).tolist())
        if phrase not in seen:
            seen.append(phrase)
    ids = torch.ones((n, 6), dtype=torch.long)
    mask = torch.zeros((n, 6), dtype=torch.long)
    for row, phrase in enumerate(seen):
        ids[row, : len(phrase)], mask[row, : len(phrase)] = torch.tensor(phrase), 1
    labels = torch.arange(n) % 2
    return ids, mask, labels[torch.randperm(n, generator=g)]


def test_a_tiny_decoder_gives_logits_and_reads_its_own_tokenizer() -> None:
    model = tiny_decoder(num_classes=3)
    ids, mask, _ = texts(5, seed=0)
    assert model(ids, mask).shape == (5, 3)
    assert model.task == "classify" and model.max_len == 64
    assert model.tokenizer_path == tiny_decoder_folder() / "tokenizer.json"
    assert model.model.config.pad_token_id == 1  # none of its own: end-of-sequence
    vocab = own_tokenizer_vocab("decoder-finetune", {"folder": str(tiny_decoder_folder())})
    assert vocab is not None and vocab["good"] == 2 and len(vocab) == 11


def test_left_padding_reads_as_the_text_alone() -> None:
    model = tiny_decoder()
    ids, mask, _ = texts(6, seed=1)
    assert mask.sum(dim=1).min() < ids.shape[1]  # some rows are padded
    assert_padding_free(model, ids, mask)  # alone, padded right, more padding, padded left
    left_ids, left_mask = left_padded(ids, mask)
    with torch.no_grad():
        for row, n in enumerate(mask.sum(dim=1).tolist()):
            alone = model(ids[row : row + 1, :n], mask[row : row + 1, :n])
            torch.testing.assert_close(
                model(left_ids[row : row + 1], left_mask[row : row + 1]), alone, atol=1e-5, rtol=0
            )


def test_the_head_reads_the_last_real_token_and_pads_are_masked() -> None:
    model = tiny_decoder()
    ids, mask, _ = texts(4, seed=3)
    other = ids.masked_fill(mask == 0, 7)  # other pad ids: the same logits
    with torch.no_grad():
        torch.testing.assert_close(model(other, mask), model(ids, mask), atol=1e-5, rtol=0)
        changed = ids.clone()
        n = int(mask[1].sum())
        changed[1, n - 1] = 2 if int(ids[1, n - 1]) != 2 else 3  # its last real token
        assert not torch.allclose(model(changed, mask)[1], model(ids, mask)[1])
    assert left_align(torch.tensor([[1, 1, 0, 0]])).tolist() == [[2, 3, 0, 1]]
    embeds = model.embed(ids)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_embeddings(embeds, mask), model(ids, mask))


def test_a_tiny_decoder_memorises_16_examples() -> None:
    model = tiny_decoder()
    ids, mask, labels = texts(16, seed=2)
    loss, acc, steps = overfit_classifier(model, ids, mask, labels, steps=300, lr=3e-3)
    assert acc == 1.0 and loss < 0.05, f"loss {loss:.3f}, accuracy {acc} after {steps} steps"


def test_freezing_the_tiny_decoder_leaves_only_the_top() -> None:
    model = tiny_decoder(freeze_embeddings=True, trainable_layers=1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        n.startswith(("model.layers.1.", "model.norm", "head.")) for n in trainable
    )
    assert any(n.startswith("head.") for n in trainable)
    assert registry.param_counts(tiny_decoder())[1] == 0
    with pytest.raises(EngineError, match="trainable_layers is 3 but the model has 2 blocks"):
        tiny_decoder(trainable_layers=3)


def test_folders_that_are_not_causal_lms_are_refused(tmp_path: Path) -> None:
    config = registry.config_from_dict("decoder-finetune", {"folder": str(tiny_bert_folder())})
    with pytest.raises(EngineError, match="is a 'bert' model, not a causal language model"):
        registry.build_model("decoder-finetune", config, 14, 2, 0)
    with pytest.raises(EngineError, match=r"has no config\.json"):
        registry.config_from_dict("decoder-finetune", {"folder": str(tmp_path)})
    config = registry.config_from_dict("decoder-finetune", {"folder": str(tiny_decoder_folder())})
    with pytest.raises(EngineError, match="the tokenizer has 99 tokens but the model's table"):
        registry.build_model("decoder-finetune", config, 99, 2, 0)


def test_smollm2_classifies_left_padded_texts_as_alone() -> None:
    pytest.importorskip("gguf")
    from engine.models.causal import smollm2_folder

    try:
        smollm2_folder()
    except EngineError:
        pytest.skip("the optional SmolLM2 asset is not installed (make llm)")
    from engine.tokenizers import sources

    tok = sources.load_builtin(sources.BUILTINS["smollm2-bpe"])
    config = registry.config_from_dict(
        "decoder-finetune", {"freeze_embeddings": True, "trainable_layers": 0}
    )
    torch.manual_seed(0)
    model = registry.build_model("decoder-finetune", config, tok.get_vocab_size(), 4, 0).eval()
    assert model.model.config.model_type == "llama"
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"model", "head"}  # the head, and the final norm
    encoded = [tok.encode(t).ids for t in ("a fine film", "the plot was dull and far too long")]
    width = max(map(len, encoded))
    ids = torch.zeros((2, width), dtype=torch.long)
    mask = torch.zeros((2, width), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, width - len(e) :], mask[row, width - len(e) :] = torch.tensor(e), 1
    with torch.no_grad():
        both = model(ids, mask)
        for row, e in enumerate(encoded):
            alone = model(torch.tensor([e]), torch.ones((1, len(e)), dtype=torch.long))
            torch.testing.assert_close(both[row : row + 1], alone, atol=1e-4, rtol=1e-4)


def test_a_tiny_decoders_weights_round_trip_through_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import load_model, save_model

    model = tiny_decoder()
    save_model(model, str(tmp_path / "model.safetensors"))
    torch.manual_seed(5)
    fresh = tiny_decoder()
    torch.nn.init.normal_(fresh.head.weight)
    load_model(fresh, str(tmp_path / "model.safetensors"))
    ids, mask, _ = texts(3, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(fresh(ids, mask), model(ids, mask))
