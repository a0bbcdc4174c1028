"""The prediction console's language-model half: when model A is a language model (an lstm-lm
or transformer-lm run, or the optional SmolLM2), enter continues the typed prompt, the tokens
stream in as the engine makes them (drawn on a timer, not per event), `s` stops it, `h`/`l`
walk the generated tokens showing each one's most likely candidates, and `u` scores the typed
text: each token's surprisal as colour, and the perplexity. Sampling settings cycle with keys
(`t` temperature, `K` top-k, `P` top-p, `N` length, `G` greedy, `e` a new seed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.text import Text

from engine import protocol as P
from workbench.attribution import coloured
from workbench.cli.predict import probability_bar

TEMPERATURES = (1.0, 0.7, 0.3, 1.3)
TOP_KS = (0, 40, 10)
TOP_PS = (1.0, 0.9, 0.5)
LENGTHS = (50, 100, 200, 20)


def smollm2_entry() -> P.RunInfo:
    """The optional SmolLM2 as a line of the run list (the engine says how to install it)."""
    return P.RunInfo(
        run_id=P.SMOLLM2,
        name="SmolLM2-135M",
        arch="gguf-lm",
        dataset="",
        state="finished",
        created=0.0,
        step=1,
    )


def is_lm(run: P.RunInfo | None) -> bool:
    return run is not None and (run.arch.endswith("-lm") or run.run_id == P.SMOLLM2)


def _cycle(values: tuple[float, ...], now: float) -> float:
    return values[(values.index(now) + 1) % len(values)] if now in values else values[0]


@dataclass
class Sampling:
    """The settings a generation is asked with."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    max_new_tokens: int = 50
    greedy: bool = False
    seed: int = 0

    def call(self, model: str, prompt: str) -> P.Generate:
        return P.Generate(
            model=model,
            prompt=prompt,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            seed=self.seed,
            greedy=self.greedy,
            candidates=5,
        )

    def cycle(self, what: str) -> None:
        if what == "temperature":
            self.temperature = _cycle(TEMPERATURES, self.temperature)
        elif what == "top_k":
            self.top_k = int(_cycle(tuple(float(k) for k in TOP_KS), float(self.top_k)))
        elif what == "top_p":
            self.top_p = _cycle(TOP_PS, self.top_p)
        elif what == "length":
            self.max_new_tokens = int(_cycle(tuple(float(n) for n in LENGTHS), self.max_new_tokens))
        elif what == "greedy":
            self.greedy = not self.greedy
        elif what == "seed":
            self.seed += 1

    def describe(self) -> Text:
        if self.greedy:
            line = Text("greedy", style="bold")
        else:
            line = Text(f"temperature {self.temperature:g}", style="bold")
            line.append(f" · top-k {self.top_k or 'off'} · top-p {self.top_p:g} · seed {self.seed}")
        line.append(f" · {self.max_new_tokens} tokens", style="dim")
        return line


@dataclass
class Generation:
    """One generation as it streams: the prompt, the tokens so far, the one looked at."""

    prompt: str
    job_id: str = ""
    tokens: list[P.GeneratedToken] = field(default_factory=list)
    result: P.GenerateResult | None = None
    error: str = ""
    position: int = -1  # the token whose candidates show (-1: the last)

    def add(self, event: P.GeneratedTokens) -> None:
        """Tokens of an event, in place (an event repeated or out of order changes nothing)."""
        for offset, token in enumerate(event.tokens):
            place = event.start + offset
            if place == len(self.tokens):
                self.tokens.append(token)

    def finish(self, result: P.GenerateResult) -> None:
        self.result = result
        self.tokens = list(result.tokens)

    def move(self, step: int) -> None:
        if not self.tokens:
            return
        now = self.position if self.position >= 0 else len(self.tokens) - 1
        self.position = max(0, min(len(self.tokens) - 1, now + step))

    @property
    def running(self) -> bool:
        return bool(self.job_id) and self.result is None and not self.error


def generation_view(gen: Generation, description: str) -> RenderableType:
    """The prompt, the text made (the token looked at reversed), how it ended, and the
    candidates of that token."""
    parts: list[RenderableType] = [Text(description, style="dim")]
    body = Text(gen.prompt, style="dim")
    at = gen.position if gen.position >= 0 else len(gen.tokens) - 1
    for i, token in enumerate(gen.tokens):
        body.append(token.text or "·", style="reverse" if i == at else "")
    if gen.running:
        body.append("▌", style="blink")
    parts.append(body)
    if gen.error:
        parts.append(Text(gen.error, style="red"))
    elif gen.result is not None:
        r = gen.result
        parts.append(
            Text(
                f"{len(r.tokens)} tokens · {r.tokens_per_s:.1f} tokens/s · stopped: {r.stop_reason}"
                + (
                    f" · read the last {r.prompt_read} prompt tokens"
                    if r.prompt_read < r.prompt_tokens
                    else ""
                ),
                style="dim",
            )
        )
    elif gen.running:
        parts.append(Text(f"{len(gen.tokens)} tokens… s stops", style="yellow"))
    if gen.tokens and 0 <= at < len(gen.tokens):
        token = gen.tokens[at]
        ended = gen.result is not None and gen.result.stop_reason == "end of text"
        if token.text:
            what = repr(token.text)
        elif ended and at == len(gen.tokens) - 1:
            what = "the end of text"
        else:
            what = "part of a character"
        head = Text(f"token {at + 1}: {what} had p {token.probability:.3f}; h/l walk", style="bold")
        rows = Text()
        for text, p in token.candidates:
            rows.append(f"{text!r:>16} {p:6.1%} ")
            rows.append(probability_bar(p, 12) + "\n", style="green" if text == token.text else "")
        rows.rstrip()
        parts += [head, rows]
    return Group(*parts)


def score_view(res: P.ScoreResult, text: str) -> RenderableType:
    """Each token's surprisal as red over the text (stronger: more surprising), the
    perplexity, and the most surprising tokens."""
    scored = [t for t in res.tokens if t.surprisal_bits is not None]
    spans = [t.span for t in scored]
    shown = coloured(text, spans, [-(t.surprisal_bits or 0.0) for t in scored])
    parts: list[RenderableType] = [
        Text(res.description, style="dim"),
        Text("surprisal: the redder, the less the model expected it", style="bold"),
        shown,
        Text(
            f"perplexity {res.perplexity:.2f} · mean surprisal {res.mean_surprisal_bits:.2f} bits "
            f"over {res.scored} tokens"
            + (f" · first scored from {res.first_from}" if res.first_from else ""),
        ),
    ]
    if res.truncated:
        parts.append(
            Text(
                f"cut to {len(res.tokens):,} of its {res.token_count:,} tokens (the context)",
                style="yellow",
            )
        )
    top = sorted(scored, key=lambda t: -(t.surprisal_bits or 0.0))[:6]
    if top:
        parts.append(
            Text("  ".join(f"{t.token} {t.surprisal_bits:.1f}b" for t in top), style="dim")
        )
    return Group(*parts)
