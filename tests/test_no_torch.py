"""The UI side (workbench/, screens/) must never import torch or transformers."""

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ["torch", "transformers", "datasets", "sklearn", "pyarrow", "tokenizers"]


def test_ui_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import workbench, workbench.app, workbench.cli, workbench.client, screens\n"
        "import screens.datasets, screens.dataset_import, screens.tokenizer\n"
        "import screens.tokenizer_dialogs, workbench.widgets.token_view, engine.protocol\n"
        "import screens.embeddings, workbench.cli_embeddings\n"
        "import screens.training, workbench.cli_runs, workbench.widgets.series\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"the UI imported: {out.stdout.strip()}"


def test_protocol_imports_only_msgspec() -> None:
    code = "import sys, engine.protocol; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
