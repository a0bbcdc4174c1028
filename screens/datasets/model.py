"""The dataset browser's state without Textual: the row filter, how its keys change it, the
label picker's choices, the split form read into a call, and what each destructive action
says it will lose."""

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

    def with_label(self, label: str | None) -> RowFilter:
        return replace(self, label=label)

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
    total = values["train"] + values["validation"] + values["test"]
    if abs(total - 1.0) > 1e-6:
        raise SplitFormError(f"train, val and test must add up to 1; these add up to {total:g}")
    return P.DatasetSplit(
        name=name,
        train=values["train"],
        validation=values["validation"],
        test=values["test"],
        seed=int(values["seed"]),
        stratify=stratify,
        group_column=group.strip() or None,
    )


# ------------------------------------------------------------------ the label picker

ALL_LABELS = ""  # the picker's first choice: no label filter (labels are never empty)


def label_choices(labels: Mapping[str, int], query: str = "") -> list[tuple[str, int]]:
    """(label, rows) of the labels whose name holds query (any case), most rows first; the
    first choice is ALL_LABELS with every row, shown while the query is empty."""
    q = query.strip().lower()
    picked = [(name, n) for name, n in labels.items() if q in name.lower()]
    picked.sort(key=lambda p: (-p[1], p[0]))
    return ([] if q else [(ALL_LABELS, sum(labels.values()))]) + picked


# ------------------------------------------------------------------ splits, renames, deletes


def plural(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def split_counts(splits: Mapping[str, int]) -> str:
    """'train 800 · validation 100 · test 100' (rows in no split left out)."""
    return " · ".join(f"{k} {v:,}" for k, v in splits.items() if k and v) or "no split"


def describe_split(call: P.DatasetSplit) -> str:
    """The split a call asks for, in words."""
    how = f"{call.train:g} / {call.validation:g} / {call.test:g}, seed {call.seed}"
    how += ", stratified" if call.stratify else ""
    how += f", grouped by {call.group_column}" if call.group_column else ", row by row"
    return how


def runs_lose(used_by: list[str], what: str) -> str:
    """The sentence about the runs that read a dataset by name ("" when none do)."""
    if not used_by:
        return ""
    names = ", ".join(used_by[:4]) + (f" +{len(used_by) - 4} more" if len(used_by) > 4 else "")
    return f"\n{plural(len(used_by), 'run')} read it by name ({names}): {what}."


def resplit_loss(info: P.DatasetInfo, call: P.DatasetSplit) -> str:
    """What replacing a dataset's split loses, for the confirm dialog."""
    return (
        f"The split {info.name} has now ({split_counts(info.splits)}) is replaced by a new one "
        f"({describe_split(call)}); rows move between train, validation and test."
        + runs_lose(info.used_by, "they can no longer resume, and their test scores and "
                    "examples were made on the old split")
    )  # fmt: skip


def delete_loss(info: P.DatasetInfo) -> str:
    """What deleting a dataset loses, for the confirm dialog."""
    if info.source == "builtin":
        what = (
            f"The stored copy of the built-in {info.name} ({plural(info.rows, 'row')}) is "
            "removed; it is built again from its package the next time it is opened."
        )
    else:
        what = (
            f"{info.name}: {plural(info.rows, 'row')} and its split "
            f"({split_counts(info.splits)}) are removed from the engine; the file it came "
            f"from ({info.source}) is not touched."
        )
    return what + runs_lose(
        info.used_by, "they can no longer resume, be scored or list their examples"
    )


def new_dataset_name(name: str, call: P.DatasetSplit, taken: Iterable[str]) -> str:
    """A free name for a split saved as a new dataset: 'rotten-tomatoes-s13', then '-2'..."""
    base = f"{name}-s{call.seed}"[:61]
    names = set(taken)
    candidate, n = base, 2
    while candidate in names:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def empty_texts_warning(n: int) -> str:
    """What the app says about rows without text ("" when there are none)."""
    if not n:
        return ""
    return f"{plural(n, 'row has', 'rows have')} empty text"
