"""The browser's row filter and split form, without Textual or an engine."""

from __future__ import annotations

import pytest

from screens.datasets.model import SPLITS, RowFilter, SplitFormError, split_call

FORM = {"train": "0.8", "validation": "0.1", "test": "0.1", "seed": "13"}


def test_describe_says_what_is_filtered() -> None:
    assert RowFilter().describe() == "all rows"
    assert RowFilter(search="boring").describe() == "boring"
    assert RowFilter(search="^a", regex=True, label="fresh").describe() == "/^a/ label=fresh"
    assert RowFilter(split="test").describe() == "split=test"


def test_keys_change_one_thing_and_keep_the_rest() -> None:
    f = RowFilter(search="film", label="fresh")
    assert f.toggled_regex() == RowFilter(search="film", regex=True, label="fresh")
    assert f.searching("dull").search == "dull" and f.searching("dull").label == "fresh"
    assert f == RowFilter(search="film", label="fresh")  # frozen: the old one is unchanged


def test_labels_cycle_through_every_label_then_all_rows() -> None:
    labels = {"fresh": 3, "rotten": 2}
    seen = []
    f = RowFilter()
    for _ in range(3):
        f = f.next_label(labels)
        seen.append(f.label)
    assert seen == ["fresh", "rotten", None]
    assert RowFilter(label="gone").next_label(labels).label == "fresh"


def test_splits_cycle_and_wrap() -> None:
    f = RowFilter()
    order = []
    for _ in SPLITS:
        f = f.next_split()
        order.append(f.split)
    assert order == [*SPLITS[1:], None]


def test_the_rows_call_carries_the_filter() -> None:
    call = RowFilter(search="x", regex=True, label="a", split="train").call("rt", 100, 50)
    assert (call.name, call.offset, call.limit) == ("rt", 100, 50)
    assert (call.search, call.regex, call.label, call.split) == ("x", True, "a", "train")


def test_split_form_reads_numbers_and_an_optional_group() -> None:
    call = split_call("rt", FORM, "  ", stratify=False)
    assert (call.train, call.validation, call.test, call.seed) == (0.8, 0.1, 0.1, 13)
    assert call.group_column is None and not call.stratify
    assert split_call("rt", FORM, " movie ", stratify=True).group_column == "movie"


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [("train", "lots", "train must be a number, not 'lots'"), ("seed", "1.5", "seed must")],
)
def test_split_form_names_the_field_that_is_not_a_number(
    field: str, raw: str, message: str
) -> None:
    with pytest.raises(SplitFormError, match=message):
        split_call("rt", {**FORM, field: raw}, "", stratify=True)
