"""Training on several processes (torchrun, DDP with gloo on the CPU): after every step the
ranks hold equal parameters, the loss curve is the one process's at the same global batch,
rank 0 alone reports and checkpoints, and a run stopped on two ranks resumes on one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.training.checkpoint import list_checkpoints

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tests/helpers/ddp_train.py"
TORCHRUN = Path(sys.executable).with_name("torchrun")

pytestmark = pytest.mark.skipif(not TORCHRUN.is_file(), reason="no torchrun beside python")


def train(out: Path, steps: int, ranks: int, resume: Path | None = None) -> dict:  # type: ignore[type-arg]
    out.mkdir(parents=True, exist_ok=True)
    tail = [str(out), str(steps)] + ([str(resume)] if resume else [])
    if ranks == 1:
        cmd = [sys.executable, str(SCRIPT), *tail]
    else:
        cmd = [str(TORCHRUN), "--standalone", f"--nproc-per-node={ranks}", str(SCRIPT), *tail]
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((out / "losses-0.json").read_text())  # type: ignore[no-any-return]


def params(out: Path, rank: int) -> dict[str, torch.Tensor]:
    return torch.load(out / f"params-{rank}.pt")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """24 steps in one process: what both tests compare against."""
    out = tmp_path_factory.mktemp("one")
    return out, train(out, 24, ranks=1)


def test_two_ranks_hold_equal_parameters_and_follow_one_process(
    tmp_path: Path,
    one_process: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    one_dir, one = one_process
    two = train(tmp_path / "two", 24, ranks=2)
    assert one["state"] == two["state"] == "completed"
    a, b = params(tmp_path / "two", 0), params(tmp_path / "two", 1)
    for name in a:
        assert torch.equal(a[name], b[name]), name  # the same model on every rank
    single = params(one_dir, 0)
    for name in a:  # the same global batch: the same training, to summation order
        assert torch.allclose(a[name], single[name], atol=1e-4), name
    assert len(two["losses"]) == 24
    assert two["losses"] == pytest.approx(one["losses"], abs=1e-4)
    # rank 0 alone reported and checkpointed
    assert json.loads((tmp_path / "two/losses-1.json").read_text())["steps"] == 0
    assert [s for s, _ in list_checkpoints(tmp_path / "two/run/checkpoints")][-1] == 24


def test_a_run_checkpointed_on_two_ranks_resumes_on_one(
    tmp_path: Path,
    one_process: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    train(tmp_path / "two", 16, ranks=2)
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "two", moved)
    resumed = train(moved, 24, ranks=1, resume=moved / "run")
    one_dir, straight = one_process
    assert resumed["state"] == "completed"
    assert resumed["losses"] == pytest.approx(straight["losses"][16:], abs=1e-4)
    a, b = params(moved, 0), params(one_dir, 0)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-4), name
