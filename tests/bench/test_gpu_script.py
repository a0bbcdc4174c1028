"""bench/gpu.sh, the GPU readiness script (issue 14), in its CPU smoke mode.

`bash bench/gpu.sh --smoke` runs every part (trainer comparison, MFU, OOM guard, DDP under
torchrun) on the CPU at tiny sizes and prints one table: each part must have its rows, marked CPU,
and none may FAIL. About 25 s on 2 quiet cores (imports are most of it). No figure is asserted:
those of so few CPU steps mean nothing. The pieces with arithmetic are checked on their own.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("trainer", "mfu", "oom", "ddp")


def table_rows(out: str) -> list[list[str]]:
    """The table's rows (part, figure, status, value); detail lines are indented, skipped."""
    lines = out.splitlines()
    head = next(
        i for i, line in enumerate(lines) if line.startswith("part ") and "| figure" in line
    )
    return [
        [c.strip() for c in line.split(" | ")]
        for line in lines[head + 2 :]
        if line and not line.startswith(" ") and " | " in line
    ]


@pytest.mark.timeout(300)
def test_the_smoke_run_prints_every_row_marked_cpu(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("WB_PYTHON", None)
    proc = subprocess.run(
        ["bash", "bench/gpu.sh", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NO CUDA GPU" in out or "--smoke: the CPU variant" in out
    rows = table_rows(out)
    assert all(len(r) == 4 for r in rows), rows
    by_part = {p: [r for r in rows if r[0] == p] for p in PARTS}
    hf_ok = importlib.util.find_spec("accelerate") is not None  # HF's Trainer needs it
    for part, found in by_part.items():
        assert found, f"no {part} row in:\n{out}"
        for _, figure, status, value in found:
            if not hf_ok and figure.startswith("HF Trainer"):
                assert status == "FAIL"
                continue
            assert status == "CPU", f"{part}: {figure}: {status} {value}\n{proc.stderr}"
    assert len(by_part["trainer"]) == 3  # ours, HF default, HF group_by_length
    assert "MFU blank (CPU)" in by_part["mfu"][0][3]
    assert "halved" in by_part["oom"][0][3] and "completed" in by_part["oom"][0][3]
    assert {r[1].split(",")[0] for r in by_part["ddp"]} == {
        "gloo all_reduce",
        "DDP step (tiny MLP)",
    }


def test_peaks_and_flops_per_token() -> None:
    from bench.gpu_bench import BERT_BASE, flops_per_token, peak_tflops

    assert peak_tflops("NVIDIA H200") == pytest.approx(989.4)
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0  # before the plain H100 (SXM) entry
    assert peak_tflops("NVIDIA H100 80GB HBM3") == pytest.approx(989.4)
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_tflops("Some Future GPU") is None
    # 6 N + 12 L d T: BERT-base's 85.6M parameters outside its tables, sequence 128
    n = 85_648_130
    assert flops_per_token(BERT_BASE, 128, n) == 6 * n + 12 * 12 * 768 * 128


def test_matmul_params_leave_out_the_embedding_tables() -> None:
    from bench.gpu_bench import TINY, bert_classifier, matmul_params
    from engine.models.pretrained import PretrainedClassifier

    model = PretrainedClassifier(bert_classifier(TINY), Path("."), pad_id=0)
    e = model.model.bert.embeddings
    tables = (
        e.word_embeddings.weight.numel()
        + e.position_embeddings.weight.numel()
        + e.token_type_embeddings.weight.numel()
    )
    assert matmul_params(model) == sum(p.numel() for p in model.parameters()) - tables


def test_a_part_that_raises_gives_a_fail_row(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import bench.gpu_bench as gb

    def broken(s: gb.Setting) -> list[gb.Row]:
        raise RuntimeError("no such GPU")

    monkeypatch.setattr(gb, "mfu_part", broken)
    (r,) = gb.run_part("mfu", gb.Setting(True, False, torch.device("cpu")))
    assert (r.part, r.status) == ("mfu", "FAIL")
    assert r.detail == "RuntimeError: no such GPU"
    assert table_rows(gb.table([r])) == [["mfu", "mfu", "FAIL", ""]]
    assert "RuntimeError: no such GPU" in gb.table([r])
