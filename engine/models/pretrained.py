"""Fine-tuning a BERT-family encoder from a local folder, with a new classification head.

The folder (default: the bundled all-MiniLM-L6-v2) loads with AutoModelForSequenceClassification,
local files only, never remote code, SDPA attention where the model type has it. Its [CLS] head
is new and randomly initialised. freeze_embeddings and trainable_layers choose what trains: the
embeddings, the top trainable_layers encoder layers (-1: all of them), and always the pooler and
the head. Left padding is moved to the right (positions are absolute). The model must read ids
from the folder's own tokenizer (tokenizer_path); the bundled tokenizer.json pads and truncates
to 128 by itself, so encode with your own padding settings. export() writes a folder that
transformers.pipeline("text-classification", model=...) loads.

Embeddings door (engine.models.common): input_embeddings() is the model's word embeddings
(get_input_embeddings()), embed(ids) their rows (before the position and token-type embeddings,
LayerNorm and dropout the model adds), and forward_embeddings(embeds, mask) right-aligns the
vectors (right_align_embeddings) and hands them to the model as inputs_embeds. forward keeps
the model's own input_ids path, which some families need (RoBERTa counts positions from the
ids); for BERT-family models the two agree.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from engine.core import assets
from engine.core.errors import EngineError
from engine.models.common import (
    EmbeddingsDoor,
    check_bool,
    check_int,
    right_align,
    right_align_embeddings,
)

log = logging.getLogger("engine.models")

TOKENIZER_FILE = "tokenizer.json"


def resolve_folder(folder: str) -> Path:
    """The model folder a config names ("" is the bundled MiniLM); EngineError when it is not a
    Hugging Face model folder with a tokenizer.json."""
    if not folder:
        return assets.MINILM.require("the bundled MiniLM")[0].parent
    return model_folder(folder, "a folder written by save_pretrained", "MiniLM")


def model_folder(folder: str, kind: str, default: str) -> Path:
    """folder as a Hugging Face model folder with its own tokenizer.json; EngineError saying
    what is missing (kind: what to give instead; default: what an empty folder means)."""
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise EngineError(
            f"{path} is not a Hugging Face model folder (it has no config.json)",
            hint=f"give {kind}, or leave folder empty for {default}",
            code="not_found",
        )
    if not (path / TOKENIZER_FILE).is_file():
        raise EngineError(
            f"{path} has no {TOKENIZER_FILE}: the model must read ids from its own tokenizer",
            hint="save the folder's tokenizer with a fast tokenizer's save_pretrained",
            code="not_found",
        )
    return path


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or load reports from transformers in the engine's stderr."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(loader: Any, folder: Path, **kwargs: Any) -> Any:
    """loader.from_pretrained(folder) from local files only, SDPA attention when supported."""
    with quiet_transformers():
        try:
            return loader.from_pretrained(
                str(folder),
                local_files_only=True,
                trust_remote_code=False,
                attn_implementation="sdpa",
                **kwargs,
            )
        except (ValueError, ImportError):  # the model type has no SDPA path
            return loader.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=False, **kwargs
            )


@dataclass
class BertFinetuneConfig:
    folder: str = ""  # a save_pretrained folder; "" is the bundled MiniLM
    freeze_embeddings: bool = False
    trainable_layers: int = -1  # top encoder layers that train: -1 all, 0 none (head only)

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        if not isinstance(self.folder, str):
            raise EngineError(f"folder must be a path, got {self.folder!r}")
        check_bool("freeze_embeddings", self.freeze_embeddings)
        check_int("trainable_layers", self.trainable_layers, low=-1)
        resolve_folder(self.folder)


def encoder_parts(model: Any) -> tuple[nn.Module, nn.ModuleList]:
    """(embeddings, encoder layers) of a BERT-family model (BERT, RoBERTa, ELECTRA, MiniLM,
    DistilBERT); EngineError for model types laid out otherwise."""
    base = model.base_model
    encoder = getattr(base, "encoder", None)
    if encoder is None:  # DistilBERT's name for it
        encoder = getattr(base, "transformer", None)
    layers = getattr(encoder, "layer", None)
    embeddings = getattr(base, "embeddings", None)
    if not isinstance(layers, nn.ModuleList) or not isinstance(embeddings, nn.Module):
        raise EngineError(
            f"cannot find the embeddings and encoder layers of a '{model.config.model_type}' "
            "model, so parts of it cannot be frozen",
            hint="use trainable_layers -1 and freeze_embeddings false",
        )
    return embeddings, layers


def freeze(model: Any, freeze_embeddings: bool, trainable_layers: int) -> None:
    """Set requires_grad: everything trains except the embeddings (when freeze_embeddings) and
    the encoder layers below the top trainable_layers (-1: none frozen)."""
    for p in model.parameters():
        p.requires_grad_(True)
    if not freeze_embeddings and trainable_layers < 0:
        return
    embeddings, layers = encoder_parts(model)
    if trainable_layers > len(layers):
        raise EngineError(
            f"trainable_layers is {trainable_layers} but the model has {len(layers)} "
            "encoder layers",
            hint=f"use -1 (all) or a number from 0 to {len(layers)}",
        )
    if freeze_embeddings:
        embeddings.requires_grad_(False)
    if trainable_layers >= 0:
        for layer in layers[: len(layers) - trainable_layers]:
            layer.requires_grad_(False)


class PretrainedClassifier(EmbeddingsDoor):
    """A Hugging Face sequence classifier behind the workbench's forward: logits [B, C]."""

    task = "classify"

    def __init__(self, model: Any, folder: Path, pad_id: int) -> None:
        super().__init__()
        self.model = model
        self.folder = folder
        self.tokenizer_path = folder / TOKENIZER_FILE
        self.pad_id = pad_id
        self.max_len = int(getattr(model.config, "max_position_embeddings", 512))

    def input_embeddings(self) -> nn.Module:
        """The model's word embeddings (an nn.Embedding, .weight [V, hidden])."""
        table: nn.Module = self.model.get_input_embeddings()
        return table

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Word vectors [B, T, hidden] (as embed gives them) -> logits [B, C]."""
        embeds, mask, _ = right_align_embeddings(embeds, attention_mask)
        out = self.model(inputs_embeds=embeds, attention_mask=mask)
        logits: Tensor = out.logits
        return logits

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        # positions are absolute: right-aligning makes left padding read like right padding
        ids, mask, _ = right_align(input_ids, attention_mask)
        out = self.model(input_ids=ids, attention_mask=mask)
        logits: Tensor = out.logits
        return logits


def build(
    config: BertFinetuneConfig, vocab_size: int, num_classes: int, pad_id: int
) -> PretrainedClassifier:
    """Load the folder with a new num_classes head and freeze it as the config says.
    vocab_size must not exceed the model's table: ids come from the folder's tokenizer."""
    from transformers import AutoModelForSequenceClassification

    folder = resolve_folder(config.folder)
    model = load_pretrained(AutoModelForSequenceClassification, folder, num_labels=num_classes)
    table = int(model.get_input_embeddings().num_embeddings)
    if vocab_size > table:
        raise EngineError(
            f"the tokenizer has {vocab_size} tokens but the model's table has {table}",
            hint=f"encode with the model's own tokenizer, {folder / TOKENIZER_FILE}",
        )
    freeze(model, config.freeze_embeddings, config.trainable_layers)
    log.info("loaded %s for %d classes", folder, num_classes)
    return PretrainedClassifier(model, folder, pad_id)


def export(model: PretrainedClassifier, folder: Path, labels: list[str] | None = None) -> Path:
    """Write the model (safetensors) and its tokenizer to folder, so that
    transformers.pipeline("text-classification", model=folder) loads it offline. labels, when
    given, name the classes in id order."""
    from transformers import AutoTokenizer

    config = model.model.config
    if labels is not None:
        if len(labels) != config.num_labels:
            raise EngineError(
                f"{len(labels)} label names for a model of {config.num_labels} classes"
            )
        config.id2label = dict(enumerate(labels))
        config.label2id = {name: i for i, name in enumerate(labels)}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.model.save_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(
            str(model.folder), local_files_only=True, trust_remote_code=False
        )
        tokenizer.save_pretrained(str(folder))
    return folder
