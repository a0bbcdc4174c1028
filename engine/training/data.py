"""Training examples, the order batches come in, and building padded batches off the train thread.

An epoch's batches are a pure function of (seed, epoch, lengths, batch size, token budget,
bucketing), so the data-order state is just (seed, epoch, position in the epoch's batch list):
a resumed run rebuilds the plan and skips to its position, and sees exactly the remaining batches.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from engine.core.batching import bucketed_batches, computed_positions, shuffled_batches
from engine.core.errors import EngineError


class TextExamples:
    """Token id lists, with integer labels for a classifier or without them for a language model.

    Stored flat (one int64 array and offsets), so a million texts cost two arrays, not a million
    Python lists.
    """

    def __init__(
        self,
        ids: Sequence[Sequence[int]] | Sequence[np.ndarray],
        labels: Sequence[int] | np.ndarray | None = None,
        pad_id: int = 0,
        label_names: Sequence[str] | None = None,
        pairs: bool = False,
    ) -> None:
        """pairs: each row is a sequence-to-sequence pair, source SEP target EOS
        (engine.models.seq2seq), and the examples' task is "seq2seq"."""
        if len(ids) == 0:
            raise EngineError("there are no examples to train on", hint="pick a non-empty split")
        rows = [np.asarray(r, dtype=np.int64).reshape(-1) for r in ids]
        self.lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.pad_id = int(pad_id)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1)
        self.label_names = list(label_names) if label_names is not None else None
        self.pairs = bool(pairs) and self.labels is None
        self._check()

    def _check(self) -> None:
        shortest = 1 if self.labels is not None else 2
        short = np.flatnonzero(self.lengths < shortest)
        if len(short):
            what = (
                "has no tokens" if shortest == 1 else "has fewer than 2 tokens (nothing to predict)"
            )
            raise EngineError(
                f"{len(short)} text(s) {what}; the first is row {int(short[0])}",
                hint="drop empty texts before training",
            )
        if len(self.flat) and int(self.flat.min()) < 0:
            raise EngineError("token ids must not be negative", hint="re-tokenize the texts")
        if self.labels is None:
            return
        if len(self.labels) != len(self.lengths):
            raise EngineError(
                f"{len(self.lengths)} texts but {len(self.labels)} labels",
                hint="give one label per text",
            )
        if int(self.labels.min()) < 0:
            raise EngineError("labels must be class numbers from 0", hint="encode the labels first")

    @property
    def task(self) -> str:
        """'classify' when the examples carry labels, 'seq2seq' for pairs, else 'lm'."""
        if self.labels is not None:
            return "classify"
        return "seq2seq" if self.pairs else "lm"

    @property
    def num_classes(self) -> int:
        """Classes named, or else one more than the largest label (0 for a language model)."""
        if self.labels is None:
            return 0
        named = len(self.label_names) if self.label_names else 0
        return max(named, int(self.labels.max()) + 1)

    def __len__(self) -> int:
        return len(self.lengths)

    def row(self, i: int) -> np.ndarray:
        """The token ids of example i."""
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    def fingerprint(self) -> str:
        """A short hash of lengths and labels: a resumed run refuses different data."""
        h = hashlib.sha256(self.lengths.tobytes())
        if self.labels is not None:
            h.update(self.labels.tobytes())
        return h.hexdigest()[:16]


@dataclass
class Batch:
    """A padded batch (right padding), rows sorted longest first."""

    input_ids: torch.Tensor  # [B, T] int64
    attention_mask: torch.Tensor  # [B, T] int64, 1 on real tokens
    labels: torch.Tensor | None  # [B] int64 for a classifier
    rows: np.ndarray  # example indices, in the batch's row order
    real_tokens: int

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def computed_tokens(self) -> int:
        """Positions the model computes: rows x the longest row."""
        return int(self.input_ids.numel())

    def to(self, device: torch.device) -> Batch:
        """The same batch on device (asynchronous copy when the source is pinned)."""
        nb = device.type == "cuda"
        return Batch(
            self.input_ids.to(device, non_blocking=nb),
            self.attention_mask.to(device, non_blocking=nb),
            None if self.labels is None else self.labels.to(device, non_blocking=nb),
            self.rows,
            self.real_tokens,
        )

    def split(self, parts: int) -> list[Batch]:
        """Cut into `parts` micro-batches of consecutive rows, each trimmed to its longest row."""
        parts = max(1, min(parts, self.size))
        if parts == 1:
            return [self]
        lengths = self.attention_mask.sum(dim=1)
        out = []
        for idx in np.array_split(np.arange(self.size), parts):
            lo, hi = int(idx[0]), int(idx[-1]) + 1
            width = int(lengths[lo:hi].max())
            out.append(
                Batch(
                    self.input_ids[lo:hi, :width],
                    self.attention_mask[lo:hi, :width],
                    None if self.labels is None else self.labels[lo:hi],
                    self.rows[lo:hi],
                    int(lengths[lo:hi].sum()),
                )
            )
        return out


def collate(examples: TextExamples, rows: np.ndarray, pin_memory: bool = False) -> Batch:
    """Pad rows to the batch's longest (right side), longest row first, with an attention mask."""
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[np.argsort(-examples.lengths[rows], kind="stable")]
    lengths = examples.lengths[rows]
    width = int(lengths[0])
    ids = np.full((len(rows), width), examples.pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, (r, n) in enumerate(zip(rows, lengths, strict=True)):
        ids[i, :n] = examples.row(int(r))
        mask[i, :n] = 1
    labels = None if examples.labels is None else torch.from_numpy(examples.labels[rows])
    batch = Batch(torch.from_numpy(ids), torch.from_numpy(mask), labels, rows, int(lengths.sum()))
    if pin_memory:
        batch.input_ids = batch.input_ids.pin_memory()
        batch.attention_mask = batch.attention_mask.pin_memory()
        if batch.labels is not None:
            batch.labels = batch.labels.pin_memory()
    return batch


def epoch_seed(seed: int, epoch: int) -> int:
    """An independent, reproducible seed for each epoch's order."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def split_to_budget(rows: np.ndarray, lengths: np.ndarray, token_budget: int) -> list[np.ndarray]:
    """Cut a batch so that rows x longest row stays within the budget in every piece."""
    rows = rows[np.argsort(-lengths[rows], kind="stable")]
    pieces, start = [], 0
    while start < len(rows):
        take = max(1, token_budget // int(lengths[rows[start]]))
        pieces.append(rows[start : start + take])
        start += take
    return pieces


def check_token_budget(lengths: np.ndarray, token_budget: int) -> None:
    """Refuse a budget that the longest text alone exceeds (a row cannot be split)."""
    longest = int(np.max(lengths)) if len(lengths) else 0
    if longest > token_budget:
        raise EngineError(
            f"the longest text has {longest} tokens, more than the token budget of "
            f"{token_budget} per batch",
            hint=f"raise the token budget to at least {longest} or truncate the texts",
        )


def plan_batches(
    lengths: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    bucketing: bool = True,
    token_budget: int | None = None,
) -> list[np.ndarray]:
    """The batches (row indices) of one epoch, in the order they are trained on."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if token_budget is not None:
        check_token_budget(lengths, token_budget)
    s = epoch_seed(seed, epoch)
    if bucketing:
        batches = bucketed_batches(lengths, batch_size, s, longest_first=True)
    else:
        batches = shuffled_batches(len(lengths), batch_size, s)
    if token_budget is not None:
        batches = [p for b in batches for p in split_to_budget(b, lengths, token_budget)]
    return batches


def padding_stats(lengths: np.ndarray, batches: list[np.ndarray]) -> tuple[int, int]:
    """(real tokens, computed tokens) when each batch is padded to its longest row."""
    real = sum(int(lengths[b].sum()) for b in batches)
    return real, computed_positions(lengths, batches)


@dataclass
class DataOrder:
    """Where training is in the data: the next batch is plan(seed, epoch)[position]."""

    seed: int
    epoch: int = 0
    position: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataOrder:
        return cls(int(data["seed"]), int(data["epoch"]), int(data["position"]))


_END = object()


class BatchPrefetcher:
    """Builds the padded batches of plan[start:] in a background thread, `depth` batches ahead.

    Iterating yields (position, batch). close() (or leaving the with-block) stops the thread
    promptly, also when the consumer stopped half way; an error in the thread is raised in the
    consumer.
    """

    def __init__(
        self,
        examples: TextExamples,
        plan: list[np.ndarray],
        start: int = 0,
        depth: int = 4,
        pin_memory: bool = False,
    ) -> None:
        self._examples = examples
        self._plan = plan
        self._start = start
        self._pin = pin_memory
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="train-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for position in range(self._start, len(self._plan)):
                if self._stop.is_set():
                    return
                batch = collate(self._examples, self._plan[position], self._pin)
                if not self._put((position, batch)):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[int, Batch]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread and drop what it built ahead."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> BatchPrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
