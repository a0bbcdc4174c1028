"""The embeddings screen's settings without Textual: vector sources, k, the word groups a
projection shows, and the calls they make."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine import protocol as P

K_CHOICES = [5, 10, 20, 50]
SENTENCES = (
    "A bat flew out of the cave at dusk.\n"
    "He swung the baseball bat and missed.\n"
    "The bat hung upside down in the dark barn.\n"
    "She bought a new cricket bat."
)
PRESETS: list[tuple[str, dict[str, list[str]]]] = [
    (
        "animals, vehicles, fruit",
        {
            "pets": ["dog", "cat", "hamster", "parrot", "rabbit", "puppy"],
            "vehicles": ["car", "truck", "bus", "bicycle", "motorcycle", "train"],
            "fruit": ["apple", "banana", "orange", "mango", "grape", "pear"],
        },
    ),
    (
        "countries and capitals",
        {
            "countries": ["france", "italy", "germany", "spain", "japan", "china"],
            "capitals": ["paris", "rome", "berlin", "madrid", "tokyo", "beijing"],
        },
    ),
    (
        "sentiment words",
        {
            "good": ["good", "great", "excellent", "wonderful", "brilliant", "superb"],
            "bad": ["bad", "terrible", "awful", "horrible", "dreadful", "boring"],
        },
    ),
]


def after(current: str | None, options: list[str | None]) -> str | None:
    """The option after current, wrapping round; the first when current is not one, current
    when there are none."""
    if not options:
        return current
    i = options.index(current) if current in options else -1
    return options[(i + 1) % len(options)]


def sentences_of(text: str) -> list[str]:
    """One sentence per non-blank line."""
    return [s.strip() for s in text.splitlines() if s.strip()]


# ----------------------------------------------------------------- the context matrices

MATRIX_CELL = 5  # `0.93 `
MATRIX_LABEL = 16  # room a sentence keeps before the columns


@dataclass(frozen=True)
class ColumnWindow:
    """Columns [start, stop) of n shown."""

    start: int
    stop: int
    n: int

    @property
    def after(self) -> int:
        return self.n - self.stop


def matrix_window(n: int, width: int, start: int) -> ColumnWindow:
    """The similarity columns that fit in width beside a label of MATRIX_LABEL (and the
    `+N →` mark when some do not), from start; the last page is kept full."""
    fit = max((width - MATRIX_LABEL) // MATRIX_CELL, 1)
    if n > fit:
        fit = max((width - MATRIX_LABEL - 6) // MATRIX_CELL, 1)
    start = max(min(start, n - fit), 0)
    return ColumnWindow(start, min(start + fit, n), n)


def page_columns(window: ColumnWindow, direction: int) -> int:
    """Where the next (+1) or previous (-1) page of columns starts."""
    fit = max(window.stop - window.start, 1)
    if direction > 0:
        return min(window.start + fit, max(window.n - fit, 0))
    return max(window.start - fit, 0)


# ----------------------------------------------------------------- word groups as text

GROUPS_HELP = "name: word word ...; name2: word ... (a group a line or ;, esc projects)"
MAX_GROUPS = 12


def groups_text(groups: dict[str, list[str]]) -> str:
    """Groups as the user types them: `name: w1 w2; name2: w3 w4`."""
    return "; ".join(f"{name}: {' '.join(words)}" for name, words in groups.items())


def parse_groups(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """Groups from `name: w1 w2 w3; name2: ...` (`;` or new lines between groups, spaces or
    commas between words), and what is wrong with the text (nothing is sent when anything
    is). A group without a name is called `words`; a name used twice gets both lists."""
    groups: dict[str, list[str]] = {}
    problems: list[str] = []
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    for n, part in enumerate(parts, 1):
        name, colon, rest = part.partition(":")
        if not colon:
            name, rest = "words", part
        name = name.strip()
        words = [w for w in re.split(r"[\s,]+", rest.strip()) if w]
        if not name:
            problems.append(f"group {n} has no name before its ':'")
        elif not words:
            problems.append(f"group '{name}' has no words after its ':'")
        else:
            have = groups.setdefault(name, [])
            have += [w for w in words if w not in have]
    if not parts:
        problems.append("no groups: type name: word word ...; name2: word ...")
    if len(groups) > MAX_GROUPS:
        problems.append(f"{len(groups)} groups: {MAX_GROUPS} at most, so each keeps a marker")
    return groups, problems


@dataclass
class EmbeddingOptions:
    """The static vectors searched (and a second one to compare), how many neighbours, and
    what the projection shows: a preset of word groups, PCA or t-SNE, the query's neighbours."""

    source: str = "glove-6b-50d"
    compare: str | None = "minilm-input"
    k: int = 10
    preset: int = 0
    method: str = "pca"
    near_group: bool = False
    groups: str = field(default_factory=lambda: groups_text(PRESETS[0][1]))  # as typed

    @property
    def searched(self) -> list[str]:
        """The sources a query goes to: the source, then the one compared with it."""
        return [self.source] + ([self.compare] if self.compare else [])

    def cycle_source(self, static: Sequence[str]) -> str:
        """The next static source. Landing on the compared one swaps the two, so both stay
        meaningful; returns what to tell the user then ("" otherwise)."""
        old = self.source
        self.source = after(self.source, list(static)) or self.source
        if self.compare is not None and self.source == self.compare:
            self.compare = old if old != self.source else None
            return f"source {self.source}, compared with {self.compare or 'nothing'} (swapped)"
        return ""

    def cycle_compare(self, static: list[str]) -> None:
        """The next static source other than the source, then off."""
        options: list[str | None] = [s for s in static if s != self.source]
        self.compare = after(self.compare, [*options, None])

    def cycle_k(self) -> None:
        self.k = K_CHOICES[(K_CHOICES.index(self.k) + 1) % len(K_CHOICES)]

    def cycle_preset(self) -> None:
        """The next preset's groups replace the typed ones (your own text: type it again)."""
        self.preset = (self.preset + 1) % len(PRESETS) if self.is_preset else self.preset
        self.groups = groups_text(PRESETS[self.preset][1])

    @property
    def is_preset(self) -> bool:
        return self.groups == groups_text(PRESETS[self.preset][1])

    def set_groups(self, text: str) -> list[str]:
        """Typed groups; what is wrong with them (then the projection keeps the old ones)."""
        _, problems = parse_groups(text)
        if not problems:
            self.groups = text.strip()
        return problems

    def toggle_method(self) -> None:
        self.method = "tsne" if self.method == "pca" else "pca"

    def toggle_near(self) -> None:
        self.near_group = not self.near_group

    def describe(self) -> str:
        cmp = self.compare or "off"
        return f"source {self.source} (s) · compare {cmp} (c) · k {self.k} (K)"

    def describe_projection(self) -> str:
        preset = f"{PRESETS[self.preset][0]} (w)" if self.is_preset else "your own (e; w: presets)"
        near = "on" if self.near_group else "off"
        return f"groups: {preset} · {self.method} (m) · query's neighbours {near} (o)"

    def neighbours_calls(self, query: str) -> list[P.Neighbours]:
        return [P.Neighbours(query=query, source=n, k=self.k) for n in self.searched]

    def projection_call(self, query: str) -> P.Project:
        """The groups, with the neighbours of the query's first word when asked."""
        groups, _ = parse_groups(self.groups)
        words = query.strip().split()
        near = words[0] if self.near_group and words else None
        return P.Project(
            groups=groups,
            neighbours_of=near,
            k=self.k,
            source=self.source,
            method=self.method,  # type: ignore[arg-type]
        )


# ----------------------------------------------------------------- the projection's scatter

MARKERS = "●▲■◆✚★○△□◇✕♦"  # one per group (MAX_GROUPS), so groups read without colour


@dataclass
class Placed:
    """A label drawn at row, col (its first character)."""

    row: int
    col: int
    text: str
    point: int  # index into the points


@dataclass
class ScatterLayout:
    """Where each point's marker and label go in a width x height grid of cells.

    markers: (row, col) -> index of the point drawn there (the first one in that cell);
    labels: the labels that fit without touching another label, a marker or the edge;
    hidden: points with a marker of their own whose label did not fit (never cut: a label
    is whole or not drawn); stacked: points under another point's marker (same cell), which
    get no label either."""

    width: int
    height: int
    markers: dict[tuple[int, int], int]
    labels: list[Placed]
    hidden: int
    stacked: int


def cell_of(
    x: float, y: float, bounds: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int]:
    """(row, col) of a point; y grows upwards, so its largest value is row 0."""
    x0, x1, y0, y1 = bounds
    col = round((x - x0) / (x1 - x0) * (width - 1)) if x1 > x0 else width // 2
    row = round((y1 - y) / (y1 - y0) * (height - 1)) if y1 > y0 else height // 2
    return min(max(row, 0), height - 1), min(max(col, 0), width - 1)


def scatter_layout(
    points: Sequence[tuple[str, float, float]],
    width: int,
    height: int,
    first: int | None = None,
) -> ScatterLayout:
    """Markers for every point and as many whole labels as fit: each label tries right of
    its point, left of it, then the rows above and below; one that fits nowhere is hidden
    and counted. The label of point `first` (the highlighted one) is placed before the rest."""
    width, height = max(width, 1), max(height, 1)
    markers: dict[tuple[int, int], int] = {}
    cells: list[tuple[int, int]] = []
    if points:
        xs, ys = [p[1] for p in points], [p[2] for p in points]
        bounds = (min(xs), max(xs), min(ys), max(ys))
        for _, x, y in points:
            cells.append(cell_of(x, y, bounds, width, height))
        if first is not None and 0 <= first < len(points):
            markers[cells[first]] = first  # the highlighted point is drawn, stacked or not
        for i, cell in enumerate(cells):
            markers.setdefault(cell, i)
    stacked = len(points) - len(markers)
    label_at = [[False] * width for _ in range(height)]
    labels: list[Placed] = []
    hidden = 0
    order = list(range(len(points)))
    if first is not None and 0 <= first < len(points):
        order.remove(first)
        order.insert(0, first)

    def free(row: int, col: int, n: int) -> bool:
        """No marker or label under it, and a space between it and any other label."""
        if row < 0 or row >= height or col < 0 or col + n > width:
            return False
        if any((row, k) in markers or label_at[row][k] for k in range(col, col + n)):
            return False
        return not (col > 0 and label_at[row][col - 1]) and not (
            col + n < width and label_at[row][col + n]
        )

    for i in order:
        word = points[i][0]
        n = len(word)
        r, c = cells[i]
        if markers.get((r, c)) != i:
            continue  # under another point's marker (counted in stacked): no label of its own
        spots = ((r, c + 1), (r, c - n), (r - 1, c), (r + 1, c), (r - 1, c - n + 1))
        spot = next((s for s in (*spots, (r + 1, c - n + 1)) if free(s[0], s[1], n)), None)
        if spot is None:
            hidden += 1
            continue
        row, col = spot
        for k in range(col, col + n):
            label_at[row][k] = True
        labels.append(Placed(row, col, word, i))
    return ScatterLayout(width, height, markers, labels, hidden, stacked)


def point_order(points: Sequence[tuple[str, float, float]]) -> list[int]:
    """The order j/k walks the points in: left to right, then top to bottom."""
    return sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][2]))
