"""Language models: generating text token by token as a job that streams every token as an
event, and scoring a text's tokens by surprisal; with a trained lstm-lm or transformer-lm run
(its best checkpoint, or while it trains its latest complete one) or with the optional SmolLM2.

A model is loaded once and kept: a run's until the checkpoint it reads changes or the run is
deleted, SmolLM2 for the engine's life.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from engine import protocol as P
from engine.core.errors import EngineError
from engine.core.jobs import Job
from engine.models import service as models
from engine.models.causal import (
    NO_LIMIT_CAP,
    CausalLM,
    Detokenizer,
    load_smollm2,
    smollm2_folder,
    workbench_lm,
)
from engine.models.sampling import Sampling, check_top_p, distribution, pick, top_candidates
from engine.training.checkpoint import best_or_last, resolve_checkpoint
from engine.training.config import RunConfig
from engine.training.runs import RunBook

MAX_NEW_TOKENS = 1024  # tokens one generation makes at most
MAX_PROMPT_CHARS = 100_000
MAX_SCORE_CHARS = 100_000
MAX_CANDIDATES = 20
PUBLISH_EVERY = 0.02  # seconds: tokens made faster than this travel together in one event
LIVE = ("running", "paused", "queued")  # a run that trains: it is read at its latest checkpoint
SMOLLM2_CONTEXT = 8192


class LanguageModels:
    """Generation and scoring; the engine hands it the run book, how to find a run's
    checkpoint (the training service's trained_run) and the event bus's publish."""

    def __init__(
        self,
        book: RunBook,
        runs_dir: Path,
        trained_run: Callable[[str, str], models.TrainedRun],
        publish: Callable[[P.Event], None],
    ) -> None:
        self.book = book
        self.runs_dir = runs_dir
        self.trained_run = trained_run
        self.publish = publish
        self._loaded: dict[str, CausalLM] = {}
        self._seq2seq: dict[str, models.TrainedModel] = {}
        self._lock = threading.Lock()

    def forget(self, run_id: str) -> None:
        self._loaded.pop(run_id, None)
        self._seq2seq.pop(run_id, None)

    # ------------------------------------------------------------------ which model

    def _lm_run(self, run_id: str, verb: str) -> RunConfig:
        """The run's configuration; EngineError when it is unknown or not a language model."""
        info = self.book.info(run_id)  # not_found, naming the runs there are
        cfg = RunConfig.from_toml(self.book.config_toml(run_id), info.name)
        task = models.get_spec(cfg.arch).task
        if task != "lm":
            kind = "a classifier" if task == "classify" else "a sequence-to-sequence model"
            raise EngineError(
                f"run {run_id} is {kind} ({cfg.arch}): it {verb} no text",
                hint="name an lstm-lm or transformer-lm run, or smollm2",
            )
        return cfg

    def context_of(self, name: str) -> int:
        """Tokens the model reads at most (0: no limit), known without loading it."""
        if name == P.SMOLLM2:
            smollm2_folder()
            return SMOLLM2_CONTEXT
        cfg = self._lm_run(name, "generates")
        self._checkpoint(name)  # it has one (else: not_found, and how runs save one)
        config = models.config_from_dict(cfg.arch, cfg.model)
        return int(getattr(config, "max_len", 0) or 0)

    def model(self, name: str, verb: str = "generates") -> CausalLM:
        """The model named: "smollm2", or a language-model run's best checkpoint (while it
        trains, its latest complete one), loaded once and kept until that checkpoint changes."""
        if name == P.SMOLLM2:
            return load_smollm2()
        self._lm_run(name, verb)
        with self._lock:
            kept = self._loaded.get(name)
            if kept is None or kept.checkpoint != self._checkpoint(name):
                live = self.book.info(name).state in LIVE
                run = self.trained_run(name, "latest" if live else "best")
                trained = models.load_trained(run)
                kept = self._loaded[name] = workbench_lm(trained, run.description)
        return kept

    def _checkpoint(self, run_id: str) -> Path:
        """The checkpoint the run is read at (as trained_run picks it, without reading its
        tokenizer); trained_run's error when it has none yet."""
        folder = self.runs_dir / run_id / "checkpoints"
        live = self.book.info(run_id).state in LIVE
        try:
            return resolve_checkpoint(folder, "last") if live else best_or_last(folder)
        except EngineError:
            return self.trained_run(run_id, "latest").checkpoint  # raises: no checkpoint yet

    # ------------------------------------------------------------------ generating

    def check(self, call: P.Generate) -> None:
        """Refuse a generation before it becomes a job: its numbers, its prompt, its model."""
        if not call.prompt.strip():
            raise EngineError(
                "the prompt is empty: there is nothing to continue",
                hint='give a few words to continue from, e.g. "Once upon a time"',
            )
        if len(call.prompt) > MAX_PROMPT_CHARS:
            raise EngineError(
                f"a prompt of {len(call.prompt):,} characters is over the {MAX_PROMPT_CHARS:,} "
                "a generation reads",
                hint="give the end of it: a model reads its last tokens",
            )
        new = call.max_new_tokens
        if isinstance(new, bool) or not isinstance(new, int) or not 1 <= new <= MAX_NEW_TOKENS:
            raise EngineError(
                f"max_new_tokens must be 1 to {MAX_NEW_TOKENS:,}, got {new!r}",
                hint="generate in several steps for a longer text",
            )
        if not call.greedy and not call.temperature > 0:
            raise EngineError(
                f"temperature must be above 0, got {call.temperature!r}",
                hint="use greedy for the most likely token at each step (no sampling)",
            )
        if call.top_k < 0:
            raise EngineError(
                f"top_k must be 0 (no cut) or more, got {call.top_k}",
                hint="top_k 40 draws from the 40 most likely tokens",
            )
        check_top_p(call.top_p)
        if not 0 <= call.seed < 2**63:
            raise EngineError(f"seed must be 0 to 2**63 - 1, got {call.seed}")
        if not 0 <= call.min_new_tokens <= new:
            raise EngineError(
                f"min_new_tokens must be 0 to max_new_tokens ({new:,}), got {call.min_new_tokens}"
            )
        if not 0 <= call.candidates <= MAX_CANDIDATES:
            raise EngineError(f"candidates must be 0 to {MAX_CANDIDATES}, got {call.candidates}")
        context = self.context_of(call.model)
        if context and new > context:
            raise EngineError(
                f"max_new_tokens {new:,} is over the model's context of {context:,} tokens",
                hint=f"ask for at most {context:,}",
            )

    def generate(self, call: P.Generate, job: Job) -> P.GenerateResult:
        """Continue the prompt token by token, publishing each token (GeneratedTokens) as it
        comes; cancelling stops it within one token and keeps what was made."""
        job.progress(0, call.max_new_tokens, f"loading {call.model}")
        lm = self.model(call.model)
        ids = lm.prompt_ids(call.prompt)
        if len(ids) == len(lm.prompt_start):
            raise EngineError("the prompt has no tokens to continue from", hint="give words")
        if lm.name == P.SMOLLM2 and len(ids) + call.max_new_tokens > lm.context:
            raise EngineError(
                f"the prompt's {len(ids):,} tokens and max_new_tokens {call.max_new_tokens:,} "
                f"are over the model's context of {lm.context:,} tokens",
                hint="shorten the prompt or ask for fewer tokens",
            )
        read = min(len(ids), lm.context) if lm.context else len(ids)
        sampling = Sampling(call.greedy, call.temperature, call.top_k, call.top_p)
        generator = torch.Generator().manual_seed(call.seed)
        detok = Detokenizer(lm.decode, ids)
        made: list[P.GeneratedToken] = []
        sent = 0  # tokens published so far
        last = 0.0
        stop: P.StopReason = "length"
        ends = torch.tensor(sorted(lm.end_ids), dtype=torch.long)
        job.progress(0, call.max_new_tokens, "generating")
        began = time.perf_counter()
        with torch.inference_mode():
            steps = lm.stepper(ids)
            logits = steps.logits
            for n in range(call.max_new_tokens):
                if job.cancel_requested:
                    stop = "cancelled"
                    break
                if n < call.min_new_tokens and lm.end_ids:  # not the end yet
                    logits = logits.index_fill(0, ends, float("-inf"))
                probs = distribution(logits, sampling)
                token = pick(probs, sampling, generator)
                made.append(
                    P.GeneratedToken(
                        text=detok.add(token),
                        id=token,
                        probability=float(probs[token]),
                        candidates=[
                            (lm.token_text(i), p) for i, p in top_candidates(probs, call.candidates)
                        ],
                    )
                )
                now = time.perf_counter()
                if now - last >= PUBLISH_EVERY:
                    self.publish(P.GeneratedTokens(job_id=job.id, start=sent, tokens=made[sent:]))
                    sent, last = len(made), now
                    job.progress(n + 1, call.max_new_tokens, f"{n + 1:,} tokens")
                if token in lm.end_ids:
                    stop = "end of text"
                    break
                if n + 1 < call.max_new_tokens:
                    logits = steps.advance(token)
        seconds = time.perf_counter() - began
        if sent < len(made):
            self.publish(P.GeneratedTokens(job_id=job.id, start=sent, tokens=made[sent:]))
        job.progress(len(made), call.max_new_tokens, f"{len(made):,} tokens ({stop})")
        return P.GenerateResult(
            model=lm.name,
            description=lm.description,
            prompt_tokens=len(ids),
            prompt_read=read,
            text="".join(t.text for t in made),
            tokens=made,
            stop_reason=stop,
            tokens_per_s=len(made) / seconds if seconds > 0 else 0.0,
            seconds=seconds,
            context=lm.context,
            step=lm.step,
        )

    # ------------------------------------------------------------------ scoring

    # ------------------------------------------------------------------ translating

    def translate(self, call: P.Translate) -> P.TranslateResult:
        """A seq2seq run's output for a source, with the attention over the source."""
        if len(call.source) > MAX_PROMPT_CHARS:
            raise EngineError(
                f"a source of {len(call.source):,} characters is over the "
                f"{MAX_PROMPT_CHARS:,} a translation reads",
                hint="give a shorter source",
            )
        if not call.source.strip():
            raise EngineError("the source is empty: there is nothing to translate", hint="type one")
        for name, value, top in (
            ("beam_width", call.beam_width, models.MAX_BEAM),
            ("max_output", call.max_output, MAX_NEW_TOKENS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise EngineError(
                    f"{name} must be 0 (the run's own) to {top}, got {value!r}",
                    hint="beam width 1 decodes greedily",
                )
        info = self.book.info(call.model)
        cfg = RunConfig.from_toml(self.book.config_toml(call.model), info.name)
        if models.get_spec(cfg.arch).task != "seq2seq":
            raise EngineError(
                f"run {call.model} is a {models.get_spec(cfg.arch).task} model ({cfg.arch}): "
                "it translates nothing",
                hint="name a seq2seq run",
            )
        with self._lock:
            kept = self._seq2seq.get(call.model)
            checkpoint = self._checkpoint(call.model)
            if kept is None or kept.checkpoint != checkpoint:
                live = info.state in LIVE
                run = self.trained_run(call.model, "latest" if live else "best")
                kept = self._seq2seq[call.model] = models.load_trained(run)
        tok = kept.run.tokenizer
        enc = tok.encode(call.source, add_special_tokens=False)
        ids = list(enc.ids[: cfg.max_length])
        if not ids:
            raise EngineError("the source has no token the run reads", hint="type another")
        model = kept.model
        config = model.config  # type: ignore[union-attr]
        width = call.beam_width or int(config.beam_width)
        limit = call.max_output or int(config.max_output)
        src, mask = models.source_batch([ids])
        with torch.inference_mode():
            out = model.decode(src, mask, width, limit)[0]  # type: ignore[operator]
        unk = tok.token_to_id("[UNK]")
        return P.TranslateResult(
            model=call.model,
            description=kept.run.description,
            source_tokens=list(enc.tokens[: len(ids)]),
            output_tokens=[tok.id_to_token(i) or "" for i in out.tokens],
            output=tok.decode(out.tokens, skip_special_tokens=True),
            attention=out.attention,
            log_prob=out.log_prob,
            ended=out.ended,
            beam_width=width,
            truncated=len(enc.ids) > len(ids),
            unknown=sum(1 for i in ids if i == unk),
            step=kept.step,
        )

    def score(self, call: P.ScoreText) -> P.ScoreResult:
        """Each token's surprisal in bits under the model and the text's perplexity (see
        P.ScoreText for the first token and long texts)."""
        if len(call.text) > MAX_SCORE_CHARS:
            raise EngineError(
                f"a text of {len(call.text):,} characters is over the {MAX_SCORE_CHARS:,} a "
                "score reads",
                hint="score it in pieces",
            )
        if not call.text.strip():
            raise EngineError("the text is empty: there is nothing to score", hint="give a text")
        lm = self.model(call.model, "scores")
        enc = lm.tokenizer.encode(call.text, add_special_tokens=False)
        start = lm.start_ids
        room = min(lm.context or NO_LIMIT_CAP, NO_LIMIT_CAP) - len(start)
        ids = list(enc.ids[:room])
        if len(ids) < (1 if start else 2):
            raise EngineError(
                f"the text has {len(ids)} token(s): {lm.description} has no start token, so "
                "its first token cannot be scored and at least two are needed",
                hint="give a longer text",
            )
        seq = start + ids
        with torch.inference_mode():
            logp = torch.log_softmax(lm.forward(seq), dim=-1)
            targets = torch.tensor(seq[1:], dtype=torch.long)
            nats = -logp[:-1].gather(1, targets[:, None])[:, 0]
        bits = (nats / math.log(2)).tolist()
        first = len(start) - 1  # the place in bits of the text's first token (-1: not scored)
        tokens = []
        for j, (token, (a, b)) in enumerate(zip(ids, enc.offsets[: len(ids)], strict=True)):
            k = first + j
            tokens.append(
                P.ScoredToken(
                    text=call.text[a:b],
                    token=enc.tokens[j],
                    id=token,
                    span=(int(a), int(b)),
                    surprisal_bits=bits[k] if k >= 0 else None,
                )
            )
        scored = [t.surprisal_bits for t in tokens if t.surprisal_bits is not None]
        mean = sum(scored) / len(scored)
        return P.ScoreResult(
            model=lm.name,
            description=lm.description,
            tokens=tokens,
            perplexity=2.0**mean,
            mean_surprisal_bits=mean,
            scored=len(scored),
            token_count=len(enc.ids),
            truncated=len(enc.ids) > len(ids),
            context=lm.context,
            first_from=lm.token_text(start[-1]) if start else "",
            step=lm.step,
        )
