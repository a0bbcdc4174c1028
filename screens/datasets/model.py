"""The dataset browser's state without Textual: the row filter, how its keys change it, and
the split form read into a call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from engine import protocol as P

SPLITS: list[str | None] = [None, "train", "validation", "test"]
# the split form's fields: (key, label, default text)
SPLIT_FIELDS = [
    ("train", "train", "0.8"),
    ("validation", "val", "0.1"),
    ("test", "test", "0.1"),
    ("seed", "seed", "13"),
]


class SplitFormError(ValueError):
    """A split form field that cannot be read, in words for the person typing."""


@dataclass(frozen=True)
class RowFilter:
    """Which rows the browser shows: a search (text or regex), a label, a split."""

    search: str = ""
    regex: bool = False
    label: str | None = None
    split: str | None = None

    def describe(self) -> str:
        parts = [
            f"/{self.search}/" if self.regex and self.search else self.search,
            f"label={self.label}" if self.label is not None else "",
            f"split={self.split}" if self.split is not None else "",
        ]
        return " ".join(p for p in parts if p) or "all rows"

    def searching(self, text: str) -> RowFilter:
        return replace(self, search=text)

    def toggled_regex(self) -> RowFilter:
        return replace(self, regex=not self.regex)

    def next_label(self, labels: Iterable[str]) -> RowFilter:
        """The next label of labels after this one; after the last, no label (all rows)."""
        cycle: list[str | None] = [None, *labels]
        i = cycle.index(self.label) if self.label in cycle else 0
        return replace(self, label=cycle[(i + 1) % len(cycle)])

    def next_split(self) -> RowFilter:
        i = SPLITS.index(self.split) if self.split in SPLITS else 0
        return replace(self, split=SPLITS[(i + 1) % len(SPLITS)])

    def call(self, name: str, offset: int, limit: int) -> P.DatasetRows:
        """The engine call for one page of the rows this filter matches."""
        return P.DatasetRows(
            name=name,
            offset=offset,
            limit=limit,
            search=self.search,
            regex=self.regex,
            label=self.label,
            split=self.split,
        )


def split_call(name: str, fields: Mapping[str, str], group: str, stratify: bool) -> P.DatasetSplit:
    """The split the form describes; SplitFormError naming a field that is not a number."""
    values: dict[str, float] = {}
    for key, _, _ in SPLIT_FIELDS:
        raw = fields.get(key, "").strip()
        try:
            values[key] = int(raw) if key == "seed" else float(raw)
        except ValueError:
            raise SplitFormError(f"{key} must be a number, not '{raw}'") from None
    return P.DatasetSplit(
        name=name,
        train=values["train"],
        validation=values["validation"],
        test=values["test"],
        seed=int(values["seed"]),
        stratify=stratify,
        group_column=group.strip() or None,
    )
