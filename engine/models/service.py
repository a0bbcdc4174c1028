"""What other domains use of the models: the architectures, building and sizing a model, its
settings as form fields, its token table (through the embeddings door) and starting it from
static vectors, and rebuilding a trained one from its run. Import from here, not from the
families' modules."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from engine import protocol as P
from engine.core import settings
from engine.models.explain import METHODS as EXPLAIN_METHODS
from engine.models.explain import check_method as check_explanation
from engine.models.explain import explain
from engine.models.explain import methods_for as explanation_methods
from engine.models.folders import folder_stamp, is_folder_name, load_folder
from engine.models.init import VectorLookup, init_embedding
from engine.models.loading import (
    TrainedModel,
    TrainedRun,
    class_probabilities,
    embedding_table,
    export_trained,
    load_trained,
    predict_texts,
    probabilities_of_ids,
    read_limit,
)
from engine.models.registry import (
    ARCHITECTURES,
    ArchSpec,
    Model,
    build_model,
    config_from_dict,
    describe,
    get_spec,
    memory_parts,
    param_counts,
    token_table,
)
from engine.models.seq2seq import (
    MAX_BEAM,
    Decoded,
    pair_targets,
    source_batch,
    sources_of,
    token_accuracy,
)
from engine.models.seq2seq import SPECIALS as SEQ2SEQ_SPECIALS
from engine.models.truncation import Truncation

__all__ = [
    "ARCHITECTURES",
    "EXPLAIN_METHODS",
    "MAX_BEAM",
    "SEQ2SEQ_SPECIALS",
    "ArchSpec",
    "Decoded",
    "Model",
    "TrainedModel",
    "TrainedRun",
    "Truncation",
    "VectorLookup",
    "architecture_infos",
    "build_model",
    "check_explanation",
    "class_probabilities",
    "config_from_dict",
    "describe",
    "embedding_table",
    "explain",
    "explanation_methods",
    "export_trained",
    "folder_stamp",
    "get_spec",
    "init_embedding",
    "is_folder_name",
    "load_folder",
    "load_trained",
    "memory_parts",
    "own_tokenizer_vocab",
    "pair_targets",
    "param_counts",
    "predict_texts",
    "probabilities_of_ids",
    "read_limit",
    "source_batch",
    "sources_of",
    "token_accuracy",
    "token_table",
]

# One line each, for the model builder's help on the [model] fields.
MODEL_HELP: dict[str, str] = {
    "embed_dim": "width of each token's vector",
    "mode": "how token vectors are pooled into one",
    "hidden_size": "width of the hidden state (0: no hidden layer)",
    "dropout": "share of activations zeroed while training (0 to 1)",
    "kernel_sizes": "convolution widths in tokens, e.g. 3, 4, 5",
    "channels": "filters per kernel size",
    "cell": "the recurrent cell",
    "num_layers": "stacked layers",
    "bidirectional": "read the text both ways",
    "attention_size": "width of the attention's scoring layer",
    "d_model": "width of the Transformer (divisible by num_heads)",
    "num_heads": "attention heads",
    "ff_size": "width of each feed-forward layer",
    "positions": "sinusoidal (fixed) or learned position embeddings",
    "pooling": "first position ([CLS]) or the mean over tokens",
    "max_len": "longest input the model takes, in tokens",
    "folder": "a Hugging Face model folder; empty for the bundled MiniLM",
    "freeze_embeddings": "keep the pretrained embeddings fixed",
    "trainable_layers": "top encoder layers that train: -1 all, 0 head only",
    "batch_size": "texts per forward pass",
    "C": "inverse regularisation strength of the logistic regression",
    "max_iter": "most solver iterations",
    "level": "the vocabulary built from the pairs: single characters, or words",
    "teacher_forcing": "chance of feeding the true previous token while training (0 to 1)",
    "beam_width": "outputs kept while decoding; 1 is greedy",
    "max_output": "most tokens an output may have",
}


def architecture_infos() -> list[P.ArchitectureInfo]:
    """Every architecture with its settings as form fields."""
    return [
        P.ArchitectureInfo(
            name=spec.name,
            task=spec.task,
            description=spec.description,
            settings=settings.specs(spec.config_class, MODEL_HELP, skip=spec.fixed),
            trained_by=spec.trained_by,
            pretrained_tokenizer=spec.pretrained_tokenizer,
            takes_vectors=not spec.pretrained_tokenizer and spec.trained_by != "fit",
        )
        for spec in ARCHITECTURES.values()
    ]


def own_tokenizer_vocab(arch: str, params: Mapping[str, Any]) -> dict[str, int] | None:
    """The vocabulary of the tokenizer a pretrained model must read ids from (its folder's
    own), or None when the architecture takes ids from any tokenizer (or encodes texts itself,
    as a feature extractor does)."""
    spec = get_spec(arch)
    if not spec.pretrained_tokenizer or spec.trained_by == "fit":
        return None
    if arch == "decoder-finetune":
        from engine.models.decoder import own_vocab, resolve_source

        return own_vocab(resolve_source(str(params.get("folder", "") or "")))
    from engine.models.pretrained import TOKENIZER_FILE, resolve_folder

    path = resolve_folder(str(params.get("folder", "") or "")) / TOKENIZER_FILE
    return _folder_vocab(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _folder_vocab(path: str, _mtime: int) -> dict[str, int]:
    """A model folder's tokenizer vocabulary, read once per version of the file."""
    from tokenizers import Tokenizer

    return dict(Tokenizer.from_file(path).get_vocab())
