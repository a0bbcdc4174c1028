"""Starting a model's token table from static word vectors (GloVe and the like)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from engine.core.errors import EngineError

# words -> (vectors [len(words), dim], found per word); rows of words not found are ignored
VectorLookup = Callable[[list[str]], tuple[np.ndarray, list[bool]]]


def init_embedding(
    embedding: nn.Embedding | nn.EmbeddingBag,
    vocab: list[str],
    lookup: VectorLookup,
    freeze: bool,
) -> int:
    """Copy the vector of every token of vocab (index = token id) that lookup finds into its
    row of the embedding, and return how many rows were copied. Tokens not found and the
    padding row keep their values. freeze=True stops the whole table from training.

    EngineError when vocab and the table differ in size or the vectors in width."""
    rows, dim = embedding.weight.shape
    if len(vocab) != rows:
        raise EngineError(
            f"the vocabulary has {len(vocab)} tokens but the embedding has {rows} rows",
            hint="build the model with the same tokenizer as the vocabulary",
        )
    vectors, found = lookup(list(vocab))
    vectors = np.asarray(vectors)
    if len(found) != rows or vectors.ndim != 2 or vectors.shape[0] != rows:
        raise EngineError(
            f"the vector lookup answered {vectors.shape[0] if vectors.ndim else 0} rows "
            f"for {rows} tokens"
        )
    if vectors.shape[1] != dim:
        raise EngineError(
            f"the vectors have {vectors.shape[1]} dimensions but the embedding has {dim}",
            hint=f"set the model's embedding size to {vectors.shape[1]}",
        )
    keep = np.asarray(found, dtype=bool)
    padding_idx = embedding.padding_idx
    if padding_idx is not None:
        keep[padding_idx] = False  # the padding row stays zero
    index = torch.from_numpy(np.flatnonzero(keep)).to(embedding.weight.device)
    with torch.no_grad():
        values = torch.from_numpy(np.ascontiguousarray(vectors[keep], dtype=np.float32))
        embedding.weight[index] = values.to(embedding.weight.device, embedding.weight.dtype)
    embedding.weight.requires_grad_(not freeze)
    return int(keep.sum())
