"""The model under attack, as every recipe sees it: class probabilities of texts (batched: a
search step's candidates go through in one forward pass), and, when the model has the
embeddings door, its token table, its vectors and logits of vectors.

A victim is one trained classifier (a run, a model folder) or an ensemble of runs with the same
classes voting by their averaged probabilities (black-box recipes only: an ensemble has no one
embedding table). It counts every text it classifies in `queries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from engine.core.errors import EngineError
from engine.models import service as models


@dataclass(frozen=True)
class Encoded:
    """A text as the model reads it: ids (cut to what it reads), each token's character span
    in the text, and which tokens are specials ([CLS], [SEP]: never attacked)."""

    ids: list[int]
    spans: list[tuple[int, int]]
    special: list[bool]
    tokens: list[str]


class Victim:
    """One classifier or an ensemble; members are (trained model, tokens it reads)."""

    def __init__(self, members: Sequence[tuple[models.TrainedModel, int]], description: str):
        if not members:
            raise EngineError("an attack needs a model")
        labels = list(members[0][0].run.labels)
        for trained, _ in members[1:]:
            if list(trained.run.labels) != labels:
                raise EngineError(
                    f"{trained.run.description} has other classes than "
                    f"{members[0][0].run.description}, so they cannot vote together",
                    hint="an ensemble's runs must share their classes, in order",
                )
        self.members = list(members)
        self.labels = labels
        self.description = description
        self.queries = 0  # texts classified since made (recipes read differences)
        first = members[0][0]
        self.trained = first
        self.reads = members[0][1]
        fit = first.spec.trained_by == "fit"
        # a fitted head reads its encoder's own tokens; every other model its run's tokenizer
        self.tokenizer: Any = (
            getattr(first.model, "tokenizer", None) if fit else None
        ) or first.run.tokenizer
        self.limit = 10**9 if fit else models.read_limit(first, self.reads)
        if fit:
            self.limit = int(getattr(first.model, "max_len", 256) or 256)
        self.pad_id = int(
            getattr(first.model, "pad_id", first.run.pad_id) if fit else first.run.pad_id
        )

    # ---------------------------------------------------------------- black box

    @property
    def ensemble(self) -> bool:
        return len(self.members) > 1

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities [len(texts), classes]: each member's, averaged. Counts
        len(texts) queries."""
        self.queries += len(texts)
        if not texts:
            return np.zeros((0, len(self.labels)))
        total = np.zeros((len(texts), len(self.labels)))
        for trained, reads in self.members:
            total += models.class_probabilities(trained, list(texts), reads, batch_size=128)
        return total / len(self.members)

    def probabilities_of_ids(self, encoded: list[list[int]]) -> np.ndarray:
        """Probabilities of texts already encoded (one model only): counts queries too."""
        self.require_gradients("read token ids")
        self.queries += len(encoded)
        return models.probabilities_of_ids(self.trained, encoded, batch_size=128)

    # ---------------------------------------------------------------- white box

    @property
    def has_gradients(self) -> bool:
        """One model with the embeddings door (an ensemble has no one table)."""
        return not self.ensemble and callable(
            getattr(self.trained.model, "forward_embeddings", None)
        )

    def require_gradients(self, what: str) -> None:
        if self.ensemble:
            raise EngineError(
                f"an ensemble cannot {what}: its runs have no one embedding table",
                hint="attack an ensemble with a black-box recipe: wordsub or charedit",
            )
        if not self.has_gradients:
            raise EngineError(
                f"{self.description} has no embedding layer to {what} through",
                hint="black-box recipes apply to it: wordsub, charedit",
            )

    @property
    def model(self) -> Any:
        return self.trained.model

    def table(self) -> Tensor:
        """The token table [V, D] (detached)."""
        return self.model.input_embeddings().weight.detach()

    def embed(self, ids: Tensor) -> Tensor:
        return self.model.embed(ids)

    def logits_of_embeddings(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Logits [B, C] from vectors [B, T, D] (counts B queries)."""
        self.queries += int(embeds.shape[0])
        return self.model.forward_embeddings(embeds, mask)[:, : len(self.labels)]

    def encode(self, text: str) -> Encoded:
        """The text as the model reads it, cut to what it reads."""
        enc = self.tokenizer.encode(text)
        n = min(len(enc.ids), self.limit)
        return Encoded(
            ids=list(enc.ids[:n]),
            spans=[(int(a), int(b)) for a, b in enc.offsets[:n]],
            special=[bool(s) for s in enc.special_tokens_mask[:n]],
            tokens=list(enc.tokens[:n]),
        )

    def batch(self, encoded: Sequence[Encoded]) -> tuple[Tensor, Tensor]:
        """(ids [B, T], mask [B, T]) right-padded with the pad id."""
        width = max(1, max(len(e.ids) for e in encoded))
        ids = torch.full((len(encoded), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask[row, : len(e.ids)] = 1
        return ids, mask

    def special_ids(self) -> set[int]:
        """Ids a perturbation never becomes: the tokenizer's specials and padding."""
        out = {self.pad_id}
        for token in getattr(self.tokenizer, "get_added_tokens_decoder", dict)().values():
            if getattr(token, "special", False):
                out.add(self.tokenizer.token_to_id(token.content))
        return {i for i in out if i is not None}

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ids (specials left out): what a snapped or swapped sequence reads as."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def token_of(self, token_id: int) -> str:
        return str(self.tokenizer.id_to_token(int(token_id)))
