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


async def test_a_vocabulary_no_machine_could_hold_is_refused(client: EngineClient) -> None:
    """It used to abort the engine inside the tokenizers library (a 283 GB allocation)."""
    call = P.TokenizerTrain(
        name="huge", kind="bpe", dataset="reuters-r8", split="train", vocab_size=5_000_000_000
    )
    with pytest.raises(EngineError) as err:
        await client.ask(call, timeout=60)
    assert err.value.code == "too_large" and "5,000,000,000" in err.value.message
    assert (await client.ask(P.Ping(), timeout=10)).payload == b""  # the engine is alive


@pytest.mark.parametrize("where", ["[model]\nembed_dim", "[train]\nbatch_size"])
async def test_numbers_beyond_64_bits_get_an_answer(client: EngineClient, where: str) -> None:
    """A 23-digit number in a config used to leave its answer unsendable: the call hung."""
    section, key = where.split("\n")
    toml = (
        'name = "big"\n[data]\ndataset = "reuters-r8"\n[model]\narch = "embedding-bag"\n'
        "[train]\nepochs = 1\n"
    ).replace(f"{section}\n", f"{section}\n{key} = 99999999999999999999999\n")
    try:
        plan = await client.ask(P.RunPlan(config_toml=toml), timeout=60)
    except EngineError as exc:
        assert exc.code in ("bad_input", "too_large"), exc
    else:
        assert plan.problems, plan  # refused in the plan, with the field named
        assert any(key in p.field or key in p.message for p in plan.problems)
    assert (await client.ask(P.Ping(), timeout=10)).payload == b""


async def test_a_number_the_wire_cannot_carry_is_refused_before_sending(
    client: EngineClient,
) -> None:
    call = P.DatasetSplit(name="reuters-r8", seed=10**30)
    with pytest.raises(EngineError) as err:
        await client.ask(call, timeout=10)
    assert err.value.code == "bad_input" and "64 bits" in err.value.hint
    assert (await client.ask(P.Ping(), timeout=10)).payload == b""
