"""The tokenizer inspector's settings without Textual: what each key changes, the calls they
make, and which tokenizers are compared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple, TypeVar

from engine import protocol as P

PADDINGS: list[str] = ["longest", "max_length", "none"]
MAX_LENGTHS = [8, 16, 32, 64, 128, 256, 512]
BATCH_SIZES = [8, 16, 32, 64, 128]
KINDS = ["bow", "tfidf", "onehot"]
SAMPLE = "I love my dog! Tokenizers split unbelievably long words 🙂"
MAX_COMPARED = 3
GRID_ROWS = 8  # lines of the text the model-input grid shows, one row each
KEPT_TEXT = 20_000  # characters of the text kept for the next start (the view file stays small)

T = TypeVar("T")


def after(options: Sequence[T], current: object) -> T:
    """The option after current, wrapping round; the first when current is not one."""
    i = options.index(current) if current in options else -1
    return options[(i + 1) % len(options)]


def still_compared(selected: list[str], available: list[str]) -> list[str]:
    """The tokenizers still compared once the list is refreshed: those still there, else the
    first two available."""
    return [n for n in selected if n in available] or available[:2]


def put_first(name: str, selected: list[str]) -> list[str]:
    """name first, then the others already compared (a tokenizer just trained or added)."""
    return [name, *[n for n in selected if n != name]][:MAX_COMPARED]


def grid_lines(text: str) -> list[str]:
    """The non-empty lines of the text the grid shows (at least one, maybe empty)."""
    return [ln for ln in text.splitlines() if ln][:GRID_ROWS] or [""]


def hidden_lines(text: str) -> int:
    """Non-empty lines past the ones the grid shows."""
    return max(sum(1 for ln in text.splitlines() if ln) - GRID_ROWS, 0)


# ----------------------------------------------------------------- the model-input grid


class GridWindow(NamedTuple):
    """Which token positions the grid shows: [start, stop) of positions, so many cells wide."""

    start: int
    stop: int
    positions: int
    cell: int

    @property
    def before(self) -> int:
        return self.start

    @property
    def after(self) -> int:
        return self.positions - self.stop


GRID_LABEL = 5  # the row label: line number, the truncation mark, a space
GRID_MARK = 11  # `+512 more →` after the last column shown


def grid_cell(values: Sequence[str]) -> int:
    """Cell width for these values (ids or tokens): the widest, within 4..8 characters."""
    return min(max((len(v) for v in values), default=1), 8) if values else 4


def grid_window(positions: int, width: int, start: int, cell: int) -> GridWindow:
    """The positions that fit in width from start (clamped so the last page is full); room
    is kept for the `+N more →` marker when something is cut."""
    cell = max(cell, 4)
    fit = max((width - GRID_LABEL) // (cell + 1), 1)
    if positions > fit:  # room for the markers that say what is cut
        fit = max((width - GRID_LABEL - GRID_MARK) // (cell + 1), 1)
    start = max(min(start, positions - fit), 0)
    return GridWindow(start, min(start + fit, positions), positions, cell)


def page_start(window: GridWindow, direction: int) -> int:
    """Where the next (+1) or previous (-1) page of positions starts."""
    fit = max(window.stop - window.start, 1)
    if direction > 0:
        return min(window.start + fit, max(window.positions - fit, 0))
    return max(window.start - fit, 0)


@dataclass
class InspectorOptions:
    """How the text is tokenized on each tab: padding and truncation for the model-input grid,
    batch size and max length for the dataset view, the encoding kind, the dataset."""

    padding: str = "longest"
    truncation: bool = False
    strategy: str = "head"  # how truncation reads a long line (a run's [data] truncation)
    max_length: int = 16
    side: str = "right"
    specials: bool = True
    show_tokens: bool = False  # the grid shows tokens instead of ids
    batch_size: int = 32
    data_max_length: int = 512  # the dataset view's own max length
    kind: str = "bow"
    dataset: str = "rotten-tomatoes"

    def cycle_padding(self) -> None:
        self.padding = after(PADDINGS, self.padding)

    def toggle_truncation(self) -> None:
        """off, then each strategy a run may read with (head, tail, head+tail, windows)."""
        if not self.truncation:
            self.truncation, self.strategy = True, P.TRUNCATIONS[0]
        elif self.strategy == P.TRUNCATIONS[-1]:
            self.truncation, self.strategy = False, P.TRUNCATIONS[0]
        else:
            self.strategy = after(P.TRUNCATIONS, self.strategy)

    def cycle_max_length(self, dataset_view: bool) -> None:
        """The next max length of the dataset view's, or else of the grid's."""
        if dataset_view:
            self.data_max_length = after(MAX_LENGTHS, self.data_max_length)
        else:
            self.max_length = after(MAX_LENGTHS, self.max_length)

    def toggle_side(self) -> None:
        self.side = "left" if self.side == "right" else "right"

    def toggle_specials(self) -> None:
        self.specials = not self.specials

    def toggle_cells(self) -> None:
        self.show_tokens = not self.show_tokens

    def cycle_batch(self) -> None:
        self.batch_size = after(BATCH_SIZES, self.batch_size)

    def cycle_kind(self) -> None:
        self.kind = after(KINDS, self.kind)

    def cycle_dataset(self, datasets: list[str]) -> bool:
        """The next of datasets; whether there was one to move to."""
        if not datasets:
            return False
        self.dataset = after(datasets, self.dataset)
        return True

    def keep_dataset(self, datasets: list[str]) -> None:
        """Stay on the dataset if it is still there, else take the first."""
        if self.dataset not in datasets and datasets:
            self.dataset = datasets[0]

    def describe_grid(self) -> str:
        return (
            f"padding {self.padding} (p) · truncation {self.strategy if self.truncation else 'off'} "
            f"(u) · max length {self.max_length} (m) · {self.side} side (s) · specials "
            f"{'on' if self.specials else 'off'} (e) · {'tokens' if self.show_tokens else 'ids'}"
            " (w) · h/l or ←/→ scroll positions · one row per line"
        )

    def describe_data(self) -> str:
        return (
            f"{self.dataset} (d) · batch {self.batch_size} (b) · max length "
            f"{self.data_max_length} (m) · j/k: which one below · h/l: columns"
        )

    def stats_key(self, tokenizer: str) -> tuple[str, str, int, int]:
        """What a dataset measurement depends on (the screen keeps each it has made)."""
        return (tokenizer, self.dataset, self.batch_size, self.data_max_length)

    # ------------------------------------------------------------- kept across restarts

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: object) -> InspectorOptions:
        """Options from a stored dict; a value of the wrong type or out of its choices keeps
        its default (an old or hand-edited file never breaks the screen)."""
        options = cls()
        if not isinstance(state, dict):
            return options
        choices: dict[str, Sequence[object]] = {
            "padding": PADDINGS,
            "max_length": MAX_LENGTHS,
            "data_max_length": MAX_LENGTHS,
            "side": ["left", "right"],
            "batch_size": BATCH_SIZES,
            "kind": KINDS,
        }
        for f in fields(cls):
            value = state.get(f.name)
            default = getattr(options, f.name)
            if type(value) is not type(default):
                continue
            if f.name in choices and value not in choices[f.name]:
                continue
            setattr(options, f.name, value)
        return options

    # ------------------------------------------------------------- the calls they make

    def tokenize_call(self, tokenizer: str, text: str) -> P.Tokenize:
        """The chips: one text, every token with its offsets."""
        return P.Tokenize(
            tokenizer=tokenizer, texts=[text], add_special_tokens=self.specials, max_tokens=2000
        )

    def grid_call(self, tokenizer: str, lines: list[str]) -> P.Tokenize:
        """The model-input grid: the lines as one padded batch."""
        return P.Tokenize(
            tokenizer=tokenizer,
            texts=lines,
            add_special_tokens=self.specials,
            padding=self.padding,  # type: ignore[arg-type]
            truncation=self.truncation,
            strategy=self.strategy,  # type: ignore[arg-type]
            max_length=self.max_length,
            padding_side=self.side,  # type: ignore[arg-type]
            max_tokens=512,
        )

    def stats_call(self, tokenizer: str) -> P.TokenizerStats:
        return P.TokenizerStats(
            tokenizer=tokenizer,
            dataset=self.dataset,
            batch_size=self.batch_size,
            max_length=self.data_max_length,
        )

    def encode_call(self, text: str) -> P.Encode:
        return P.Encode(dataset=self.dataset, text=text, kind=self.kind)  # type: ignore[arg-type]


def kept_text(text: str) -> tuple[str, int]:
    """What is stored of the text for the next start: at most KEPT_TEXT characters, and the
    whole length (so the restored screen can say it came back cut)."""
    return text[:KEPT_TEXT], len(text)


def restored_note(stored: str, length: int) -> str:
    """What to tell the user about the text that came back ("" when it came back whole)."""
    if length > len(stored):
        return f"the text you left was {length:,} characters; its first {len(stored):,} came back"
    return ""


COMPARE_HINT = "· t choose · n train · o add"


def compare_slots(entries: list[tuple[str, int | None]], width: int) -> tuple[list[str], bool]:
    """The `[i] name (tokens)` slots of the compared tokenizers fitted to width (after
    `compare: `): names are shortened with `…` only when they must be; and whether the key
    hint still fits."""

    def slot(i: int, name: str, count: int | None) -> str:
        return f"[{i + 1}] {name}" + (f" ({count})" if count is not None else "")

    room = width - len("compare: ")
    full = [slot(i, n, c) for i, (n, c) in enumerate(entries)]
    used = sum(len(s) + 2 for s in full)
    if used + len(COMPARE_HINT) <= room:
        return full, True
    if used <= room:
        return full, False
    # shorten the longest names first, a character at a time; a count is never cut
    lengths = [len(n) for n, _ in entries]
    while used > room and max(lengths, default=0) > 2:
        longest = lengths.index(max(lengths))
        lengths[longest] -= 1
        used -= 1
    out = []
    for (name, count), n in zip(entries, lengths, strict=True):
        out.append(slot(len(out), name if n >= len(name) else name[: n - 1] + "…", count))
    return out, False


# ----------------------------------------------------------------- the dataset tab

STAT_COLUMNS = (
    "tokenizer",
    "tokens",
    "mean",
    "median",
    "max",
    "unknown",
    "vocab used",
    "> max len",
    "pad to max",
    "shuffled",
    "bucketed",
)


def padding_column(strategy: str) -> str:
    """The dataset table's column for an engine padding strategy."""
    if "max" in strategy:
        return "pad to max"
    return "bucketed" if "bucket" in strategy else "shuffled"


def stat_cells(name: str, answer: object) -> list[str]:
    """One row of the dataset table: the numbers, `…` while it is worked out, `failed`."""
    if not isinstance(answer, P.TokenStatsResult):
        what = "…" if answer is None else "failed"
        return [name, what, *[""] * (len(STAT_COLUMNS) - 2)]
    lens = answer.lengths
    padded = {padding_column(p.strategy): f"{100 * p.padded_share:.1f}%" for p in answer.padding}
    return [
        name,
        f"{answer.tokens:,}",
        f"{lens.mean:.1f}",
        f"{lens.median:.0f}",
        f"{lens.max:,.0f}",
        f"{100 * answer.unknown_rate:.2f}%",
        f"{100 * answer.vocab_coverage:.1f}%",
        f"{100 * answer.truncated_share:.1f}%",
        *[padded.get(c, "") for c in STAT_COLUMNS[8:]],
    ]
