"""The inspector's options and the calls they make, without Textual or an engine."""

from __future__ import annotations

from screens.tokenizers.model import (
    GRID_ROWS,
    MAX_LENGTHS,
    InspectorOptions,
    after,
    grid_lines,
    put_first,
    still_compared,
)


def test_after_wraps_and_starts_over_on_an_unknown_value() -> None:
    assert after([1, 2, 3], 1) == 2 and after([1, 2, 3], 3) == 1
    assert after(["a", "b"], "z") == "a"


def test_each_key_cycles_its_own_setting() -> None:
    o = InspectorOptions()
    o.cycle_padding()
    o.toggle_truncation()
    o.toggle_side()
    o.toggle_specials()
    o.toggle_cells()
    o.cycle_batch()
    o.cycle_kind()
    assert (o.padding, o.truncation, o.side, o.specials, o.show_tokens) == (
        "max_length",
        True,
        "left",
        False,
        True,
    )
    assert (o.batch_size, o.kind) == (64, "tfidf")
    assert "padding max_length (p)" in o.describe_grid() and "left side" in o.describe_grid()


def test_max_length_steps_the_grid_or_the_dataset_view() -> None:
    o = InspectorOptions()
    o.cycle_max_length(dataset_view=False)
    assert (o.max_length, o.data_max_length) == (32, 512)
    o.cycle_max_length(dataset_view=True)
    assert (o.max_length, o.data_max_length) == (32, MAX_LENGTHS[0])


def test_datasets_cycle_and_a_vanished_one_is_replaced() -> None:
    o = InspectorOptions(dataset="b")
    assert not o.cycle_dataset([])
    assert o.cycle_dataset(["a", "b", "c"]) and o.dataset == "c"
    o.keep_dataset(["x", "y"])
    assert o.dataset == "x"
    o.keep_dataset([])
    assert o.dataset == "x"


def test_the_calls_carry_the_options() -> None:
    o = InspectorOptions(padding="max_length", truncation=True, max_length=8, side="left")
    chips = o.tokenize_call("wp", "hi")
    assert chips.texts == ["hi"] and chips.add_special_tokens and chips.max_tokens == 2000
    grid = o.grid_call("wp", ["a", "b"])
    assert (grid.padding, grid.truncation, grid.max_length, grid.padding_side) == (
        "max_length",
        True,
        8,
        "left",
    )
    stats = o.stats_call("wp")
    assert (stats.dataset, stats.batch_size, stats.max_length) == ("rotten-tomatoes", 32, 512)
    assert o.encode_call("a film").kind == "bow"


def test_which_tokenizers_are_compared() -> None:
    assert still_compared(["gone", "b"], ["a", "b", "c"]) == ["b"]
    assert still_compared(["gone"], ["a", "b", "c"]) == ["a", "b"]
    assert put_first("new", ["a", "new", "b", "c"]) == ["new", "a", "b"]


def test_grid_lines_skip_blanks_and_keep_at_most_a_screenful() -> None:
    assert grid_lines("") == [""]
    assert grid_lines("a\n\nb") == ["a", "b"]
    assert len(grid_lines("x\n" * 20)) == GRID_ROWS
