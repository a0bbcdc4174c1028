"""The inspector's options and the calls they make, without Textual or an engine."""

from __future__ import annotations

import msgspec

from engine import protocol as P
from screens.tokenizers.model import (
    GRID_LABEL,
    GRID_MARK,
    GRID_ROWS,
    KEPT_TEXT,
    MAX_LENGTHS,
    STAT_COLUMNS,
    InspectorOptions,
    after,
    compare_slots,
    grid_cell,
    grid_lines,
    grid_window,
    hidden_lines,
    kept_text,
    page_start,
    put_first,
    restored_note,
    stat_cells,
    still_compared,
)
from workbench.widgets.token_view import input_grid


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
    seen = [(o.truncation, o.strategy)]
    for _ in range(4):  # u: head, then the other strategies a run reads with, then off
        o.toggle_truncation()
        seen.append((o.truncation, o.strategy))
    assert seen == [
        (True, "head"),
        (True, "tail"),
        (True, "head+tail"),
        (True, "windows"),
        (False, "head"),
    ]
    assert not o.truncation and "truncation off (u)" in o.describe_grid()
    o.toggle_truncation()
    o.toggle_truncation()
    assert "truncation tail (u)" in o.describe_grid() and o.grid_call("t", ["x"]).strategy == "tail"


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


# ----------------------------------------------------------------- the model-input grid


def test_the_grid_window_fits_the_width_and_keeps_room_for_the_marker() -> None:
    whole = grid_window(10, 80, 0, 5)
    assert (whole.start, whole.stop, whole.before, whole.after) == (0, 10, 0, 0)
    cut = grid_window(42, 80, 0, 5)
    used = GRID_LABEL + (cut.stop - cut.start) * (cut.cell + 1)
    assert cut.after == 42 - cut.stop > 0 and used + GRID_MARK <= 80
    assert grid_window(42, 120, 0, 5).stop > cut.stop  # a wider screen shows more
    # a start past the end keeps the last page full
    last = grid_window(42, 80, 40, 5)
    assert last.stop == 42 and last.stop - last.start == cut.stop - cut.start
    assert grid_window(3, 80, 0, 2).cell == 4  # cells are never narrower than 4


def test_paging_steps_a_page_and_stops_at_both_ends() -> None:
    w = grid_window(42, 80, 0, 5)
    fit = w.stop - w.start
    assert page_start(w, 1) == fit
    assert page_start(w, -1) == 0
    end = grid_window(42, 80, page_start(grid_window(42, 80, 30, 5), 1), 5)
    assert end.stop == 42 and page_start(end, 1) == end.start


def test_cells_fit_the_widest_value_within_bounds() -> None:
    assert grid_cell(["101", "30522"]) == 5
    assert grid_cell(["a" * 20]) == 8
    assert grid_cell([]) == 4


def test_hidden_lines_counts_what_the_batch_leaves_out() -> None:
    assert hidden_lines("a\nb") == 0
    assert hidden_lines("x\n\n" * (GRID_ROWS + 3)) == 3


def view(ids: list[int], mask: list[int] | None = None, truncated: bool = False) -> P.TokenView:
    n = len(ids)
    return P.TokenView(
        ids=ids,
        tokens=[f"t{i}" for i in ids],
        offsets=[(0, 0)] * n,
        attention_mask=mask or [1] * n,
        type_ids=[0] * n,
        special=[False] * n,
        unknown=[False] * n,
        n_tokens=n,
        truncated=truncated,
    )


def test_the_grid_text_marks_what_it_cuts_on_each_side() -> None:
    views = [
        view(list(range(100, 130))),
        view(list(range(200, 220)) + [0] * 10, [1] * 20 + [0] * 10),
    ]
    text = input_grid(views, 10, 20, 5).plain
    lines = text.splitlines()
    assert lines[0] == "input_ids"
    assert lines[1].startswith("←10") and lines[1].endswith("+10 more →")
    assert lines[2].startswith("0") and " 110 " in lines[2] and lines[2].endswith("…")
    assert "attention_mask" in lines and "token_type_ids" in lines
    assert all(len(line) <= 5 + 10 * 6 + 11 for line in lines)
    whole = input_grid([view([1, 2, 3], truncated=True)], 0, 3, 4).plain
    assert "more" not in whole and "…" not in whole and "0✂" in whole
    long_token = msgspec.structs.replace(view([7]), tokens=["unbelievably"])
    assert "unbe…" in input_grid([long_token], 0, 1, 5, show_tokens=True).plain


# ----------------------------------------------------------------- kept across restarts


def test_options_round_trip_and_bad_stored_values_keep_defaults() -> None:
    o = InspectorOptions(padding="none", max_length=64, side="left", kind="tfidf")
    assert InspectorOptions.from_state(o.to_state()) == o
    bad = InspectorOptions.from_state(
        {"padding": "sideways", "max_length": 7, "side": 3, "batch_size": "32", "specials": False}
    )
    assert (bad.padding, bad.max_length, bad.side, bad.batch_size) == ("longest", 16, "right", 32)
    assert bad.specials is False
    assert InspectorOptions.from_state(["not", "a", "dict"]) == InspectorOptions()


def test_a_long_text_is_kept_cut_and_says_so_when_it_comes_back() -> None:
    short, n = kept_text("hello")
    assert (short, n) == ("hello", 5) and restored_note(short, n) == ""
    long_text = "x" * (KEPT_TEXT + 500)
    kept, n = kept_text(long_text)
    assert len(kept) == KEPT_TEXT and n == KEPT_TEXT + 500
    assert f"{KEPT_TEXT + 500:,} characters" in restored_note(kept, n)


# ----------------------------------------------------------------- the compare line


def test_the_compare_line_fits_its_width_shortening_names_only_when_it_must() -> None:
    entries = [("minilm-wordpiece", 19), ("bpe-rotten-tomatoes-8k", 23), ("word-ng", None)]
    slots, hint = compare_slots(entries, 200)
    assert hint and slots == [
        "[1] minilm-wordpiece (19)",
        "[2] bpe-rotten-tomatoes-8k (23)",
        "[3] word-ng",
    ]
    slots, hint = compare_slots(entries, 90)
    assert not hint and slots[0] == "[1] minilm-wordpiece (19)"  # the hint goes first
    for width in (80, 50):
        slots, hint = compare_slots(entries, width)
        assert "…" in slots[1] and "(19)" in slots[0] and "(23)" in slots[1]
        assert width < 80 or slots[2] == "[3] word-ng"  # the longest names are cut first
        assert len("compare: ") + sum(len(s) + 2 for s in slots) <= width


# ----------------------------------------------------------------- the dataset tab


def test_dataset_rows_say_working_failed_or_the_numbers() -> None:
    assert stat_cells("wp", None)[1] == "…" and stat_cells("wp", "no such dataset")[1] == "failed"
    st = P.TokenStatsResult(
        tokenizer="wp",
        dataset="d",
        split=None,
        rows=10,
        tokens=1234,
        lengths=P.HistogramInfo(
            edges=[0, 1], counts=[10], unit="tokens", mean=12.3, median=12, max=40
        ),
        unknown_rate=0.01,
        vocab_coverage=0.5,
        top_tokens=[],
        padding=[
            P.PaddingCost(
                strategy="pad to max length", padded_share=0.9, real_tokens=1, computed_tokens=2
            ),
            P.PaddingCost(
                strategy="per batch, shuffled", padded_share=0.4, real_tokens=1, computed_tokens=2
            ),
            P.PaddingCost(
                strategy="per batch, bucketed", padded_share=0.01, real_tokens=1, computed_tokens=2
            ),
        ],
        truncated_share=0.0,
        batch_size=32,
        max_length=512,
    )
    cells = dict(zip(STAT_COLUMNS, stat_cells("wp", st), strict=True))
    assert cells["tokens"] == "1,234" and cells["unknown"] == "1.00%"
    assert (cells["pad to max"], cells["shuffled"], cells["bucketed"]) == ("90.0%", "40.0%", "1.0%")
    o = InspectorOptions()
    assert o.stats_key("wp") != InspectorOptions(batch_size=64).stats_key("wp")
