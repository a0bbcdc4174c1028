"""The devices the device lane's jobs share: each job takes the devices it asks for, first come
first served, and waits (queued) while too few are free.

On CUDA every GPU is a device, so two one-GPU runs train at once on a machine with two, and a
run that asks for two waits until two are free. MPS is one device. The CPU is one device unless
WORKBENCH_CPU_RUNS says how many runs may train on it at once; a run on several CPU processes
(gloo) takes every CPU slot there is, as it uses every core.

Order is strict: a job waits behind every job submitted before it, even when it would fit now,
so a run that asks for many devices is never passed over for ever by small ones.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable

from engine.core.errors import Cancelled, EngineError

CPU_RUNS_ENV = "WORKBENCH_CPU_RUNS"
MAX_CPU_RUNS = 64


def device_slots() -> list[str]:
    """Every device this machine trains on: cuda:0 ... cuda:N-1, else mps, else the CPU's
    slots (cpu:0 ...; WORKBENCH_CPU_RUNS of them, 1 unless set)."""
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cuda:0"]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return ["mps"]
    return [f"cpu:{i}" for i in range(cpu_runs())]


def cpu_runs() -> int:
    """How many runs may train on the CPU at once (WORKBENCH_CPU_RUNS, 1 to 64; 1 when unset
    or not a number)."""
    raw = os.environ.get(CPU_RUNS_ENV, "").strip()
    try:
        value = int(raw) if raw else 1
    except ValueError:
        return 1
    return min(max(1, value), MAX_CPU_RUNS)


def visible_gpus(taken: list[str]) -> str | None:
    """CUDA_VISIBLE_DEVICES for a job holding these devices; None when they are not GPUs."""
    indices = [name.split(":", 1)[1] for name in taken if name.startswith("cuda:")]
    return ",".join(indices) if indices else None


class DevicePool:
    """Hands out devices to jobs in the order they were submitted (tickets)."""

    def __init__(self, inventory: Callable[[], list[str]] = device_slots) -> None:
        self._inventory = inventory
        self._devices: list[str] | None = None  # found on first use (it imports torch)
        self._busy: set[str] = set()
        self._queue: list[int] = []  # tickets waiting, oldest first
        self._tickets = itertools.count(1)
        self._lock = threading.Condition()

    @property
    def devices(self) -> list[str]:
        with self._lock:
            return list(self._all())

    def _all(self) -> list[str]:
        if self._devices is None:
            self._devices = list(self._inventory()) or ["cpu:0"]
        return self._devices

    def ticket(self) -> int:
        """A place in the queue, taken when the job is submitted."""
        with self._lock:
            ticket = next(self._tickets)
            self._queue.append(ticket)
            return ticket

    def need(self, asked: int) -> int:
        """The devices a job asking for `asked` takes here: on the CPU at most every slot (its
        processes share the cores); on a GPU machine more than it has is refused."""
        with self._lock:
            devices = self._all()
        asked = max(1, asked)
        if asked <= len(devices):
            return asked
        if devices[0].startswith("cpu"):
            return len(devices)
        raise EngineError(
            f"the run asks for {asked} devices and the engine's machine has {len(devices)} "
            f"({', '.join(devices)})",
            hint=f"set devices to at most {len(devices)}, or 0 for every one",
        )

    def acquire(
        self,
        ticket: int,
        need: int,
        cancelled: Callable[[], bool],
        waiting: Callable[[str], None] | None = None,
    ) -> list[str]:
        """The devices for this ticket, once it is first in the queue and `need` are free;
        Cancelled (its place given up) when cancelled() turns true while it waits."""
        told = False
        with self._lock:
            try:
                while True:
                    devices = self._all()
                    free = [d for d in devices if d not in self._busy]
                    if self._queue and self._queue[0] == ticket and len(free) >= need:
                        taken = free[:need]
                        self._busy.update(taken)
                        return taken
                    if cancelled():
                        raise Cancelled()
                    if waiting is not None and not told:
                        ahead = self._queue.index(ticket) if ticket in self._queue else 0
                        waiting(_waiting_message(need, len(free), len(devices), ahead))
                        told = True
                    self._lock.wait(0.2)
            finally:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._lock.notify_all()

    def release(self, taken: list[str]) -> None:
        with self._lock:
            self._busy.difference_update(taken)
            self._lock.notify_all()

    def forget(self, ticket: int) -> None:
        """Give up a ticket that will never acquire (its job ended before it started)."""
        with self._lock:
            if ticket in self._queue:
                self._queue.remove(ticket)
            self._lock.notify_all()

    def busy(self) -> list[str]:
        with self._lock:
            return sorted(self._busy)


def _waiting_message(need: int, free: int, total: int, ahead: int) -> str:
    wants = "a device" if need == 1 else f"{need} devices"
    if ahead:
        return f"waiting for {wants}: {ahead} job{'s' if ahead != 1 else ''} ahead"
    return f"waiting for {wants}: {total - free} of {total} in use"
