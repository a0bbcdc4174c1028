"""The embeddings screen's options and the calls they make, without Textual or an engine."""

from __future__ import annotations

from screens.embeddings.model import PRESETS, EmbeddingOptions, after, sentences_of

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
    o = EmbeddingOptions()
    o.cycle_source(STATIC)
    assert o.source == "minilm-input"
    o.cycle_source([])
    assert o.source == "minilm-input"


def test_k_preset_and_method_cycle() -> None:
    o = EmbeddingOptions()
    o.cycle_k()
    assert o.k == 20
    for _ in PRESETS:
        o.cycle_preset()
    assert o.preset == 0
    o.toggle_method()
    o.toggle_near()
    assert "tsne (m)" in o.describe_projection() and "query word on" in o.describe_projection()
    assert "k 20 (k)" in o.describe()


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
