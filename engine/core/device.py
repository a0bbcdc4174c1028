"""The best device present (CUDA, else MPS, else CPU) and how busy it is.

torch is imported in a background thread after the socket is up, so the
engine answers its first client before torch has finished loading.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from engine import protocol as P

log = logging.getLogger("engine.device")


def best_device() -> Any:
    """The torch.device runs train on: CUDA, else MPS, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def free_memory(kind: str) -> int | None:
    """Bytes free for a training step on this kind of device: the GPU's free memory, or the
    memory the system can still give (MemAvailable); None where it cannot be told (MPS)."""
    if kind == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    if kind == "cpu":
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def device_features(kind: str) -> list[str]:
    """What the device and this torch build offer a run: the device kind, bf16/fp16 where it
    computes them natively, and the torch.distributed backends present."""
    import torch

    out = [kind]
    if kind == "cuda":
        out.append("fp16")
        if torch.cuda.is_bf16_supported():
            out.append("bf16")
    elif kind == "cpu" and cpu_has_bf16():
        out.append("bf16")
    dist = torch.distributed
    if dist.is_available():
        out += [name for name in ("gloo", "nccl", "mpi") if _backend(dist, name)]
    return out


def _backend(dist: Any, name: str) -> bool:
    probe = getattr(dist, f"is_{name}_available", None)
    return bool(probe()) if callable(probe) else False


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


class DeviceMonitor:
    """Detects the device once, then samples its memory and utilisation on demand."""

    def __init__(self) -> None:
        self.kind: str = "unknown"
        self.name: str = "detecting device"
        self.ready = threading.Event()
        self._nvml: Any = None
        self._nvml_handle: Any = None
        self._cpu_prev: tuple[int, int] | None = None
        self._torch: Any = None
        self.features: list[str] = []  # bf16, fp16, gloo, nccl: what runs can ask of it

    def detect_in_background(self) -> None:
        threading.Thread(target=self.detect, name="device-detect", daemon=True).start()

    def detect(self) -> None:
        try:
            import torch

            self._torch = torch
            if torch.cuda.is_available():
                self.kind = "cuda"
                self.name = torch.cuda.get_device_name(0)
                self._open_nvml()
            elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                self.kind = "mps"
                self.name = "Apple GPU (MPS)"
            else:
                self.kind = "cpu"
                self.name = f"CPU ({os.cpu_count()} cores, torch {torch.__version__})"
        except Exception as exc:  # torch broken: the data side still works
            log.error("device detection failed: %s", exc)
            self.kind, self.name = "cpu", f"CPU (torch unavailable: {exc})"
        try:
            self.features = device_features(self.kind)
        except Exception as exc:
            log.info("device features unknown: %s", exc)
        finally:
            self.ready.set()
            log.info("device: %s (%s)", self.name, self.kind)

    def _open_nvml(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._nvml_handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as exc:
            log.info("NVML unavailable (%s): no utilisation figures", exc)

    def sample(self) -> P.DeviceInfo:
        kind = self.kind if self.kind in ("cuda", "mps", "cpu") else "unknown"
        if kind == "cuda":
            return self._sample_cuda()
        used, total = _system_memory()
        util = self._cpu_utilisation()
        detail = "system memory" if kind != "unknown" else "loading torch"
        if kind == "mps" and self._torch is not None:
            try:
                used = int(self._torch.mps.driver_allocated_memory())
                detail = "MPS driver memory"
            except Exception:
                pass
        return P.DeviceInfo(
            name=self.name,
            kind=kind,  # type: ignore[arg-type]
            memory_used=used,
            memory_total=total,
            utilisation=util,
            detail=detail,
        )

    def _sample_cuda(self) -> P.DeviceInfo:
        used = total = 0
        util: float | None = None
        if self._nvml is not None:
            try:
                mem = self._nvml.nvmlDeviceGetMemoryInfo(self._nvml_handle)
                used, total = int(mem.used), int(mem.total)
                util = float(self._nvml.nvmlDeviceGetUtilizationRates(self._nvml_handle).gpu)
            except Exception:
                pass
        if total == 0 and self._torch is not None:
            free, total = self._torch.cuda.mem_get_info(0)
            used = total - free
        return P.DeviceInfo(
            name=self.name, kind="cuda", memory_used=used, memory_total=total, utilisation=util
        )

    def _cpu_utilisation(self) -> float | None:
        """Whole-machine CPU busy percent since the previous sample (/proc/stat)."""
        try:
            with open("/proc/stat") as fh:
                fields = [int(x) for x in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        total = sum(fields)
        prev, self._cpu_prev = self._cpu_prev, (idle, total)
        if prev is None or total == prev[1]:
            return None
        return round(100.0 * (1 - (idle - prev[0]) / (total - prev[1])), 1)


def _system_memory() -> tuple[int, int]:
    try:
        info: dict[str, int] = {}
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        total = info["MemTotal"]
        return total - info.get("MemAvailable", info.get("MemFree", 0)), total
    except (OSError, KeyError, ValueError):
        try:
            pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            return 0, int(pages)
        except (ValueError, OSError):
            return 0, 0
