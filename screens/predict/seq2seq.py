"""The prediction console's sequence-to-sequence half: when model A is a seq2seq run, enter (or
typing, when live) translates the text, and the answer shows the output and the attention heat
map: one row per output step, one column per source token, each cell shaded by the weight
(light to dark, readable without colour). `m` cycles the beam width (the run's own, then 1, 3,
5)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from engine import protocol as P

BEAMS = (0, 1, 3, 5)  # 0: the run's own beam width
SHADES = " ░▒▓█"
STYLES = ("", "grey50", "grey70", "white", "bold white")


def is_seq2seq(run: P.RunInfo | None) -> bool:
    return run is not None and run.arch == "seq2seq"


def next_beam(now: int) -> int:
    return BEAMS[(BEAMS.index(now) + 1) % len(BEAMS)] if now in BEAMS else BEAMS[0]


def beam_label(beam: int) -> str:
    return "beam: the run's" if beam == 0 else "greedy" if beam == 1 else f"beam {beam}"


def _cell(weight: float, width: int) -> Text:
    level = min(len(SHADES) - 1, int(weight * len(SHADES)))
    return Text(SHADES[level] * width, style=STYLES[level])


def _shown(token: str, width: int) -> str:
    token = token.replace(" ", "␣").replace("\n", "⏎")
    return token[:width].ljust(width)


def translation_view(res: P.TranslateResult, room: int) -> RenderableType:
    """The output, how it was decoded, and the heat map cut to room cells wide."""
    head = Text("output  ", style="dim")
    head.append(res.output or "(empty)", style="bold")
    how = "greedy" if res.beam_width == 1 else f"beam {res.beam_width}"
    facts = Text(
        f"{len(res.output_tokens)} tokens · {how} · log p {res.log_prob:.2f}"
        + ("" if res.ended else " · cut at max_output"),
        style="dim",
    )
    notes = []
    if res.truncated:
        notes.append(Text("the source was cut to the run's max_length tokens", style="yellow"))
    if res.unknown:
        notes.append(Text(f"{res.unknown} source token(s) unknown to the run", style="yellow"))
    outputs = [*res.output_tokens, "[EOS]"][: len(res.attention)]
    label = max([6, *(min(len(t), 10) for t in outputs)])
    width = 1 if all(len(t) == 1 for t in res.source_tokens) else 3
    step = width + (0 if width == 1 else 1)
    columns = max(1, (room - label - 2) // step)
    src = res.source_tokens[:columns]
    header = Text(" " * (label + 1), style="dim")
    for t in src:
        header.append(_shown(t, width) + (" " if width > 1 else ""), style="bold")
    rows = [header]
    for token, weights in zip(outputs, res.attention, strict=True):
        line = Text(_shown(token, label) + " ", style="bold" if token != "[EOS]" else "dim")
        for w in weights[: len(src)]:
            line.append_text(_cell(w, width))
            if width > 1:
                line.append(" ")
        rows.append(line)
    more = len(res.source_tokens) - len(src)
    legend = Text("attention: rows are output steps, columns source tokens; ", style="dim")
    legend.append(" ░▒▓█", style="white")
    legend.append(" light to heavy", style="dim")
    if more:
        legend.append(f" · {more} more source tokens to the right", style="yellow")
    return Group(head, facts, *notes, Text(""), *rows, legend)
