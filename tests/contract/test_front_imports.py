"""The front (workbench/, screens/) never imports torch, and takes nothing from the engine but
its contract: engine.protocol and engine.paths. Every module of the front is imported in a
fresh interpreter and what it loaded is checked."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import screens
import workbench
from tests.helpers.engine import ROOT

HEAVY = ["torch", "transformers", "datasets", "sklearn", "pyarrow", "tokenizers", "numpy"]
ENGINE_ALLOWED = ("engine", "engine.paths", "engine.protocol")


def front_modules() -> list[str]:
    out = []
    for package in (workbench, screens):
        out.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                out.append(info.name)
    return sorted(out)


def test_the_front_has_many_modules() -> None:
    found = front_modules()
    assert "workbench.app" in found and "screens.training" in found and len(found) > 25


def test_front_modules_import_no_torch_and_only_the_engine_contract() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {front_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "engine = sorted(m for m in sys.modules if m == 'engine' or m.startswith('engine.'))\n"
        "print(','.join(heavy))\n"
        "print(','.join(engine))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    heavy, engine = out.stdout.splitlines()
    assert heavy == "", f"the front imported: {heavy}"
    foreign = [
        m
        for m in engine.split(",")
        if m and m not in ENGINE_ALLOWED and not m.startswith("engine.protocol.")
    ]
    assert foreign == [], f"the front reached into the engine: {foreign}"


def test_protocol_imports_only_msgspec() -> None:
    code = "import sys, engine.protocol; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
