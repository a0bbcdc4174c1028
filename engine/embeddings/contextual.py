"""Contextual vectors from MiniLM: a word inside sentences, and whole sentences.

The model and its tokenizer load on first use (once, whichever thread asks first) from the asset
package's folder with local files only, and run in eval mode under inference_mode on CUDA when
present. A word's vector in a sentence is the mean of the last hidden states of the WordPiece
pieces covering its first whole-word occurrence; a sentence's vector is the attention-masked mean
of all its last hidden states, L2-normalised, as sentence-transformers' all-MiniLM-L6-v2 does.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.errors import EngineError

log = logging.getLogger("engine.embeddings")

MAX_SENTENCES = 64
MAX_TOKENS = 512  # MiniLM's position table; sentence-transformers itself cuts at 256
MAX_CHARS = 50_000  # characters tokenized per sentence: 512 tokens never need more
BATCH = 16  # sentences per forward pass, sorted by length so batches pad little
CUT_MARK = " …[cut: the model reads the first 512 tokens]"


@dataclass
class Encoded:
    """Sentences as the model read them."""

    texts: list[str]  # each sentence, cut where the model stopped reading (CUT_MARK added)
    tokens: list[list[str]]
    offsets: list[list[tuple[int, int]]]
    special: list[list[bool]]
    hidden: list[torch.Tensor]  # (tokens, dim) last hidden states, on the CPU
    truncated: list[bool]


class ContextualEncoder:
    """MiniLM behind a lazy, thread-safe load; forward passes may run from several threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")

    def load(self) -> None:
        """Load the model and tokenizer if not loaded yet (a few seconds the first time)."""
        with self._lock:
            if self._model is not None:
                return
            from tokenizers import Tokenizer
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging

            tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tokenizer.no_padding()  # the bundled file pads and cuts at 128
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # no weight-loading bar in the engine's stderr
            try:
                model = AutoModel.from_pretrained(
                    str(self.folder), local_files_only=True, trust_remote_code=False
                )
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
            model.eval().to(self.device)
            self._tokenizer = tokenizer
            self._model = model
            log.info("loaded MiniLM from %s on %s", self.folder, self.device)

    def encode(self, sentences: list[str]) -> Encoded:
        """Run the model over sentences (checked by check_sentences)."""
        self.load()
        clipped = [s[:MAX_CHARS] for s in sentences]
        encodings = self._tokenizer.encode_batch(clipped)
        hidden: list[torch.Tensor] = [torch.empty(0)] * len(sentences)
        order = sorted(range(len(sentences)), key=lambda i: len(encodings[i].ids))
        with torch.inference_mode():
            for start in range(0, len(order), BATCH):
                group = order[start : start + BATCH]
                width = max(len(encodings[i].ids) for i in group)
                ids = torch.zeros((len(group), width), dtype=torch.long)
                mask = torch.zeros((len(group), width), dtype=torch.long)
                for row, i in enumerate(group):
                    n = len(encodings[i].ids)
                    ids[row, :n] = torch.tensor(encodings[i].ids)
                    mask[row, :n] = 1
                out = (
                    self._model(
                        input_ids=ids.to(self.device),
                        attention_mask=mask.to(self.device),
                        token_type_ids=torch.zeros_like(ids).to(self.device),
                    )
                    .last_hidden_state.float()
                    .cpu()
                )
                for row, i in enumerate(group):
                    hidden[i] = out[row, : len(encodings[i].ids)]
        truncated = [
            bool(e.overflowing) or len(s) > MAX_CHARS
            for e, s in zip(encodings, sentences, strict=True)
        ]
        texts = [
            _read_part(s, e.offsets) + CUT_MARK if cut else s
            for s, e, cut in zip(sentences, encodings, truncated, strict=True)
        ]
        return Encoded(
            texts=texts,
            tokens=[list(e.tokens) for e in encodings],
            offsets=[list(e.offsets) for e in encodings],
            special=[[bool(m) for m in e.special_tokens_mask] for e in encodings],
            hidden=hidden,
            truncated=truncated,
        )

    def sentence_vectors(self, sentences: list[str]) -> tuple[np.ndarray, list[str]]:
        """(unit sentence vectors (n, dim), the sentences as read)."""
        enc = self.encode(sentences)
        # every token of the encoding is attended to (no padding inside it), specials included
        pooled = torch.stack([h.mean(dim=0) for h in enc.hidden])
        return torch.nn.functional.normalize(pooled, dim=1).numpy(), enc.texts

    def word_vectors(
        self, word: str, sentences: list[str]
    ) -> tuple[list[np.ndarray | None], list[list[str]], list[str]]:
        """(the word's vector in each sentence or None, the pieces averaged, the sentences as
        read). The first whole-word, case-insensitive occurrence counts."""
        enc = self.encode(sentences)
        pattern = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)
        vectors: list[np.ndarray | None] = []
        pieces: list[list[str]] = []
        for i, sentence in enumerate(sentences):
            match = pattern.search(sentence[:MAX_CHARS])
            rows = []
            if match is not None:
                lo, hi = match.span()
                rows = [
                    t
                    for t, (a, b) in enumerate(enc.offsets[i])
                    if not enc.special[i][t] and a < hi and b > lo
                ]
            if rows:  # no rows: absent, or past the part the model read
                vectors.append(enc.hidden[i][rows].mean(dim=0).numpy())
                pieces.append([enc.tokens[i][t] for t in rows])
            else:
                vectors.append(None)
                pieces.append([])
        return vectors, pieces, enc.texts


def _read_part(sentence: str, offsets: list[tuple[int, int]]) -> str:
    end = max((b for _, b in offsets), default=0)
    return sentence[:end]


def check_sentences(sentences: list[str]) -> None:
    """EngineError unless there are 1..64 sentences, none of them blank."""
    if not sentences:
        raise EngineError("no sentences given", hint="give at least one sentence")
    if len(sentences) > MAX_SENTENCES:
        raise EngineError(
            f"{len(sentences)} sentences given; at most {MAX_SENTENCES} at a time",
            hint="split them into several requests",
        )
    for i, s in enumerate(sentences, 1):
        if not s.strip():
            raise EngineError(f"sentence {i} is empty", hint="remove it or write a sentence")


def cosine_matrix(vectors: list[np.ndarray | None]) -> list[list[float]]:
    """Cosines between the vectors; rows and columns of a None are 0 (the vector is absent)."""
    n = len(vectors)
    out = [[0.0] * n for _ in range(n)]
    present = [i for i, v in enumerate(vectors) if v is not None]
    if not present:
        return out
    stacked = np.stack([vectors[i] for i in present]).astype(np.float64)  # type: ignore[misc]
    norms = np.linalg.norm(stacked, axis=1, keepdims=True)
    unit = stacked / np.where(norms == 0, 1.0, norms)
    sims = np.clip(unit @ unit.T, -1.0, 1.0)
    for a, i in enumerate(present):
        for b, j in enumerate(present):
            out[i][j] = float(sims[a, b])
    return out
