"""A confusion matrix drawn in a terminal, without Textual: short class codes, the layout that fits
the width, heat shading by the share of the true class's row, and a cell's description."""

from __future__ import annotations

import re

from engine import protocol as P

# --------------------------------------------------------------------- confusion matrix

SHADES = " ·░▒▓█"  # share of the true class's row: 0, <10%, <25%, <50%, <75%, more
SHADE_LEGEND = "· <10%  ░ <25%  ▒ <50%  ▓ <75%  █ more of the row"


def class_codes(labels: list[str], width: int = 3) -> list[str]:
    """Short unique codes (at most width characters) for a matrix's columns: the label when
    every label is that short, else the initials of its parts (comp.sys.mac.hardware: csm),
    or a word's first letters (interest: int); a taken code tries later letters, then digits."""
    if all(len(lab) <= width for lab in labels) and len(set(labels)) == len(labels):
        return list(labels)
    taken: set[str] = set()
    out: list[str] = []
    for label in labels:
        parts = [p.lower() for p in re.split(r"[^0-9A-Za-z]+", label) if p] or ["x"]
        if len(parts) == 1:
            word = parts[0]
            first = word[:width]
            later = [word[: width - 1] + c for c in word[width - 1 :]]
        else:
            initials = "".join(p[0] for p in parts)
            first = initials[:width]
            later = [first[: width - 1] + c for c in parts[-1][1:] + "".join(parts[:-1])]
        digits = [first[: width - len(str(n))] + str(n) for n in range(1, 100)]
        code = next(c for c in [first, *later, *digits] if c and c not in taken)
        taken.add(code)
        out.append(code)
    return out


def matrix_layout(classes: int, width: int) -> tuple[int, int]:
    """(code width, label width) of a confusion matrix that fits width cells: each column is
    a code wide plus a space; each row starts with its code and as much of its label as fits."""
    for code_w, label_w in ((4, 16), (3, 14), (3, 10), (2, 10), (2, 6), (2, 0)):
        head = code_w + 1 + (label_w + 1 if label_w else 0)
        if head + classes * (code_w + 1) <= width:
            return code_w, label_w
    return 2, 0


def shade(count: int, row_total: int) -> str:
    """The heat of a cell as a character (reads without colour)."""
    if count <= 0 or row_total <= 0:
        return SHADES[0]
    share = count / row_total
    for i, bound in enumerate((0.10, 0.25, 0.50, 0.75)):
        if share < bound:
            return SHADES[i + 1]
    return SHADES[-1]


def cell_text(rep: P.EvalReport, t: int, p: int, codes: list[str]) -> str:
    """What the status line says about one cell: both labels, the count and its share."""
    row = rep.confusion[t]
    total = sum(row)
    share = f" ({100 * row[p] / total:.1f}% of {total:,})" if total else ""
    kind = "right" if t == p else "wrong"

    def named(i: int) -> str:  # the code, and the name where the code is short for it
        return rep.labels[i] if codes[i] == rep.labels[i] else f"{codes[i]} {rep.labels[i]}"

    return f"true {named(t)} → predicted {named(p)}: {row[p]:,}{share}, {kind}"
