"""Sequence to sequence with attention: a GRU encoder-decoder with additive (Bahdanau) attention,
over characters or words.

One example is one row of token ids, source then target, so that the trainer's batching,
bucketing, micro-batches and DDP shards need nothing new:

    source ids ... SEP target ids ... EOS

SEP is the decoder's start symbol. forward(input_ids, attention_mask) returns logits [B, T, V]
laid out as a language model's (position t predicts token t + 1), filled from SEP onwards: the
decoder's step u, fed the token at SEP + u, predicts the one at SEP + u + 1. Positions before SEP
are zeros and never a target (engine.training.losses masks them).

Training feeds the decoder the true previous token (teacher forcing) with probability
teacher_forcing at each step and row, else its own previous guess; evaluation always feeds the
truth for the loss and token accuracy, and decodes (greedy, or beam search of beam_width) for
exact match and BLEU. decode() returns each output's tokens with the attention weights of every
output step over the source tokens.

The vocabulary is the run's own (engine.tokenizers: a char or word WordLevel tokenizer built from
the training pairs); its first ids are SPECIALS in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from engine.core.errors import EngineError
from engine.models.common import check_choice, check_dropout, check_int

PAD, UNK, SEP, EOS = 0, 1, 2, 3
SPECIALS = ("[PAD]", "[UNK]", "[SEP]", "[EOS]")  # ids 0..3 in every seq2seq vocabulary
LEVELS = ("char", "word")
MAX_BEAM = 64


@dataclass
class Seq2SeqConfig:
    level: Literal["char", "word"] = "char"  # the vocabulary: characters, or words
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    teacher_forcing: float = 1.0  # chance of feeding the true previous token while training
    beam_width: int = 1  # decoding for exact match, BLEU and prediction; 1 is greedy
    max_output: int = 64  # tokens a decoded output may have, EOS excluded

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        check_choice("level", self.level, LEVELS)
        check_int("embed_dim", self.embed_dim)
        check_int("hidden_size", self.hidden_size)
        check_int("num_layers", self.num_layers, high=16)
        check_dropout("dropout", self.dropout)
        tf = self.teacher_forcing
        if isinstance(tf, bool) or not isinstance(tf, int | float) or not 0 <= tf <= 1:
            raise EngineError(f"teacher_forcing must be a number from 0 to 1, got {tf!r}")
        check_int("beam_width", self.beam_width, high=MAX_BEAM)
        check_int("max_output", self.max_output, high=4096)


@dataclass
class Decoded:
    """One decoded output: its token ids (EOS excluded), the attention of each output step
    over the source tokens ([len(tokens) + 1 rows, the last for EOS] x source length), and the
    sum of the tokens' log-probabilities (EOS included)."""

    tokens: list[int]
    attention: list[list[float]]
    log_prob: float
    ended: bool  # EOS was produced (else max_output cut it)


def split_rows(input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
    """(SEP position [B], row length [B]) of each row; EngineError when a row has no SEP."""
    is_sep = (input_ids == SEP) & (attention_mask > 0)
    has = is_sep.any(dim=1)
    if not bool(has.all()):
        raise EngineError(
            "a sequence-to-sequence row has no separator between source and target",
            hint="train it on a pair dataset (source and target columns)",
        )
    sep = is_sep.int().argmax(dim=1)
    return sep, attention_mask.sum(dim=1)


class AdditiveAttention(nn.Module):
    """score(s, h_j) = v . tanh(W s + U h_j), softmax over the real source tokens."""

    def __init__(self, query_size: int, key_size: int, size: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_size, size, bias=False)
        self.key = nn.Linear(key_size, size)
        self.v = nn.Linear(size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """U h_j for every source position, computed once per batch."""
        return self.key(memory)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(context [B, K], weights [B, S]) for decoder states query [B, Q]."""
        scores = self.v(torch.tanh(keys + self.query(query).unsqueeze(1))).squeeze(-1)
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class Seq2Seq(nn.Module):
    """Bidirectional GRU encoder, additive attention, GRU decoder, one shared token table."""

    task = "seq2seq"
    max_len: int | None = None  # any length

    def __init__(self, config: Seq2SeqConfig, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        if pad_id != PAD:
            raise EngineError(f"a seq2seq vocabulary pads with id {PAD}, not {pad_id}")
        if vocab_size <= len(SPECIALS):
            raise EngineError(
                f"a seq2seq vocabulary needs tokens beyond its {len(SPECIALS)} specials; "
                f"it has {vocab_size}"
            )
        self.config = config
        self.pad_id = pad_id
        self.vocab_size = vocab_size
        e, h, n = config.embed_dim, config.hidden_size, config.num_layers
        inner = config.dropout if n > 1 else 0.0
        self.embedding = nn.Embedding(vocab_size, e, padding_idx=PAD)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = nn.GRU(
            e, h, num_layers=n, batch_first=True, bidirectional=True, dropout=inner
        )
        self.bridge = nn.Linear(2 * h, h)  # both directions' final states -> the decoder's first
        self.attention = AdditiveAttention(h, 2 * h, h)
        self.decoder = nn.GRU(e + 2 * h, h, num_layers=n, batch_first=True, dropout=inner)
        self.out = nn.Linear(h + 2 * h + e, vocab_size)

    # --- the embeddings door's table (vectors may start it; attacks are for classifiers)

    def input_embeddings(self) -> nn.Embedding:
        """The token table, shared by source and target."""
        return self.embedding

    def embed(self, input_ids: Tensor) -> Tensor:
        """The vectors the model reads for the ids."""
        return self.embedding(input_ids)

    # --- encoder and one decoder step

    def encode(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(memory [B, S, 2H], its attention keys, first decoder state [L, B, H]) of a
        right-padded source batch."""
        lengths = src_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(self.embedding(src)), lengths, batch_first=True, enforce_sorted=False
        )
        out, last = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=src.shape[1]
        )
        n = self.config.num_layers
        last = last.view(n, 2, src.shape[0], -1)  # (layer, direction, B, H)
        state = torch.tanh(self.bridge(torch.cat([last[:, 0], last[:, 1]], dim=-1)))
        return memory, self.attention.keys(memory), state.contiguous()

    def step(
        self, token: Tensor, state: Tensor, memory: Tensor, keys: Tensor, src_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(logits [B, V], next state, attention weights [B, S]) after feeding token [B]."""
        emb = self.dropout(self.embedding(token))
        context, weights = self.attention(state[-1], keys, memory, src_mask)
        out, state = self.decoder(torch.cat([emb, context], dim=-1).unsqueeze(1), state)
        logits = self.out(self.dropout(torch.cat([out.squeeze(1), context, emb], dim=-1)))
        return logits, state, weights

    # --- training and evaluation: teacher forcing over whole rows

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits [B, T, V], position t predicting token t + 1, from each row's SEP on."""
        sep, length = split_rows(input_ids, attention_mask)
        batch, width = input_ids.shape
        device = input_ids.device
        cols = torch.arange(width, device=device)
        src_width = max(int(sep.max()), 1)
        src_mask = (cols[:src_width].unsqueeze(0) < sep.unsqueeze(1)).long()
        src = input_ids[:, :src_width] * src_mask
        memory, keys, state = self.encode(src, src_mask)
        steps = int((length - sep).max())  # decoder inputs: SEP and the target tokens
        where = (sep.unsqueeze(1) + cols[:steps].unsqueeze(0)).clamp(max=width - 1)
        truth = input_ids.gather(1, where)
        ratio = float(self.config.teacher_forcing) if self.training else 1.0
        logits = input_ids.new_zeros((batch, width, self.vocab_size), dtype=memory.dtype)
        outs = []
        token = truth[:, 0]
        for u in range(steps):
            step_logits, state, _ = self.step(token, state, memory, keys, src_mask)
            outs.append(step_logits)
            if u + 1 < steps:
                token = truth[:, u + 1]
                if ratio < 1.0:
                    own = step_logits.argmax(dim=-1)
                    forced = torch.rand(batch, device=device) < ratio
                    token = torch.where(forced, token, own)
        stacked = torch.stack(outs, dim=1)  # [B, steps, V]
        valid = (cols[:steps].unsqueeze(0) < (length - sep).unsqueeze(1)).unsqueeze(-1)
        index = where.unsqueeze(-1).expand(-1, -1, self.vocab_size)
        return logits.scatter(1, index, stacked * valid)

    # --- decoding

    @torch.no_grad()
    def decode(
        self,
        src: Tensor,
        src_mask: Tensor,
        beam_width: int | None = None,
        max_output: int | None = None,
    ) -> list[Decoded]:
        """Each source row's output: greedy for beam_width 1, else beam search: the `width`
        likeliest hypotheses are kept at each step, and the likeliest finished one (the sum of
        its tokens' log-probabilities, EOS counted) is the output. Ranking by the mean per
        token instead favoured long outputs: on the dates task it lost 0.7% exact match to
        greedy (bench/seq2seq_bench.py)."""
        width = self.config.beam_width if beam_width is None else beam_width
        limit = self.config.max_output if max_output is None else max_output
        check_int("beam_width", width, high=MAX_BEAM)
        check_int("max_output", limit, high=4096)
        was = self.training
        self.eval()
        try:
            if width == 1:
                return self._greedy(src, src_mask, limit)
            return [
                self._beam(src[i : i + 1], src_mask[i : i + 1], width, limit)
                for i in range(src.shape[0])
            ]
        finally:
            self.train(was)

    def _greedy(self, src: Tensor, src_mask: Tensor, limit: int) -> list[Decoded]:
        memory, keys, state = self.encode(src, src_mask)
        batch = src.shape[0]
        token = src.new_full((batch,), SEP)
        done = torch.zeros(batch, dtype=torch.bool, device=src.device)
        tokens: list[Tensor] = []
        weights: list[Tensor] = []
        scores = torch.zeros(batch, device=src.device)
        for _ in range(limit + 1):
            logits, state, w = self.step(token, state, memory, keys, src_mask)
            logp = torch.log_softmax(logits.float(), dim=-1)
            token = logp.argmax(dim=-1)
            scores += torch.where(done, 0.0, logp.gather(1, token.unsqueeze(1)).squeeze(1))
            tokens.append(token)
            weights.append(w)
            done = done | (token == EOS)
            if bool(done.all()):
                break
        ids = torch.stack(tokens, dim=1).tolist()
        attn = torch.stack(weights, dim=1).float()  # [B, steps, S]
        out = []
        for b in range(batch):
            row = ids[b]
            ended = EOS in row[: limit + 1]
            n = row.index(EOS) if ended else min(len(row), limit)
            s = int(src_mask[b].sum())
            keep = n + 1 if ended else n
            out.append(Decoded(row[:n], attn[b, :keep, :s].tolist(), float(scores[b]), ended))
        return out

    def _beam(self, src: Tensor, src_mask: Tensor, width: int, limit: int) -> Decoded:
        memory, keys, state = self.encode(src, src_mask)
        s = int(src_mask[0].sum())
        # live hypotheses: (tokens, attention rows, log-probability); state rows follow them
        live: list[tuple[list[int], list[Tensor], float]] = [([], [], 0.0)]
        states = state
        finished: list[tuple[float, Decoded]] = []
        for _ in range(limit + 1):
            k = len(live)
            last = torch.tensor(
                [h[0][-1] if h[0] else SEP for h in live], device=src.device, dtype=src.dtype
            )
            logits, new_states, w = self.step(
                last,
                states,
                memory.expand(k, -1, -1),
                keys.expand(k, -1, -1),
                src_mask.expand(k, -1),
            )
            logp = torch.log_softmax(logits.float(), dim=-1)
            total = logp + torch.tensor([h[2] for h in live], device=src.device).unsqueeze(1)
            best, flat = total.view(-1).topk(min(width, total.numel()))
            grown: list[tuple[list[int], list[Tensor], float]] = []
            parents: list[int] = []
            for score, index in zip(best.tolist(), flat.tolist(), strict=True):
                parent, token = divmod(index, self.vocab_size)
                toks, rows, _ = live[parent]
                rows = [*rows, w[parent, :s]]
                if token == EOS:
                    done = Decoded(toks, torch.stack(rows).tolist(), score, True)
                    finished.append((score, done))
                else:
                    grown.append(([*toks, token], rows, score))
                    parents.append(parent)
            # done when no live hypothesis can beat the best finished one (log-probabilities
            # only fall as tokens are added)
            best_done = max((f[0] for f in finished), default=-math.inf)
            if not grown or max(h[2] for h in grown) < best_done or len(finished) >= width:
                break
            live = grown
            states = new_states[:, parents]
        if finished:
            return max(finished, key=lambda f: f[0])[1]
        toks, rows, score = max(live, key=lambda h: h[2])
        return Decoded(toks[:limit], torch.stack(rows[:limit]).tolist(), score, False)


def build(config: Seq2SeqConfig, vocab_size: int, num_classes: int, pad_id: int) -> Seq2Seq:
    """The registry's builder (num_classes is unused: the vocabulary is the output)."""
    return Seq2Seq(config, vocab_size, pad_id)


def source_batch(
    rows: list[list[int]], device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Right-padded source ids and mask from lists of ids (each at least one token)."""
    width = max((len(r) for r in rows), default=1) or 1
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids.to(device or "cpu"), mask.to(device or "cpu")


def sources_of(
    input_ids: Tensor, attention_mask: Tensor
) -> tuple[list[list[int]], list[list[int]]]:
    """(source ids, target ids without EOS) of each pair row, as lists."""
    sep, length = split_rows(input_ids, attention_mask)
    ids = input_ids.tolist()
    srcs, tgts = [], []
    for row, s, n in zip(ids, sep.tolist(), length.tolist(), strict=True):
        srcs.append(row[:s])
        target = row[s + 1 : n]
        tgts.append(target[:-1] if target and target[-1] == EOS else target)
    return srcs, tgts


def pair_targets(input_ids: Tensor, attention_mask: Tensor, ignore: int) -> Tensor:
    """The next-token targets [B, T - 1] of pair rows: the target tokens and EOS, `ignore`
    on the source, SEP's own position and padding."""
    sep, _ = split_rows(input_ids, attention_mask)
    cols = torch.arange(1, input_ids.shape[1], device=input_ids.device)
    target = (cols.unsqueeze(0) > sep.unsqueeze(1)) & (attention_mask[:, 1:] > 0)
    return input_ids[:, 1:].masked_fill(~target, ignore)


def token_accuracy(logits: Tensor, input_ids: Tensor, attention_mask: Tensor) -> tuple[int, int]:
    """(right, total) teacher-forced next-token guesses over the target tokens and EOS."""
    sep, _ = split_rows(input_ids, attention_mask)
    width = input_ids.shape[1]
    cols = torch.arange(1, width, device=input_ids.device)
    target = (cols.unsqueeze(0) > sep.unsqueeze(1)) & (attention_mask[:, 1:] > 0)
    guess = logits[:, :-1].argmax(dim=-1)
    right = ((guess == input_ids[:, 1:]) & target).sum()
    return int(right), int(target.sum())


__all__ = [
    "EOS",
    "LEVELS",
    "PAD",
    "SEP",
    "SPECIALS",
    "UNK",
    "Decoded",
    "Seq2Seq",
    "Seq2SeqConfig",
    "build",
    "pair_targets",
    "source_batch",
    "sources_of",
    "split_rows",
    "token_accuracy",
]
