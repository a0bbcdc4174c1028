"""The `workbench` command run as a user runs it, against a test's engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers.engine import ROOT, RunningEngine


def wb(engine: RunningEngine, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "--home", engine.home.root, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def wb_json(engine: RunningEngine, *args: str) -> Any:
    out = wb(engine, *args, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def wb_in(folder: Path, engine: RunningEngine, *args: str) -> subprocess.CompletedProcess[str]:
    """`workbench` run from folder (its relative paths mean that folder)."""
    return subprocess.run(
        [sys.executable, "-m", "workbench", "--home", engine.home.root, *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
