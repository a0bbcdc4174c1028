"""Data-parallel training across processes launched by torchrun (DistributedDataParallel):
nccl on CUDA, gloo on the CPU, in the nanoGPT pattern.

Every rank plans the same global batches (same seed) and trains on its share of each one:
rank r takes rows r, r + W, r + 2W ... of the batch, which is sorted longest first, so every
rank gets an equal share of the batch's tokens. Each rank's loss is divided by the global
batch's target count over W, so DDP's average of the ranks' gradients is exactly the gradient
of the global batch's mean loss; micro-batches before the last skip the gradient sync
(no_sync). Rank 0 alone reports, evaluates and checkpoints; between two batches it sends every
rank what happens next (stop, cancel, a learning rate, its own end), so they all stop and
pause together. A run with one process never gets here (world 1: nothing changes).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from engine.training.data import Batch

# a rank waits for rank 0 while it evaluates, checkpoints or is paused: as long as a pause
TIMEOUT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (from torchrun's environment)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls) -> World:
        try:
            return cls(
                int(os.environ.get("RANK", "0")),
                int(os.environ.get("WORLD_SIZE", "1")),
                int(os.environ.get("LOCAL_RANK", "0")),
            )
        except ValueError:
            return cls()

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: its own GPU (LOCAL_RANK) on CUDA, else the device as it is."""
        if self.parallel and device.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def start(self, device: torch.device) -> None:
        """Join the process group (once): nccl on CUDA, gloo elsewhere."""
        dist = torch.distributed
        if self.parallel and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=TIMEOUT)

    def shard(self, batch: Batch) -> Batch:
        """This rank's rows of a global batch (rows r, r + W, ...), trimmed to its longest;
        a batch with fewer rows than ranks gives the ranks past it its last row again."""
        if not self.parallel:
            return batch
        picked = list(range(self.rank, batch.size, self.size)) or [batch.size - 1]
        index = torch.tensor(picked, dtype=torch.long)
        mask = batch.attention_mask[index]
        lengths = mask.sum(dim=1)
        width = max(1, int(lengths.max()))
        return Batch(
            batch.input_ids[index, :width],
            mask[:, :width],
            None if batch.labels is None else batch.labels[index],
            batch.rows[picked],
            int(lengths.sum()),
        )

    def total(self, value: float, device: torch.device) -> float:
        """The sum of value over every rank."""
        if not self.parallel:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return float(t.item())

    def tell(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's values, on every rank."""
        if not self.parallel:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.broadcast(t, src=0)
        return [float(v) for v in t.tolist()]

    def wrap(self, model: torch.nn.Module, device: torch.device) -> Any:
        """The model as DDP, gradients averaged across the ranks on backward."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def stop(self) -> None:
        dist = torch.distributed
        if self.parallel and dist.is_initialized():
            # every rank leaves together: gloo could abort a rank whose peer had already torn
            # its group down ("terminate called without an active exception"); a rank that
            # failed instead is ended by torchrun, so this never waits on it for long
            with contextlib.suppress(Exception):
                dist.barrier()
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


@contextlib.contextmanager
def no_sync(forward: Any, sync: bool) -> Iterator[None]:
    """forward.no_sync() unless sync (the last micro-batch of a step syncs the gradients)."""
    if sync or not hasattr(forward, "no_sync"):
        yield
        return
    with forward.no_sync():
        yield
