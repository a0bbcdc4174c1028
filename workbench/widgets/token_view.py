"""Drawing tokens: coloured chips with their ids, the text they came from, model-input grids.

Pure functions from protocol values to rich renderables, so tests can check
exactly what a person will see.
"""

from __future__ import annotations

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


def _cut(value: str, cell: int) -> str:
    return value if len(value) <= cell else value[: cell - 1] + "…"


def input_grid(
    views: list[P.TokenView], start: int, stop: int, cell: int, show_tokens: bool = False
) -> Text:
    """Positions [start, stop) of a batch: input_ids (or tokens), attention_mask and
    token_type_ids, one row per line, each cell `cell` wide, in lines that never wrap.

    What is cut is marked: `←N` (positions before), `+N more →` (after), `…` at the end
    of a row that goes on, a token longer than its cell ends with `…`, `✂` marks a row that
    truncation cut."""
    positions = max((len(v.ids) for v in views), default=0)
    before, after = start, max(positions - stop, 0)
    lines: list[Text] = []
    head = Text(f"{'←' + str(before) if before else '':<4} ", style="dim")
    for p in range(start, stop):
        head.append(f"{p:>{cell}} ", style="dim")
    if after:
        head.append(f"+{after} more →", style="bold yellow")
    what = "tokens" if show_tokens else "input_ids"
    sections: list[tuple[str, str]] = [(what, "ids"), ("attention_mask", "attention_mask")]
    sections.append(("token_type_ids", "type_ids"))
    for title, attr in sections:
        lines.append(Text(title, style="bold"))
        if title == what:
            lines.append(head)
        for row_no, view in enumerate(views):
            line = f"{view.line}.{view.window + 1}" if view.windows > 1 else str(row_no)
            label = f"{line}{'✂' if view.truncated else ''}"
            row = Text(f"{label:<4} ", style="bold")
            values: list[int] = getattr(view, attr)
            for p in range(start, min(stop, len(values))):
                padded = view.attention_mask[p] == 0
                if attr == "ids":
                    raw = view.tokens[p] if show_tokens and view.tokens else str(view.ids[p])
                    style = PAD if padded else ("#ce93d8" if view.special[p] else "")
                    if view.unknown and view.unknown[p]:
                        style = "bold red"
                else:
                    raw = str(values[p])
                    style = PAD if values[p] == 0 else "green"
                row.append(f"{_cut(_show(raw), cell):>{cell}}", style=style)
                row.append(" ")
            if len(values) > stop:
                row.append("…", style="bold yellow")
            lines.append(row)
    return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)
