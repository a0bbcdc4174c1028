"""Checkpoints: safetensors for tensors, JSON for the rest, never pickle; written atomically.

A checkpoint is a folder ckpt-<step> holding model.safetensors, optimizer.safetensors +
optimizer.json, scheduler.json, rng.safetensors + rng.json and state.json. It is written as
ckpt-<step>.tmp and renamed when complete, so a folder named ckpt-<step> is always whole; a crash
mid-write leaves only a .tmp folder that the next save removes. last.json and best.json point at
checkpoints and are replaced atomically too.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from engine.core.errors import EngineError

LAST = "last.json"
BEST = "best.json"
_NAME = re.compile(r"^ckpt-(\d+)$")
_TENSOR = "__tensor__"


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    state: dict[str, Any],
    keep_last: int = 2,
    best: bool = False,
) -> Path:
    """Write ckpt-<state['step']> under folder, point last.json (and best.json if best) at it,
    and keep only the newest keep_last checkpoints besides the best. Returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    final = folder / f"ckpt-{step}"
    tmp = folder / f"ckpt-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _write_model(tmp, model)
    _write_optimizer(tmp, optimizer)
    write_json(tmp / "scheduler.json", scheduler.state_dict() if scheduler is not None else None)
    _write_rng(tmp)
    write_json(tmp / "state.json", state)
    _fsync(tmp)
    if final.exists():  # the same step saved again: move the old one aside, then swap
        old = folder / f"ckpt-{step}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync(folder, files=False)
    write_json(folder / LAST, {"checkpoint": final.name, "step": step})
    if best:
        write_json(folder / BEST, {"checkpoint": final.name, "step": step})
    prune_checkpoints(folder, keep_last)
    return final


def save_fitted(folder: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
    """A fitted model (no optimizer: scikit-learn's regression as tensors) as ckpt-<step>,
    the run's last and best, so that prediction, attacks and export find it as any other."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    final, tmp = folder / f"ckpt-{step}", folder / f"ckpt-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"))
    write_json(tmp / "state.json", state)
    _fsync(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _fsync(folder, files=False)
    for pointer in (LAST, BEST):
        write_json(folder / pointer, {"checkpoint": final.name, "step": step})
    return final


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint into model (and optimizer, scheduler, global RNGs); return its state.

    path is a ckpt-<step> folder, or a checkpoints folder (its last checkpoint is loaded).
    """
    ckpt = resolve_checkpoint(Path(path))
    try:
        missing, unexpected = load_model(model, str(ckpt / "model.safetensors"), strict=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise EngineError(f"checkpoint {ckpt.name} does not fit this model: {exc}") from exc
    if missing or unexpected:
        raise EngineError(
            f"checkpoint {ckpt.name} does not fit this model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}",
            hint="resume with the model the run was started with",
        )
    if optimizer is not None:
        optimizer.load_state_dict(_read_optimizer(ckpt))
    if scheduler is not None:
        saved = _read_json(ckpt / "scheduler.json")
        if saved is not None:
            scheduler.load_state_dict(saved)
    if restore_rng:
        _read_rng(ckpt)
    state = _read_json(ckpt / "state.json")
    state["checkpoint"] = str(ckpt)
    return state  # type: ignore[no-any-return]


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under folder as (step, path), oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def resolve_checkpoint(path: Path, which: str = "last") -> Path:
    """The checkpoint folder that path names: itself, its last/best pointer, or its newest."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    pointer = path / (BEST if which == "best" else LAST)
    if pointer.is_file():
        try:
            target = path / str(json.loads(pointer.read_text())["checkpoint"])
        except (ValueError, KeyError, TypeError):
            target = path / "missing"
        if (target / "state.json").is_file():
            return target
    found = list_checkpoints(path)
    if which == "last" and found:
        return found[-1][1]
    raise EngineError(
        f"no {which} checkpoint in {path}", hint="start the run afresh", code="not_found"
    )


def checkpoint_step(path: Path) -> int:
    """The step a ckpt-<step> folder was saved at."""
    found = _NAME.match(Path(path).name)
    if found is None:
        raise EngineError(f"{path} is not a checkpoint folder")
    return int(found.group(1))


def best_or_last(folder: Path) -> Path:
    """The best checkpoint under a checkpoints folder, else its last complete one."""
    try:
        return resolve_checkpoint(folder, "best")
    except EngineError:
        return resolve_checkpoint(folder, "last")


def prune_checkpoints(folder: Path, keep_last: int) -> None:
    """Remove all but the newest keep_last checkpoints, the best and the last; drop leftovers."""
    keep = {p.name for _, p in list_checkpoints(folder)[-max(1, keep_last) :]}
    for pointer in (LAST, BEST):
        try:
            keep.add(str(json.loads((folder / pointer).read_text())["checkpoint"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    for p in folder.iterdir():
        stale = p.is_dir() and p.name.startswith("ckpt-") and p.name not in keep
        if stale:
            shutil.rmtree(p, ignore_errors=True)


# --- model


def _write_model(folder: Path, model: torch.nn.Module) -> None:
    # save_model drops duplicate names of shared (tied) tensors and load_model restores them.
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})


# --- optimizer: tensors flattened to "state.<param>.<name>", everything else JSON


def _write_optimizer(folder: Path, optimizer: torch.optim.Optimizer) -> None:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, dict[str, Any]] = {}
    for pid, entries in sd["state"].items():
        out: dict[str, Any] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                key = f"state.{pid}.{name}"
                tensors[key] = value.detach().to("cpu").contiguous().clone()
                out[name] = {_TENSOR: key}
            else:
                out[name] = value
        state[str(pid)] = out
    save_file(tensors, str(folder / "optimizer.safetensors"))
    write_json(folder / "optimizer.json", {"state": state, "param_groups": sd["param_groups"]})


def _read_optimizer(folder: Path) -> dict[str, Any]:
    tensors = load_file(str(folder / "optimizer.safetensors"))
    meta = _read_json(folder / "optimizer.json")
    state: dict[int, dict[str, Any]] = {}
    for pid, entries in meta["state"].items():
        state[int(pid)] = {
            name: tensors[v[_TENSOR]] if isinstance(v, dict) and _TENSOR in v else v
            for name, v in entries.items()
        }
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in meta["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


# --- random number generators


def _write_rng(folder: Path) -> None:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    if torch.backends.mps.is_available():
        tensors["mps"] = torch.mps.get_rng_state()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "rng.safetensors"))
    np_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    write_json(
        folder / "rng.json",
        {
            "numpy": {
                "bit_generator": np_state["bit_generator"],
                "key": np_state["state"]["key"].tolist(),
                "pos": int(np_state["state"]["pos"]),
                "has_gauss": int(np_state["has_gauss"]),
                "gauss": float(np_state["gauss"]),
            },
            "python": {"version": version, "internal": list(internal), "gauss": gauss},
        },
    )


def _read_rng(folder: Path) -> None:
    tensors = load_file(str(folder / "rng.safetensors"))
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("cuda.")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if "mps" in tensors and torch.backends.mps.is_available():
        torch.mps.set_rng_state(tensors["mps"])
    saved = _read_json(folder / "rng.json")
    n = saved["numpy"]
    np.random.set_state(
        {
            "bit_generator": n["bit_generator"],
            "state": {"key": np.asarray(n["key"], dtype=np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    p = saved["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


# --- files


def write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, allow_nan=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"checkpoint file {path} cannot be read: {exc}") from exc


def _fsync(folder: Path, files: bool = True) -> None:
    """Flush a folder (and its files) to disk, so a rename never exposes unwritten data."""
    paths = [p for p in folder.iterdir() if p.is_file()] if files else []
    for p in [*paths, folder]:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:  # folders cannot be opened on some systems
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
