"""Why a classifier said what it said: one score per token, with Captum.

Every method reads a model through its embeddings door (engine.models.common): embed(ids) are
the vectors the model reads, forward_embeddings(vectors, mask) the rest of it.

- ig: Captum's IntegratedGradients over those vectors (the embedding layer's output), for the
  explained class's logit, from a baseline that puts padding in place of every token but the
  specials; the trapezoid rule with DEFAULT_STEPS steps in batches of INTERNAL_BATCH, and its
  completeness (the attributions' sum against f(x) - f(baseline)) reported beside it.
- ixg: Captum's InputXGradient over the same vectors.
- occlusion: Captum's FeatureAblation over a keep-mask: each token is left out of the text in turn
  (the model reads the text without it, the rest moved up, as right_align does), and its score
  is the explained class's probability with the token minus the probability without it. It only
  calls the model, so it explains every classifier, the feature + logistic regression one too.
- attention: the attention weights the pooled position gives each token, last layer averaged
  over heads (the attention RNN's one attention; a Transformer encoder's self-attention through
  hooks on its layers; a BERT-family model's, switched to eager attention for the call because
  SDPA returns no weights).

Captum imports matplotlib (captum.attr pulls it in), so it is imported here, on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from engine import protocol as P
from engine.core.errors import EngineError
from engine.models.common import right_align

METHODS = ("ig", "ixg", "occlusion", "attention")
DEFAULT_STEPS = 300  # ig's default: a gap under 5% on sharp trained models (tests, bench)
MAX_STEPS = 2_000
INTERNAL_BATCH = 50  # ig's interpolation points per forward pass
OCCLUSION_BATCH = 32  # occluded copies per forward pass
LARGE_GAP = 0.05  # ig's |gap| / |f(x) - f(baseline)| above which the note says so
MATRIX_LIMIT = 256  # the attention matrix goes back for texts of at most this many tokens
WORD = re.compile(r"\w+|[^\w\s]+")


def methods_for(model: Any, arch: str) -> list[str]:
    """The methods that can explain this model: gradients need the embeddings door, attention
    one of the families that attend."""
    out = []
    if callable(getattr(model, "forward_embeddings", None)):
        out += ["ig", "ixg"]
    out.append("occlusion")
    if arch in ("attention-rnn", "transformer", "bert-finetune"):
        out.append("attention")
    return out


def check_method(method: str, model: Any, arch: str, steps: int) -> None:
    """EngineError for a method this model cannot give (naming those it can) or bad steps."""
    if method not in METHODS:
        raise EngineError(
            f"there is no explanation method '{method}'", hint="methods: " + ", ".join(METHODS)
        )
    usable = methods_for(model, arch)
    if method not in usable:
        raise EngineError(
            f"a {arch} model cannot give '{method}' explanations",
            hint="methods that apply to it: " + ", ".join(usable),
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise EngineError(
            f"steps must be from 1 to {MAX_STEPS:,} (0: the default {DEFAULT_STEPS}), got {steps}"
        )


def explain(
    model: Any,
    arch: str,
    ids: Sequence[int],
    special: Sequence[int],
    spans: Sequence[tuple[int, int]],
    text: str,
    target: int,
    target_name: str,
    method: str,
    pad_id: int,
    steps: int = 0,
) -> P.Explanation:
    """Explain the class `target` of one text the model reads as `ids` (special[i] is 1 for a
    special token, spans[i] its characters in text); one score per id."""
    check_method(method, model, arch, steps)
    x = torch.tensor([list(ids)], dtype=torch.long)
    mask = torch.ones_like(x)
    completeness = None
    attention: list[list[float]] = []
    layers: list[list[float]] = []
    note = ""
    if method in ("ig", "ixg"):
        scores, completeness = _gradients(model, x, mask, special, target, method, pad_id, steps)
        if completeness is not None and completeness.relative_gap > LARGE_GAP:
            note = (
                f"the completeness gap is {completeness.relative_gap:.0%} of f(x) - f(baseline): "
                "raise steps for a truer explanation"
            )
    elif method == "occlusion":
        scores = _occlusion(model, x, special, target)
    else:
        scores, attention, layers = _attention(model, arch, x, mask)
    return P.Explanation(
        method=method,
        target=target_name,
        scores=scores,
        words=word_scores(text, spans, scores),
        completeness=completeness,
        attention=attention,
        layers=layers,
        note=note,
    )


def _gradients(
    model: Any,
    x: Tensor,
    mask: Tensor,
    special: Sequence[int],
    target: int,
    method: str,
    pad_id: int,
    steps: int,
) -> tuple[list[float], P.Completeness | None]:
    from captum.attr import InputXGradient, IntegratedGradients

    def logits(vectors: Tensor) -> Tensor:
        out: Tensor = model.forward_embeddings(vectors, mask.expand(vectors.shape[0], -1))
        return out.float()

    with torch.no_grad():
        vectors = model.embed(x).detach().float()
    vectors.requires_grad_(True)
    if method == "ixg":
        attr = InputXGradient(logits).attribute(vectors, target=target)
        return [float(v) for v in attr.detach().sum(-1)[0]], None
    keep = torch.tensor([list(special)], dtype=torch.bool)
    with torch.no_grad():
        baseline = model.embed(torch.where(keep, x, torch.full_like(x, pad_id))).detach().float()
    n = steps or DEFAULT_STEPS
    attr, delta = IntegratedGradients(logits).attribute(
        vectors,
        baselines=baseline,
        target=target,
        n_steps=n,
        method="riemann_trapezoid",
        internal_batch_size=INTERNAL_BATCH,
        return_convergence_delta=True,
    )
    with torch.no_grad():
        f_x = float(logits(vectors)[0, target])
        f_b = float(logits(baseline)[0, target])
    total = float(attr.detach().sum())
    gap = float(delta.reshape(-1)[0])
    change = f_x - f_b
    completeness = P.Completeness(
        attributions_sum=total,
        f_input=f_x,
        f_baseline=f_b,
        gap=gap,
        relative_gap=abs(gap) / abs(change) if change else (0.0 if not gap else float("inf")),
        steps=n,
    )
    return [float(v) for v in attr.sum(-1)[0].detach()], completeness


def leave_out(model: Any, ids: Tensor, keep: Tensor) -> Tensor:
    """Logits of each row of ids [N, T] read without the tokens keep [N, T] marks 0: the rest
    moved up in their order, as if the text never had them."""
    aligned, mask, _ = right_align(ids, keep.long())
    out: Tensor = model(aligned, mask)
    return out.float()


def _occlusion(model: Any, x: Tensor, special: Sequence[int], target: int) -> list[float]:
    from captum.attr import FeatureAblation

    def probability(keep: Tensor) -> Tensor:
        logits = leave_out(model, x.expand(keep.shape[0], -1), keep)
        return torch.softmax(logits, dim=-1)

    keep = torch.ones(x.shape, dtype=torch.float32)
    with torch.no_grad():
        attr = FeatureAblation(probability).attribute(
            keep,
            baselines=0.0,
            target=target,
            perturbations_per_eval=OCCLUSION_BATCH,
        )
    return [0.0 if s else float(v) for v, s in zip(attr[0], special, strict=True)]


def _attention(
    model: Any, arch: str, x: Tensor, mask: Tensor
) -> tuple[list[float], list[list[float]], list[list[float]]]:
    """(scores from the pooled position, the last layer's matrix, each layer's pooled row)."""
    with torch.no_grad():
        if arch == "attention-rnn":
            model(x, mask)
            row = model.last_attention[0].float()
            return [float(v) for v in row], [[float(v) for v in row]], [[float(v) for v in row]]
        if arch == "transformer":
            maps = _encoder_attention(model, x, mask)
            pooled_first = model.config.pooling == "cls"
        else:
            maps = _hf_attention(model.model, x, mask)
            pooled_first = True  # the [CLS] head
    rows = [m[0] if pooled_first else m.mean(dim=0) for m in maps]
    last = maps[-1]
    matrix = [[float(v) for v in r] for r in last] if last.shape[0] <= MATRIX_LIMIT else []
    return [float(v) for v in rows[-1]], matrix, [[float(v) for v in r] for r in rows]


def _encoder_attention(model: Any, x: Tensor, mask: Tensor) -> list[Tensor]:
    """Each pre-LN layer's self-attention [T, T] (heads averaged), from hooks that read every
    layer's input and ask its attention for the weights the fast path leaves out."""
    inputs: list[Tensor] = []
    layers: Sequence[nn.TransformerEncoderLayer] = list(model.encoder.layers)
    handles = [
        layer.register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach()))
        for layer in layers
    ]
    try:
        model(x, mask)
    finally:
        for h in handles:
            h.remove()
    out = []
    for layer, h in zip(layers, inputs, strict=True):
        normed = layer.norm1(h) if layer.norm_first else h
        _, weights = layer.self_attn(normed, normed, normed, need_weights=True)
        out.append(weights[0].float())
    return out


def _hf_attention(hf: Any, x: Tensor, mask: Tensor) -> list[Tensor]:
    """A Hugging Face encoder's attention per layer [T, T] (heads averaged), with eager
    attention for this call only."""
    was = getattr(hf.config, "_attn_implementation", None)
    swap: Callable[[str], None] | None = getattr(hf, "set_attn_implementation", None)
    if swap is not None and was != "eager":
        swap("eager")
    try:
        out = hf(input_ids=x, attention_mask=mask, output_attentions=True)
    finally:
        if swap is not None and was and was != "eager":
            swap(was)
    if not out.attentions or out.attentions[0] is None:
        raise EngineError("this model returned no attention weights", hint="use ig or occlusion")
    return [a[0].float().mean(dim=0) for a in out.attentions]


def word_scores(
    text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float]
) -> list[P.WordScore]:
    """Token scores summed per word of the text (a run of word characters, or of punctuation):
    a token belongs to the word its first character is in; specials ((0, 0)) to none."""
    words = [(m.start(), m.end()) for m in WORD.finditer(text)]
    sums = [0.0] * len(words)
    seen = [False] * len(words)
    w = 0
    for (start, end), score in sorted(zip(spans, scores, strict=True), key=lambda p: p[0][0]):
        if end <= start:
            continue
        while w < len(words) and words[w][1] <= start:
            w += 1
        if w < len(words) and words[w][0] <= start < words[w][1]:
            sums[w] += score
            seen[w] = True
    return [
        P.WordScore(start=a, end=b, score=s)
        for (a, b), s, hit in zip(words, sums, seen, strict=True)
        if hit
    ]
