"""Requests whose answer or work would grow without end are refused at once, with the numbers."""

from __future__ import annotations

import pytest

from engine import protocol as P
from workbench.engine.client import EngineClient, EngineError

TOO_MUCH = [
    (P.NeighboursBatch(words=["king"] * 100, k=20_000), "2,000,000 neighbours"),
    (P.Tokenize(tokenizer="minilm-wordpiece", texts=["a"] * 1000, max_tokens=4096), "tokens shown"),
    (
        P.Tokenize(
            tokenizer="minilm-wordpiece",
            texts=["a"] * 100,
            detail=False,
            padding="max_length",
            max_length=1_000_000,
        ),
        "100,000,000 padded positions",
    ),
    (P.DatasetRows(name="reuters-r8", limit=5000, max_chars=0), "characters of text"),
    (P.Project(words=["king"] * 30_000), "words to project must be from 0 to 20,000"),
    (P.StreamEvents(rate=10**9, seconds=1), "rate must be from 1 to 1,000,000"),
    (P.TokenizerStats(tokenizer="minilm-wordpiece", dataset="reuters-r8", bins=10**9), "bins"),
]


@pytest.mark.parametrize("call, said", TOO_MUCH, ids=lambda c: type(c).__name__)
async def test_too_much_is_refused_with_the_numbers(
    client: EngineClient, call: object, said: str
) -> None:
    with pytest.raises(EngineError) as err:
        await client.ask(call, timeout=60)  # type: ignore[arg-type]
    assert said in err.value.message, err.value
    assert err.value.code in ("too_large", "bad_input")
