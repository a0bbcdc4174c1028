"""The tokenizer inspector's settings without Textual: what each key changes, the calls they
make, and which tokenizers are compared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from engine import protocol as P

PADDINGS: list[str] = ["longest", "max_length", "none"]
MAX_LENGTHS = [8, 16, 32, 64, 128, 256, 512]
BATCH_SIZES = [8, 16, 32, 64, 128]
KINDS = ["bow", "tfidf", "onehot"]
SAMPLE = "I love my dog! Tokenizers split unbelievably long words 🙂"
MAX_COMPARED = 3
GRID_ROWS = 8  # lines of the text the model-input grid shows, one row each

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


@dataclass
class InspectorOptions:
    """How the text is tokenized on each tab: padding and truncation for the model-input grid,
    batch size and max length for the dataset view, the encoding kind, the dataset."""

    padding: str = "longest"
    truncation: bool = False
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
        self.truncation = not self.truncation

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
            f"padding {self.padding} (p) · truncation {'on' if self.truncation else 'off'} "
            f"(u) · max length {self.max_length} (m) · {self.side} side (s) · specials "
            f"{'on' if self.specials else 'off'} (e) · one row per line"
        )

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
