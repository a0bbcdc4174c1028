"""Scores over a text as colour, for the CLI and the prediction console alike: each character
takes the score of the token (or word) its span covers, green for evidence for the explained
class and red against, stronger the larger the score against the text's largest."""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from engine import protocol as P

FOR = (38, 139, 70)  # green: raises the explained class
AGAINST = (200, 50, 50)  # red: lowers it
SHADES = 6  # strengths; more would not be told apart in a terminal


def shade(score: float, scale: float) -> Style:
    """A background for a score against the largest |score| of the text (scale)."""
    if not scale or not score:
        return Style()
    level = min(SHADES, max(1, round(abs(score) / scale * SHADES)))
    r, g, b = FOR if score > 0 else AGAINST
    mix = level / SHADES
    colour = f"rgb({round(r * mix)},{round(g * mix)},{round(b * mix)})"
    return Style(bgcolor=colour, bold=level >= SHADES - 1)


def coloured(text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float]) -> Text:
    """The text with each span's characters on the colour of its score; spans that overlap
    (subwords of one character) take the larger score."""
    out = Text(text)
    scale = max((abs(s) for s in scores), default=0.0)
    for (start, end), score in zip(spans, scores, strict=True):
        if end > start:
            out.stylize(shade(score, scale), start, end)
    return out


def explanation_text(text: str, pred: P.Prediction, by_word: bool = False) -> Text:
    """A prediction's explanation over its text, by token or summed per word."""
    ex = pred.explanation
    if ex is None:
        return Text(text)
    if by_word:
        return coloured(text, [(w.start, w.end) for w in ex.words], [w.score for w in ex.words])
    return coloured(text, pred.spans, ex.scores)


def completeness_line(ex: P.Explanation) -> str:
    """Integrated gradients' check in one line ('' for other methods)."""
    c = ex.completeness
    if c is None:
        return ""
    return (
        f"completeness: attributions sum {c.attributions_sum:+.4f}, "
        f"f(x) - f(baseline) {c.f_input - c.f_baseline:+.4f} "
        f"(gap {c.gap:+.4f}, {c.relative_gap:.1%}) with {c.steps} steps"
    )


def top_tokens(pred: P.Prediction, n: int = 8) -> list[tuple[str, float]]:
    """The n tokens of largest |score|, largest first."""
    ex = pred.explanation
    if ex is None:
        return []
    order = sorted(range(len(ex.scores)), key=lambda i: -abs(ex.scores[i]))[:n]
    return [(pred.tokens[i], ex.scores[i]) for i in order if ex.scores[i]]
