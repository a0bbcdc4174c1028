"""`workbench doctor`: what the engine's machine can train on, read where the engine runs (it
may be another machine than the one asking). Every probe that fails says why in `problems`
instead of failing the call: a doctor that crashes on a broken CUDA install is no help."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from engine import protocol as P
from engine.core.device import cpu_has_bf16

log = logging.getLogger("engine.doctor")

# the environment that changes which device a run gets and how it runs there
ENV_NAMES = (
    "CUDA_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "NCCL_DEBUG",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORKBENCH_HOME",
)


def diagnose() -> P.DoctorResult:
    """The engine's machine, its devices, and the device a run would get, with the reason."""
    import torch

    problems: list[str] = []
    gpus = _gpus(torch, problems)
    driver, nvml = _nvml(bool(gpus))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if gpus:
        picked, why = "cuda", f"CUDA is available: {gpus[0].name} is device 0"
    elif mps:
        picked, why = "mps", "no CUDA device; Apple's MPS is available"
    else:
        picked, why = "cpu", "no CUDA or MPS device is available"
        if torch.version.cuda is None:
            why += " (this torch is a CPU build)"
        elif os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
            why += " (CUDA_VISIBLE_DEVICES is empty)"
    if gpus and nvml != "available":
        problems.append(f"NVML: {nvml}; the status bar shows no GPU utilisation")
    total, available = _memory()
    dist = torch.distributed
    backends = [
        name
        for name in ("gloo", "nccl", "mpi")
        if dist.is_available() and bool(getattr(dist, f"is_{name}_available", lambda: False)())
    ]
    if len(gpus) > 1 and "nccl" not in backends:
        problems.append("several GPUs but no NCCL: distributed runs fall back to gloo")
    torchrun = Path(sys.executable).with_name("torchrun")
    found = str(torchrun) if torchrun.is_file() else (shutil.which("torchrun") or "")
    if not found:
        problems.append("torchrun is not beside the engine's python: runs with devices > 1 fail")
    return P.DoctorResult(
        host=socket.gethostname(),
        python=platform.python_version(),
        torch=str(torch.__version__),
        picked=picked,
        picked_why=why,
        cuda_available=bool(gpus),
        cuda_version=str(torch.version.cuda or ""),
        cudnn_version=_cudnn(torch),
        driver_version=driver,
        nvml=nvml,
        gpus=gpus,
        mps_available=mps,
        cpu_count=os.cpu_count() or 0,
        threads=int(torch.get_num_threads()),
        bf16_cpu=cpu_has_bf16(),
        memory_total=total,
        memory_available=available,
        distributed=backends,
        torchrun=found,
        env={name: os.environ[name] for name in ENV_NAMES if name in os.environ},
        problems=problems,
    )


def _gpus(torch: Any, problems: list[str]) -> list[P.GpuInfo]:
    try:
        if not torch.cuda.is_available():
            return []
        out = []
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            free, total = torch.cuda.mem_get_info(i)
            out.append(
                P.GpuInfo(
                    index=i,
                    name=str(torch.cuda.get_device_name(i)),
                    capability=f"{major}.{minor}",
                    memory_total=int(total),
                    memory_free=int(free),
                    bf16=major >= 8,  # Ampere and later compute bf16 natively
                    fp16=major >= 6,
                )
            )
        return out
    except Exception as exc:  # a broken driver: say so, keep going
        problems.append(f"CUDA is installed but fails: {str(exc)[:300]}")
        return []


def _nvml(has_gpu: bool) -> tuple[str, str]:
    """(the driver version, "available" or why NVML cannot be read)."""
    try:
        import pynvml
    except ImportError:
        return "", "pynvml is not installed" if has_gpu else "not needed without a GPU"
    try:
        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return (version.decode() if isinstance(version, bytes) else str(version)), "available"
    except Exception as exc:
        return "", f"NVML does not start: {str(exc)[:200]}"


def _cudnn(torch: Any) -> str:
    try:
        version = torch.backends.cudnn.version()
    except Exception:
        return ""
    return str(version) if version else ""


def _memory() -> tuple[int, int]:
    info: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return info.get("MemTotal", 0), info.get("MemAvailable", 0)
