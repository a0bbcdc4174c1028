"""Drawing tokens: coloured chips with their ids, the text they came from, model-input grids.

Pure functions from protocol values to rich renderables, so tests can check
exactly what a person will see.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from engine import protocol as P

CHIP_COLOURS = ["#1f4e79", "#385723", "#7f6000", "#5b2c6f", "#1b5e5e", "#7b3f00"]
SPECIAL = "bold #ffffff on #8e24aa"
UNKNOWN = "bold #ffffff on #c62828"
PAD = "#808080"
MAX_CHIPS = 600  # beyond this a view shows counts, not chips: a 1 MB paste stays responsive


def _show(token: str) -> str:
    """Make whitespace and control characters visible inside a chip."""
    return (
        token.replace(" ", "␣")
        .replace("\n", "⏎")
        .replace("\t", "⇥")
        .translate({c: 0x2400 + c for c in range(32) if c not in (9, 10)})
    )


def chip_style(view: P.TokenView, i: int) -> str:
    if view.special[i]:
        return SPECIAL
    if view.unknown[i]:
        return UNKNOWN
    return f"#ffffff on {CHIP_COLOURS[i % len(CHIP_COLOURS)]}"


def chips(view: P.TokenView, limit: int = MAX_CHIPS) -> Text:
    """Each token as a chip `token·id`, specials and unknowns marked."""
    text = Text()
    shown = min(len(view.tokens), limit)
    for i in range(shown):
        text.append(f" {_show(view.tokens[i])}", style=chip_style(view, i))
        text.append(f"·{view.ids[i]} ", style=chip_style(view, i) + " dim")
        text.append(" ")
    if view.n_tokens > shown:
        text.append(f" … {view.n_tokens - shown:,} more tokens", style="italic dim")
    return text


def mapped_text(view: P.TokenView, source: str, limit: int = 4000) -> Text:
    """The source text with each token's characters in its chip's colour.

    Characters no token covers (spaces a tokenizer drops) stay plain; that is
    how a person sees what the tokenizer threw away.
    """
    cut = source[:limit]
    text = Text(_show_plain(cut))
    for i, (a, b) in enumerate(view.offsets[: min(len(view.offsets), MAX_CHIPS)]):
        if b > a and not view.special[i] and a < len(cut):
            style = UNKNOWN if view.unknown[i] else f"on {CHIP_COLOURS[i % len(CHIP_COLOURS)]}"
            text.stylize(style, a, min(b, len(cut)))
    if len(source) > limit:
        text.append(f" … ({len(source):,} characters)", style="italic dim")
    return text


def _show_plain(s: str) -> str:
    # one cell per character keeps offsets and columns aligned
    return s.replace("\n", "⏎").replace("\t", "⇥")


def summary(name: str, view: P.TokenView) -> Text:
    unknown = sum(view.unknown)
    special = sum(view.special)
    text = Text()
    text.append(name, style="bold")
    text.append(f"  {view.n_tokens:,} tokens")
    if special:
        text.append(f", {special} special", style="#ce93d8")
    if unknown:
        text.append(f", {unknown} unknown", style="bold red")
    if view.overflow:
        text.append(f", {view.overflow} cut by truncation", style="yellow")
    if view.clipped_chars:
        text.append(f", last {view.clipped_chars:,} characters not encoded", style="yellow")
    return text


def model_input_grid(
    result: P.TokenizeResult, lines: list[str], width: int, show_tokens: bool = False
) -> Table:
    """input_ids (or tokens), attention_mask and token_type_ids, one row per line."""
    views = result.encodings
    positions = max((len(v.ids) for v in views), default=0)
    cell = 6 if show_tokens else 5
    fit = max((width - 6) // (cell + 1), 1)
    table = Table(box=None, padding=(0, 1, 0, 0), show_header=True, header_style="dim")
    table.add_column("", style="bold", no_wrap=True)
    for p in range(min(positions, fit)):
        table.add_column(str(p), justify="right", width=cell, no_wrap=True, overflow="crop")
    for row_no, view in enumerate(views):
        cells: list[Text] = []
        for p in range(min(len(view.ids), fit)):
            padded = view.attention_mask[p] == 0
            value = view.tokens[p] if show_tokens and view.tokens else str(view.ids[p])
            style = PAD if padded else ("#ce93d8" if view.special[p] else "")
            if view.unknown and view.unknown[p]:
                style = "bold red"
            cells.append(Text(value[:cell], style=style))
        label = f"{row_no}" + ("✂" if view.truncated else "")
        table.add_row(label, *cells)
    return table


def mask_rows(result: P.TokenizeResult, width: int) -> Text:
    """attention_mask and token_type_ids as compact digit rows."""
    text = Text()
    fit = max(width - 12, 10)
    for name, attr in (("attention", "attention_mask"), ("type ids", "type_ids")):
        text.append(f"{name}\n", style="bold")
        for row_no, view in enumerate(result.encodings):
            digits = "".join(str(d) for d in getattr(view, attr)[:fit])
            more = "…" if len(getattr(view, attr)) > fit else ""
            text.append(f"{row_no:>3} ")
            for d in digits:
                text.append(d, style="green" if d == "1" else PAD)
            text.append(more + "\n")
    return text
