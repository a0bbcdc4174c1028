"""A classifier on a causal (GPT-style) language model: SmolLM2-135M from the optional asset
(`make llm`; its GGUF dequantised to fp32), or any local causal-LM folder written by
save_pretrained (with a tokenizer.json), with a new linear head.

A decoder reads left to right, so the only position that has seen the whole text is the last
real token: the head reads its hidden state. Texts are left-padded (pads moved to the front,
whatever side the batch came in), positions count real tokens only (position_ids from the
mask), so a padded text is read exactly as it is alone. A tokenizer with no pad token pads
with end-of-sequence (the model's config gets it as pad_token_id). freeze_embeddings and
trainable_layers choose what trains, as for the BERT family: the embeddings, the top
trainable_layers decoder blocks (-1: all), the final norm and the head always.

Embeddings door (engine.models.common): input_embeddings() is the model's token table,
embed(ids) its rows, forward_embeddings(embeds, mask) left-aligns the vectors and hands them
to the model as inputs_embeds; forward(ids, mask) == forward_embeddings(embed(ids), mask).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models.common import EmbeddingsDoor, check_bool, check_int
from engine.models.pretrained import TOKENIZER_FILE, model_folder, quiet_transformers

log = logging.getLogger("engine.models")


@dataclass
class DecoderFinetuneConfig:
    folder: str = ""  # a causal-LM save_pretrained folder; "" is SmolLM2 (the optional asset)
    freeze_embeddings: bool = False
    trainable_layers: int = -1  # top decoder blocks that train: -1 all, 0 none (head only)
    dropout: float = 0.0  # before the head

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        if not isinstance(self.folder, str):
            raise EngineError(f"folder must be a path, got {self.folder!r}")
        check_bool("freeze_embeddings", self.freeze_embeddings)
        check_int("trainable_layers", self.trainable_layers, low=-1)
        if isinstance(self.dropout, bool) or not 0 <= float(self.dropout) < 1:
            raise EngineError(f"dropout must be from 0 up to (not including) 1, got {self.dropout}")
        resolve_source(self.folder)


@dataclass(frozen=True)
class Source:
    """Where a decoder comes from: a folder, and the GGUF file in it when it is one."""

    folder: Path
    gguf: str | None = None

    @property
    def name(self) -> str:
        return "smollm2" if self.gguf else str(self.folder)


def resolve_source(folder: str) -> Source:
    """The decoder a config names ("" is SmolLM2); EngineError when it is not there or is not
    a causal language model folder with a tokenizer.json."""
    if not folder:
        from engine.models.causal import SMOLLM2_FILE, smollm2_folder

        return Source(smollm2_folder(), SMOLLM2_FILE)
    path = model_folder(folder, "a causal-LM folder written by save_pretrained", "SmolLM2")
    return Source(path)


def own_vocab(source: Source) -> dict[str, int]:
    """The vocabulary of the tokenizer the decoder reads ids from."""
    if source.gguf:
        from engine.tokenizers.service import builtin_vocab

        return builtin_vocab("smollm2-bpe")
    from tokenizers import Tokenizer

    return dict(Tokenizer.from_file(str(source.folder / TOKENIZER_FILE)).get_vocab())


def load_decoder(source: Source) -> Any:
    """The causal LM's base model (no LM head), fp32, local files only, never remote code;
    EngineError when the folder is not a causal language model."""
    from transformers import (
        MODEL_FOR_CAUSAL_LM_MAPPING,
        MODEL_FOR_MASKED_LM_MAPPING,
        AutoConfig,
        AutoModel,
    )

    extra: dict[str, Any] = {"gguf_file": source.gguf} if source.gguf else {}
    with quiet_transformers():
        config = AutoConfig.from_pretrained(
            str(source.folder), local_files_only=True, trust_remote_code=False, **extra
        )
        # BERT-family encoders have causal-LM heads too: a decoder has no masked-LM one
        kind = type(config)
        if kind not in MODEL_FOR_CAUSAL_LM_MAPPING or kind in MODEL_FOR_MASKED_LM_MAPPING:
            raise EngineError(
                f"{source.name} is a '{config.model_type}' model, not a causal language model",
                hint="use bert-finetune for an encoder, or give a GPT-style (causal) folder",
            )
        return AutoModel.from_pretrained(
            str(source.folder),
            local_files_only=True,
            trust_remote_code=False,
            dtype=torch.float32,
            **extra,
        )


def decoder_parts(model: Any) -> tuple[nn.Module, nn.ModuleList]:
    """(token table, decoder blocks) of a causal LM's base model (Llama-style `layers`, GPT-2's
    `h`); EngineError for models laid out otherwise."""
    blocks = getattr(model, "layers", None)
    if blocks is None:
        blocks = getattr(model, "h", None)
    if not isinstance(blocks, nn.ModuleList):
        raise EngineError(
            f"cannot find the decoder blocks of a '{model.config.model_type}' model, so parts "
            "of it cannot be frozen",
            hint="use trainable_layers -1 and freeze_embeddings false",
        )
    return model.get_input_embeddings(), blocks


def freeze(model: Any, freeze_embeddings: bool, trainable_layers: int) -> None:
    """requires_grad: all but the token table (freeze_embeddings) and the blocks below the top
    trainable_layers (-1: none frozen)."""
    for p in model.parameters():
        p.requires_grad_(True)
    if not freeze_embeddings and trainable_layers < 0:
        return
    table, blocks = decoder_parts(model)
    if trainable_layers > len(blocks):
        raise EngineError(
            f"trainable_layers is {trainable_layers} but the model has {len(blocks)} blocks",
            hint=f"use -1 (all) or a number from 0 to {len(blocks)}",
        )
    if freeze_embeddings:
        table.requires_grad_(False)
    if trainable_layers >= 0:
        for block in blocks[: len(blocks) - trainable_layers]:
            block.requires_grad_(False)


def left_align(attention_mask: Tensor) -> Tensor:
    """The order [B, T] that moves each row's pads to the front, its tokens kept in order."""
    return torch.sort(attention_mask.bool().long(), dim=1, stable=True).indices


class DecoderClassifier(EmbeddingsDoor):
    """A causal LM's last real token's hidden state -> a linear head: logits [B, C]."""

    task = "classify"

    def __init__(self, model: Any, source: Source, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.model = model
        self.source = source
        self.tokenizer_path = source.folder / (source.gguf or TOKENIZER_FILE)
        hidden = int(model.config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)
        limit = getattr(model.config, "max_position_embeddings", None) or getattr(
            model.config, "n_positions", 2048
        )
        self.max_len = int(limit)

    def input_embeddings(self) -> nn.Module:
        table: nn.Module = self.model.get_input_embeddings()
        return table

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, hidden] -> logits [B, C], read left-padded."""
        order = left_align(attention_mask)
        index = order.unsqueeze(-1).expand(-1, -1, embeds.shape[-1])
        embeds = embeds.gather(1, index)
        mask = attention_mask.bool().gather(1, order).long()
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        out = self.model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions)
        last = out.last_hidden_state[:, -1]  # left-padded: the last column is the last token
        logits: Tensor = self.head(self.dropout(last))
        return logits


def build(
    config: DecoderFinetuneConfig, vocab_size: int, num_classes: int, pad_id: int
) -> DecoderClassifier:
    """Load the decoder with a new num_classes head, frozen as the config says. vocab_size must
    not exceed the model's table: ids come from its own tokenizer."""
    source = resolve_source(config.folder)
    model = load_decoder(source)
    table = int(model.get_input_embeddings().num_embeddings)
    if vocab_size > table:
        raise EngineError(
            f"the tokenizer has {vocab_size} tokens but the model's table has {table}",
            hint="encode with the model's own tokenizer"
            + (" (smollm2-bpe)" if source.gguf else f", {source.folder / TOKENIZER_FILE}"),
        )
    if getattr(model.config, "pad_token_id", None) is None:  # none of its own: end-of-sequence
        eos = getattr(model.config, "eos_token_id", None)
        model.config.pad_token_id = (eos[0] if isinstance(eos, list) else eos) or pad_id
    freeze(model, config.freeze_embeddings, config.trainable_layers)
    log.info("loaded decoder %s for %d classes", source.name, num_classes)
    return DecoderClassifier(model, source, num_classes, float(config.dropout))
