"""The embeddings screen's options and the calls they make, without Textual or an engine."""

from __future__ import annotations

import random

from screens.embeddings.model import (
    MARKERS,
    MAX_GROUPS,
    PRESETS,
    EmbeddingOptions,
    after,
    groups_text,
    matrix_window,
    page_columns,
    parse_groups,
    point_order,
    scatter_layout,
    sentences_of,
)

STATIC = ["glove-6b-50d", "minilm-input", "mine"]


def test_after_wraps_and_starts_over_on_an_unknown_value() -> None:
    assert after("b", ["a", "b", None]) is None
    assert after(None, ["a", "b", None]) == "a"
    assert after("z", ["a", "b"]) == "a"


def test_compare_skips_the_source_and_can_be_turned_off() -> None:
    o = EmbeddingOptions()
    seen = []
    for _ in range(3):
        o.cycle_compare(STATIC)
        seen.append(o.compare)
    assert seen == ["mine", None, "minilm-input"]
    assert EmbeddingOptions(compare=None).searched == ["glove-6b-50d"]


def test_source_cycles_and_stays_put_with_no_sources() -> None:
    o = EmbeddingOptions(compare="mine")
    assert o.cycle_source(STATIC) == ""
    assert o.source == "minilm-input"
    o.cycle_source([])
    assert o.source == "minilm-input"


def test_source_landing_on_the_compared_one_swaps_them_and_says_so() -> None:
    o = EmbeddingOptions()  # glove compared with minilm-input
    said = o.cycle_source(["glove-6b-50d", "minilm-input"])
    assert (o.source, o.compare) == ("minilm-input", "glove-6b-50d")
    assert "swapped" in said
    o.cycle_source(["glove-6b-50d", "minilm-input"])
    assert (o.source, o.compare) == ("glove-6b-50d", "minilm-input")
    for _ in range(7):  # never the same source twice
        o.cycle_source(STATIC)
        assert o.source != o.compare


def test_k_preset_and_method_cycle() -> None:
    o = EmbeddingOptions()
    o.cycle_k()
    assert o.k == 20
    for _ in PRESETS:
        o.cycle_preset()
    assert o.preset == 0
    o.toggle_method()
    o.toggle_near()
    assert "tsne (m)" in o.describe_projection() and "neighbours on" in o.describe_projection()
    assert "k 20 (K)" in o.describe()


def test_neighbours_go_to_both_sources() -> None:
    calls = EmbeddingOptions(k=5).neighbours_calls("king - man")
    assert [(c.source, c.query, c.k) for c in calls] == [
        ("glove-6b-50d", "king - man", 5),
        ("minilm-input", "king - man", 5),
    ]


def test_projection_adds_the_first_query_word_only_when_asked() -> None:
    o = EmbeddingOptions()
    assert o.projection_call(" king - man ").neighbours_of is None
    o.toggle_near()
    call = o.projection_call(" king - man ")
    assert call.neighbours_of == "king" and call.groups == PRESETS[0][1]
    assert o.projection_call("   ").neighbours_of is None


def test_sentences_are_the_non_blank_lines() -> None:
    assert sentences_of(" a \n\n  \nb\n") == ["a", "b"]


# ----------------------------------------------------------------- typed word groups


def test_groups_are_read_as_typed() -> None:
    groups, problems = parse_groups("colours: red, green blue;tools: saw\n  feelings:happy sad ")
    assert problems == []
    assert groups == {
        "colours": ["red", "green", "blue"],
        "tools": ["saw"],
        "feelings": ["happy", "sad"],
    }
    assert parse_groups(groups_text(groups)) == (groups, [])
    for _, preset in PRESETS:
        assert parse_groups(groups_text(preset)) == (preset, [])


def test_groups_without_a_name_merge_or_wrong_say_what_is_wrong() -> None:
    assert parse_groups("dog cat") == ({"words": ["dog", "cat"]}, [])
    assert parse_groups("a: x y; a: y z")[0] == {"a": ["x", "y", "z"]}
    assert parse_groups(": oops")[1] == ["group 1 has no name before its ':'"]
    assert parse_groups("pets:")[1] == ["group 'pets' has no words after its ':'"]
    assert "no groups" in parse_groups(" ; \n ")[1][0]
    many = "; ".join(f"g{i}: w{i}" for i in range(MAX_GROUPS + 1))
    assert f"{MAX_GROUPS} at most" in parse_groups(many)[1][0]


def test_typed_groups_go_to_the_projection_and_w_goes_back_to_the_presets() -> None:
    o = EmbeddingOptions()
    assert o.is_preset and o.set_groups("colours: red green; tools: saw drill") == []
    assert not o.is_preset and "your own" in o.describe_projection()
    assert o.projection_call("").groups == {"colours": ["red", "green"], "tools": ["saw", "drill"]}
    assert o.set_groups(": nothing")  # wrong: the groups sent stay as they were
    assert o.projection_call("").groups["tools"] == ["saw", "drill"]
    o.cycle_preset()  # back to the preset it came from
    assert o.is_preset and o.preset == 0
    o.cycle_preset()
    assert o.preset == 1 and o.projection_call("").groups == PRESETS[1][1]


# ----------------------------------------------------------------- the scatter's layout


def check_layout(points: list[tuple[str, float, float]], width: int, height: int) -> None:
    """Every label whole, in bounds, on no marker and apart from every other label."""
    lay = scatter_layout(points, width, height)
    cells: dict[tuple[int, int], str] = {}
    for label in lay.labels:
        assert label.text == points[label.point][0]  # never cut
        assert 0 <= label.row < height and 0 <= label.col
        assert label.col + len(label.text) <= width
        for k in range(label.col - 1, label.col + len(label.text) + 1):
            assert (label.row, k) not in cells or not (label.col <= k < label.col + len(label.text))
            assert cells.get((label.row, k)) != "label"  # one space at least between labels
        for k in range(label.col, label.col + len(label.text)):
            assert (label.row, k) not in lay.markers
            cells[(label.row, k)] = "label"
    drawn = {label.point for label in lay.labels}
    own = set(lay.markers.values())
    assert lay.hidden == len(own - drawn)  # each hidden label counted once
    assert lay.stacked == len(points) - len(own)


def test_labels_never_overlap_nor_leave_the_plot_and_what_is_hidden_is_counted() -> None:
    rng = random.Random(13)
    for n, width, height in ((18, 78, 11), (60, 40, 8), (200, 118, 24), (5, 10, 3)):
        words = [f"w{i}{'x' * rng.randint(0, 9)}" for i in range(n)]
        points = [(w, rng.gauss(0, 1), rng.gauss(0, 1)) for w in words]
        check_layout(points, width, height)


def test_points_in_one_cell_are_counted_and_the_highlighted_label_comes_first() -> None:
    points = [("alpha", 0.0, 0.0), ("beta", 0.0, 0.0), ("gamma", 1.0, 1.0)]
    lay = scatter_layout(points, 30, 5)
    assert lay.stacked == 1 and len(lay.markers) == 2
    crowded = [(f"word{i}", float(i), 0.0) for i in range(8)] + [("far", 9.0, 1.0)]
    lay = scatter_layout(crowded, 10, 3)
    assert lay.hidden > 0 and lay.stacked == 0
    for first in range(len(crowded)):  # whichever is highlighted, its label is drawn
        lay = scatter_layout(crowded, 10, 3, first=first)
        assert first in {label.point for label in lay.labels}
    stacked = scatter_layout(points, 30, 5, first=1)
    assert stacked.markers[(4, 0)] == 1 and 1 in {label.point for label in stacked.labels}


def test_a_label_at_the_right_edge_goes_left_of_its_point() -> None:
    lay = scatter_layout([("left", 0.0, 0.0), ("rightmost", 1.0, 0.0)], 30, 1)
    right = next(label for label in lay.labels if label.text == "rightmost")
    assert right.col + len("rightmost") <= 29 and lay.hidden == 0


def test_j_walks_the_points_from_left_to_right() -> None:
    points = [("c", 2.0, 0.0), ("a", 0.0, 1.0), ("b", 0.0, -1.0)]
    assert [points[i][0] for i in point_order(points)] == ["a", "b", "c"]
    assert len(MARKERS) >= MAX_GROUPS


def test_matrix_columns_page_and_keep_the_last_page_full() -> None:
    w = matrix_window(4, 80, 0)
    assert (w.start, w.stop, w.after) == (0, 4, 0)
    w = matrix_window(64, 80, 0)
    assert w.after > 0 and 16 + (w.stop - w.start) * 5 + 6 <= 80
    nxt = page_columns(w, 1)
    assert nxt == w.stop and page_columns(matrix_window(64, 80, nxt), -1) == 0
    assert matrix_window(64, 80, 1000).stop == 64
