"""Language models: generating text token by token (a job that streams each token as an event)
and scoring a text's tokens by surprisal.

A model is named by a run id (a trained lstm-lm or transformer-lm run: its best checkpoint, or
while it trains its latest complete one) or by "smollm2", the optional SmolLM2-135M-Instruct
asset (`make llm` installs it).
"""

from __future__ import annotations

from typing import Literal

from engine.protocol.base import Base, Returns, StartsJob

SMOLLM2 = "smollm2"  # the model name of the optional SmolLM2 asset

StopReason = Literal["length", "end of text", "cancelled"]

# --------------------------------------------------------------------- values


class GeneratedToken(Base, gc=False):
    """One generated token: the text it adds (a token that ends inside a multi-byte character
    adds "" and the next one carries the whole character), its id, the probability it had in
    the distribution it was drawn from, and the most likely tokens of that distribution.

    That distribution is softmax(logits / temperature), cut to top_k and then to top_p and made
    to sum to 1 again; for greedy it is softmax(logits) uncut. candidates: (text, probability),
    most likely first; they never include a token the cuts removed."""

    text: str
    id: int
    probability: float
    candidates: list[tuple[str, float]] = []


class ScoredToken(Base, gc=False):
    """One token of a scored text: the characters it covers (text[span[0]:span[1]]), the token
    as the tokenizer writes it ("##ing", "Ġthe"), its place in the text (character offsets
    [start, end)), and its surprisal -log2 p(token | the tokens before) in bits; None for a
    first token that has no context to be scored from."""

    text: str
    token: str
    id: int
    span: tuple[int, int]
    surprisal_bits: float | None


# --------------------------------------------------------------------- results


class GenerateResult(Base, tag="lm.generated"):
    """A generation's end: the text made (the streamed tokens' texts joined), every token,
    why it stopped, its speed and the model's context."""

    model: str  # the run id, or "smollm2"
    description: str  # "run r3 (transformer-lm on reviews)", "SmolLM2-135M-Instruct (Q4_1)"
    prompt_tokens: int  # tokens of the prompt (specials the model starts from included)
    prompt_read: int  # of which the model read (a transformer-lm reads its last max_len)
    text: str
    tokens: list[GeneratedToken]
    stop_reason: StopReason
    tokens_per_s: float  # generated tokens over the seconds spent generating (loading left out)
    seconds: float
    context: int  # tokens the model reads at most; 0: no limit (an LSTM)
    step: int = 0  # the checkpoint's step (a run)


class ScoreResult(Base, tag="lm.scored"):
    """A text's tokens with their surprisal in bits, and the text's perplexity:
    2 ** mean(surprisal_bits) over the scored tokens, which is exp(mean negative log-likelihood
    in nats)."""

    model: str
    description: str
    tokens: list[ScoredToken]
    perplexity: float
    mean_surprisal_bits: float
    scored: int  # tokens with a surprisal
    token_count: int  # tokens of the whole text, before any cut
    truncated: bool  # the text was cut to the model's context: only the first tokens are here
    context: int  # 0: no limit
    first_from: str  # how the first token is scored: "[CLS]", "<|endoftext|>", or "" (not)
    step: int = 0


class TranslateResult(Base, tag="lm.translated"):
    """A sequence-to-sequence run's output for a source, and where it looked: attention[i][j]
    is output step i's weight on source token j (each row sums to 1; the last row is the step
    that ended the output when ended is true)."""

    model: str
    description: str
    source_tokens: list[str]
    output_tokens: list[str]
    output: str
    attention: list[list[float]]
    log_prob: float  # of the output and its end, natural log
    ended: bool  # the model ended the output (else max_output cut it)
    beam_width: int
    truncated: bool  # the source was cut to the run's max_length tokens
    unknown: int  # source tokens outside the run's vocabulary (read as [UNK])
    step: int = 0


# --------------------------------------------------------------------- calls


class Generate(StartsJob[GenerateResult], tag="lm.generate"):
    """Continue a prompt, as a job: each token is published at once as a GeneratedTokens event
    carrying the job's id (a few tokens to an event when they come fast), and the job ends
    with a GenerateResult. Cancelling the job (jobs.cancel) stops it within one token; the job
    then ends done, with what was made and stop_reason "cancelled".

    greedy takes the most likely token at each step (temperature, top_k, top_p and seed are
    then unused); otherwise a token is drawn from softmax(logits / temperature) cut to the
    top_k most likely (0: no cut) and to the smallest set whose probability reaches top_p (1:
    no cut), with a generator seeded by seed: the same seed, model and prompt give the same
    tokens. The prompt must hold at least one token of text (an empty one is refused).
    Generation stops at max_new_tokens or at the model's end of text (never before
    min_new_tokens: until then end-of-text tokens get probability 0)."""

    model: str
    prompt: str
    max_new_tokens: int = 50
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    greedy: bool = False
    candidates: int = 5  # top candidates reported per token (0 to 20)
    min_new_tokens: int = 0  # no end of text before this many tokens (as in HF's generate)


class ScoreText(Returns[ScoreResult], tag="lm.score"):
    """Each token of a text with its surprisal in bits under the model, and the perplexity.

    The first token is scored from the tokens the model's tokenizer starts a text with (a
    workbench run's [CLS] or <s>, as it was trained; for SmolLM2 <|endoftext|>, the token
    between its training documents); a tokenizer that starts with none leaves the first token
    unscored (surprisal None) and out of the perplexity. Tokens the tokenizer appends at the
    end ([SEP]) are not scored. A text longer than the model's context, or than 2,048 tokens,
    is cut to it (never refused): truncated says so and token_count says how long it was. A
    text must hold a token to score (two when the model has no start token); one over 100,000
    characters is refused."""

    model: str
    text: str


class Translate(Returns[TranslateResult], tag="lm.translate"):
    """A seq2seq run's output for a source text (its best checkpoint; while it trains, its
    latest complete one), by greedy decoding or beam search, with the attention of every
    output step over the source tokens. beam_width and max_output 0 take the run's own."""

    model: str
    source: str
    beam_width: int = 0
    max_output: int = 0


# --------------------------------------------------------------------- events


class GeneratedTokens(Base, tag="lm.tokens", gc=False):
    """Tokens a generation job just made, in order; start is the place of the first of them
    among the job's generated tokens (0 for the first), so a client that missed none can check."""

    job_id: str
    start: int
    tokens: list[GeneratedToken]
