"""Language models over token ids (characters or words alike) and sampling from them.

Both models return logits [B, T, V] where position t predicts token t + 1; the trainer shifts
the targets and leaves padding positions out of the loss. LSTMLanguageModel is an LSTM read left
to right; TransformerLanguageModel is a small GPT-style decoder: learned positions, pre-LN
blocks (nn.TransformerEncoderLayer, which is a decoder-only block once the causal mask is on),
a causal mask and a padding mask. Under right padding (the trainer's) padding comes after every
real token, so causality alone keeps it out; other padding is right-aligned first and the
logits put back on the caller's positions. Logits at padding positions mean nothing. The
Transformer's blocks are engine.models.blocks.pre_ln_encoder, its LayerNorm after them.

Embeddings door (engine.models.common): input_embeddings() is the token table, embed(ids) its
rows (before positions and dropout), and forward_embeddings(embeds, mask) -> logits [B, T, V]
right-aligns non-right-padded vectors (right_align_embeddings) as forward does ids;
forward(ids, mask) is forward_embeddings(embed(ids), mask).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models.blocks import pre_ln_encoder
from engine.models.common import (
    EmbeddingsDoor,
    check_dropout,
    check_int,
    make_embedding,
    right_align_embeddings,
    scatter_back,
)
from engine.models.sampling import Sampling, check_top_p, distribution, pick
from engine.models.transformer import TransformerConfig


@dataclass
class LSTMLMConfig:
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.1  # on the embeddings, between layers and before the output layer

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_int("embed_dim", self.embed_dim)
        check_int("hidden_size", self.hidden_size)
        check_int("num_layers", self.num_layers)
        check_dropout("dropout", self.dropout)


@dataclass
class TransformerLMConfig:
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_size: int = 256
    dropout: float = 0.1
    max_len: int = 256  # the context: generate reads at most the last max_len tokens

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        # the same rules as the encoder classifier's fields of the same names
        TransformerConfig(
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            ff_size=self.ff_size,
            dropout=self.dropout,
            max_len=self.max_len,
        ).validate()


def _is_right_padded(attention_mask: Tensor) -> bool:
    """Whether every row is real tokens then padding (no real token after a padding one)."""
    return bool((attention_mask[:, 1:] <= attention_mask[:, :-1]).all())


class LSTMLanguageModel(EmbeddingsDoor):
    """Embedding -> LSTM -> linear: next-token logits [B, T, V]."""

    task = "lm"
    max_len: int | None = None  # any length

    def __init__(self, config: LSTMLMConfig, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.vocab_size = vocab_size
        self.embedding = make_embedding(vocab_size, config.embed_dim, pad_id)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(config.hidden_size, vocab_size)

    def logits(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Logits of a right-padded batch (the LSTM reads left to right: padding comes last)."""
        return self.logits_of_embeddings(self.embedding(ids), mask)

    def logits_of_embeddings(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Logits of a right-padded batch of token vectors [B, T, D]."""
        out, _ = self.lstm(self.dropout(embeds))
        return self.head(self.dropout(out))

    def input_embeddings(self) -> nn.Embedding:
        """The token table."""
        return self.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, D] -> next-token logits [B, T, V]."""
        return _on_right_padding(self.logits_of_embeddings, embeds, attention_mask)


class TransformerLanguageModel(EmbeddingsDoor):
    """Token + learned position embeddings -> causal pre-LN blocks -> LayerNorm -> linear."""

    task = "lm"

    def __init__(self, config: TransformerLMConfig, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        self.config = config
        self.pad_id = pad_id
        self.vocab_size = vocab_size
        self.max_len = config.max_len
        self.embedding = make_embedding(vocab_size, config.d_model, pad_id)
        self.positions = nn.Embedding(config.max_len, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = pre_ln_encoder(
            config.d_model,
            config.num_heads,
            config.ff_size,
            config.dropout,
            config.num_layers,
            final_norm=False,
        )
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, vocab_size)

    def logits(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Logits of a right-padded batch."""
        return self.logits_of_embeddings(self.embedding(ids), mask)

    def logits_of_embeddings(self, embeds: Tensor, mask: Tensor) -> Tensor:
        """Logits of a right-padded batch of token vectors [B, T, d_model]."""
        length = embeds.shape[1]
        if length > self.max_len:
            raise EngineError(
                f"a sequence of {length} tokens is longer than the model's max_len of "
                f"{self.max_len}",
                hint=f"cut the text into pieces of {self.max_len} tokens or raise max_len",
            )
        x = self.dropout(embeds + self.positions.weight[:length])
        causal = nn.Transformer.generate_square_subsequent_mask(
            length, device=embeds.device, dtype=torch.bool
        )
        padding = mask == 0
        padding[:, 0] = False  # an all-padding row attends to one position rather than NaN
        x = self.blocks(x, mask=causal, src_key_padding_mask=padding, is_causal=True)
        return self.head(self.norm(x))

    def last_logits(self, ids: Tensor) -> Tensor:
        """Next-token logits [B, V] of the last place of unpadded rows [B, T]: the blocks read
        every place, the output layer only the last (what generating needs)."""
        length = ids.shape[1]
        x = self.dropout(self.embedding(ids) + self.positions.weight[:length])
        causal = nn.Transformer.generate_square_subsequent_mask(
            length, device=ids.device, dtype=torch.bool
        )
        x = self.blocks(x, mask=causal, is_causal=True)
        return self.head(self.norm(x[:, -1]))

    def input_embeddings(self) -> nn.Embedding:
        """The token table."""
        return self.embedding

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Token vectors [B, T, d_model] -> next-token logits [B, T, V]."""
        return _on_right_padding(self.logits_of_embeddings, embeds, attention_mask)


def _on_right_padding(
    logits_of: Callable[[Tensor, Tensor], Tensor], embeds: Tensor, attention_mask: Tensor
) -> Tensor:
    """Run logits_of on a right-padded batch of vectors [B, T, D]; others are right-aligned and
    the logits put back on the caller's positions."""
    if _is_right_padded(attention_mask):
        return logits_of(embeds, attention_mask)
    aligned, mask, order = right_align_embeddings(embeds, attention_mask)
    return scatter_back(logits_of(aligned, mask), order, embeds.shape[1])


def build_lstm(config: LSTMLMConfig, vocab_size: int, num_classes: int, pad_id: int) -> nn.Module:
    """An LSTMLanguageModel for the config (num_classes is unused: the vocabulary is the output)."""
    return LSTMLanguageModel(config, vocab_size, pad_id)


def build_transformer(
    config: TransformerLMConfig, vocab_size: int, num_classes: int, pad_id: int
) -> nn.Module:
    """A TransformerLanguageModel for the config (num_classes is unused)."""
    return TransformerLanguageModel(config, vocab_size, pad_id)


def generate(
    model: nn.Module,
    prompt_ids: list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_id: int | None = None,
    seed: int = 0,
    top_p: float = 1.0,
) -> list[int]:
    """The tokens that follow prompt_ids: up to max_new_tokens, ending early after eos_id (which
    is included). temperature 0 is greedy; otherwise logits / temperature are sampled, from the
    top_k most likely tokens when top_k is set and then from the smallest set whose probability
    reaches top_p (engine.models.sampling), with a generator seeded by seed: the same seed,
    model and prompt give the same tokens. The model runs in eval mode under inference_mode;
    its training mode is restored afterwards."""
    vocab_size = int(getattr(model, "vocab_size", 0))
    if not prompt_ids:
        raise EngineError("the prompt is empty", hint="give at least one token to continue from")
    if vocab_size and any(not 0 <= t < vocab_size for t in prompt_ids):
        raise EngineError(f"the prompt has token ids outside the vocabulary of {vocab_size}")
    check_int("max_new_tokens", max_new_tokens, low=0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature < 0:
        raise EngineError(f"temperature must be 0 (greedy) or more, got {temperature!r}")
    if top_k is not None:
        check_int("top_k", top_k, low=0)
    check_top_p(top_p)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    new: list[int] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            steps = Stepper(model, prompt_ids) if max_new_tokens else None
            for n in range(max_new_tokens):
                assert steps is not None
                token = _pick(steps.logits, temperature, top_k, generator, top_p)
                new.append(token)
                if eos_id is not None and token == eos_id:
                    break
                if n + 1 < max_new_tokens:
                    steps.advance(token)
    finally:
        model.train(was_training)
    return new


def _pick(
    logits: Tensor,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator,
    top_p: float = 1.0,
) -> int:
    """The next token: argmax when temperature is 0, else a sample from the tempered top_k,
    cut to top_p."""
    sampling = Sampling(
        greedy=temperature == 0, temperature=temperature or 1.0, top_k=top_k or 0, top_p=top_p
    )
    return pick(distribution(logits, sampling), sampling, generator)


class Stepper:
    """Next-token logits of a workbench LM one token at a time, as generate reads them: the
    Transformer re-reads its last max_len tokens at each step (it has no cache); the LSTM
    carries its state, so a step reads one token (the same logits as reading them all)."""

    def __init__(self, model: nn.Module, prompt_ids: list[int]) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.ids = list(prompt_ids)
        self.context: int | None = getattr(model, "max_len", None)
        self._state: tuple[Tensor, Tensor] | None = None
        self.logits = self._read(self.ids)

    def _read(self, new: list[int]) -> Tensor:
        model = self.model
        if isinstance(model, LSTMLanguageModel):
            x = torch.tensor([new], dtype=torch.long, device=self.device)
            out, self._state = model.lstm(model.dropout(model.embedding(x)), self._state)
            return model.head(model.dropout(out))[0, -1].float()
        window = self.ids[-self.context :] if self.context else self.ids
        x = torch.tensor([window], dtype=torch.long, device=self.device)
        if isinstance(model, TransformerLanguageModel):  # the head reads the last place only
            return model.last_logits(x)[0].float()
        return model(x, torch.ones_like(x))[0, -1].float()

    def advance(self, token: int) -> Tensor:
        """The logits after token is appended."""
        self.ids.append(token)
        self.logits = self._read([token])
        return self.logits
