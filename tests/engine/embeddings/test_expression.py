"""Parsing word-arithmetic queries: signs, spacing, word characters, and errors that say where."""

from __future__ import annotations

import pytest

from engine.core.errors import EngineError
from engine.embeddings.expression import parse, split_hint


def signed(query: str) -> list[tuple[str, int]]:
    return [(t.word, t.sign) for t in parse(query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("king - man + woman", [("king", 1), ("man", -1), ("woman", 1)]),
        ("  paris   -france+  italy ", [("paris", 1), ("france", -1), ("italy", 1)]),
        ("king", [("king", 1)]),
        ("-king", [("king", -1)]),
        ("+ queen", [("queen", 1)]),
        ("well-known - famous", [("well-known", 1), ("famous", -1)]),
        ("don't + rock'n'roll", [("don't", 1), ("rock'n'roll", 1)]),
        ("u.s. - washington", [("u.s.", 1), ("washington", -1)]),
        ("2019 + ##ing", [("2019", 1), ("##ing", 1)]),
    ],
)
def test_parses_words_and_signs(query: str, expected: list[tuple[str, int]]) -> None:
    assert signed(query) == expected


def test_positions_count_from_one() -> None:
    assert [t.position for t in parse("king - man + woman")] == [1, 8, 14]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("king - - man", "expected a word after '-' at position 6, found '-' at position 8"),
        ("- ", "expected a word after '-' at position 1, found the end of the query"),
        ("king +", "expected a word after '+' at position 6, found the end of the query"),
        ("king +- man", "expected a word after '+' at position 6, found '-' at position 7"),
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ("king * man", "unexpected character '*' at position 6"),
        ("king / 2", "unexpected character '/' at position 6"),
        ("king man", "expected '+' or '-' between 'king' and 'man' (position 6)"),
    ],
)
def test_malformed_queries_say_what_and_where(query: str, message: str) -> None:
    with pytest.raises(EngineError) as err:
        parse(query)
    assert err.value.message == message
    assert err.value.code == "bad_input"
    assert "king - man + woman" in err.value.hint


def test_too_long_and_too_many_terms_are_refused() -> None:
    with pytest.raises(EngineError, match="limit"):
        parse("a" * 2000)
    with pytest.raises(EngineError, match="more than 32 words"):
        parse(" + ".join(["cat"] * 40))


def test_split_hint_only_for_known_parts() -> None:
    assert (
        split_hint("king-man", {"king", "man"}) == "to subtract, put spaces around '-': king - man"
    )
    assert split_hint("king-xyzzy", {"king"}) == ""
    assert split_hint("king") == ""
