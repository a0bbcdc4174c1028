"""Word neighbours for word substitution: the bundled GloVe 6B 50d vectors (the 65,000 most
frequent alphabetic words, as the TextAttack glovefooler anchor uses) or the model's own token
table (whole-word tokens only), by cosine similarity.

Each source is built once per process (GloVe) or per model (its table) and keeps the neighbours
of every word it was asked about; all words of a text are looked up in one matmul.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import torch
from torch import Tensor

from engine.attack.victim import Victim
from engine.core import assets
from engine.core.errors import EngineError

GLOVE_VOCAB = 65_000  # the anchor's vocabulary: most frequent alphabetic GloVe words
_TOP = 100  # neighbours kept per word: max_candidates is at most this


class Neighbours:
    """Unit vectors of a vocabulary with cached top-_TOP cosine neighbours per word."""

    def __init__(self, words: list[str], unit: Tensor, allowed: Tensor | None = None) -> None:
        self.words = words
        self.index = {w: i for i, w in enumerate(words) if w}
        self.unit = unit  # [V, D] float32, rows of length 1
        self.allowed = allowed  # [V] bool: which rows may be neighbours (None: all)
        self._cache: dict[str, tuple[list[str], list[float]]] = {}
        self._lock = threading.Lock()

    def key(self, word: str) -> str | None:
        """The vocabulary's spelling of word (lower case), or None when it has none."""
        for form in (word, word.lower()):
            if form in self.index:
                return form
        return None

    def lookup(self, words: list[str], k: int, min_cos: float) -> list[list[tuple[str, float]]]:
        """For each word, up to k neighbours (word, cosine) with cosine >= min_cos, nearest
        first ([] for a word the vocabulary lacks)."""
        keys = [self.key(w) for w in words]
        missing = sorted({q for q in keys if q is not None and q not in self._cache})
        if missing:
            rows = torch.tensor([self.index[q] for q in missing])
            sims = self.unit[rows] @ self.unit.T  # [n, V]
            sims[torch.arange(len(missing)), rows] = -2.0  # never the word itself
            if self.allowed is not None:
                sims[:, ~self.allowed] = -2.0
            top = sims.topk(min(_TOP, sims.shape[1] - 1), dim=1)
            with self._lock:
                for q, vals, ids in zip(
                    missing, top.values.tolist(), top.indices.tolist(), strict=True
                ):
                    self._cache[q] = ([self.words[i] for i in ids], vals)
        out: list[list[tuple[str, float]]] = []
        for q in keys:
            if q is None:
                out.append([])
                continue
            near, sims_q = self._cache[q]
            out.append([(w, s) for w, s in zip(near[:k], sims_q[:k], strict=True) if s >= min_cos])
        return out

    def cosine(self, a: str, b: str) -> float | None:
        """The cosine of two words (None when one is missing)."""
        ka, kb = self.key(a), self.key(b)
        if ka is None or kb is None:
            return None
        return float(self.unit[self.index[ka]] @ self.unit[self.index[kb]])


_glove: Neighbours | None = None
_glove_lock = threading.Lock()


def glove() -> Neighbours:
    """GloVe 6B 50d over its 65,000 most frequent alphabetic words (loaded once)."""
    global _glove
    with _glove_lock:
        if _glove is None:
            try:
                emb_path, words_path = assets.GLOVE_6B_50D.require("word substitution")
            except EngineError as exc:
                raise EngineError(
                    exc.message,
                    hint=(exc.hint + "; or " if exc.hint else "")
                    + "use neighbours=model for a model with an embedding layer, or charedit",
                    code=exc.code,
                ) from exc
            import pyarrow.parquet as pq

            all_words = pq.read_table(words_path, columns=["index"]).column(0).to_pylist()
            keep = [i for i, w in enumerate(all_words) if w.isascii() and w.isalpha()]
            keep = keep[:GLOVE_VOCAB]
            raw = np.load(emb_path, mmap_mode="r", allow_pickle=False)
            matrix = torch.from_numpy(np.ascontiguousarray(raw[keep], dtype=np.float32))
            unit = torch.nn.functional.normalize(matrix, dim=1)
            _glove = Neighbours([str(all_words[i]) for i in keep], unit)
        return _glove


_whole: dict[int, tuple[Any, Tensor]] = {}


def whole_word_tokens(victim: Victim) -> Tensor:
    """[V] bool: tokens that are whole alphabetic words (no '##' pieces, no specials), so a
    text holding one re-tokenizes to it. Kept per tokenizer."""
    tok = victim.tokenizer
    hit = _whole.get(id(tok))
    if hit is not None and hit[0] is tok:
        return hit[1]
    size = int(victim.table().shape[0])
    specials = victim.special_ids()
    mask = torch.zeros(size, dtype=torch.bool)
    for i in range(size):
        t = tok.id_to_token(i)
        if t and t.isascii() and t.isalpha() and i not in specials:
            mask[i] = True
    _whole[id(tok)] = (tok, mask)
    return mask


_model: weakref.WeakKeyDictionary[Any, Neighbours] = weakref.WeakKeyDictionary()


def model(victim: Victim) -> Neighbours:
    """The victim's token table as neighbours: whole-word tokens only (white box)."""
    victim.require_gradients("find word neighbours in its token table")
    hit = _model.get(victim.model)
    if hit is not None:
        return hit
    table = victim.table().float().cpu()
    unit = torch.nn.functional.normalize(table, dim=1)
    mask = whole_word_tokens(victim)
    words = [victim.token_of(i) if bool(mask[i]) else "" for i in range(len(unit))]
    out = Neighbours(words, unit, allowed=mask)
    _model[victim.model] = out
    return out


def source(victim: Victim, name: str) -> Neighbours:
    """The neighbours called name ("glove" or "model") for this victim."""
    if name == "glove":
        return glove()
    if name == "model":
        if not victim.has_gradients:
            raise EngineError(
                f"{victim.description} has no token table to take neighbours from",
                hint="use wordsub with neighbours=glove (the default), or charedit",
            )
        return model(victim)
    raise EngineError(f"there are no word neighbours called '{name}'", hint="glove or model")
