"""The benchmarks run without the test extras: no bench module imports pytest, hypothesis or
the tests package."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import bench
from tests.helpers.engine import ROOT


def test_bench_modules_need_no_test_extras() -> None:
    names = [i.name for i in pkgutil.iter_modules(bench.__path__, "bench.")]
    assert "bench.common" in names and "bench.train_bench" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(m for m in ('pytest', 'hypothesis', 'tests') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"bench imported: {out.stdout.strip()}"
