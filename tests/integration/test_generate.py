"""Generating and scoring with trained LM runs through a real engine and the CLI: greedy is the
model's own argmax step by step, a seed fixes a sample, the streamed tokens are the result,
top_k and top_p cut the candidates as they should, cancelling keeps what was made, scoring is
the model's own negative log-likelihood, and every bad input gets a clear error.

One engine and three tiny runs (a WordPiece transformer-lm, a character LSTM, a classifier) for
the whole module: training them is most of its time."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import protocol as P
from engine.models.service import TrainedRun, load_trained
from engine.paths import resolve_home
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import ROOT, RunningEngine, start_engine, stop_engine
from tests.helpers.lm import LSTM_LM, TRANSFORMER_LM, ask, char_tokenizer, generate, lines, train
from tests.helpers.runs import three_config, three_splits
from workbench.engine.client import EngineClient, EngineError


@pytest.fixture(scope="module")
def lm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    home = resolve_home(tmp_path_factory.mktemp("lm") / "home")
    proc = start_engine(home)
    try:
        yield RunningEngine(home, proc)
    finally:
        stop_engine(proc)


@pytest.fixture(scope="module")
def runs(lm_engine: RunningEngine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """{"transformer": id, "lstm": id, "classifier": id}, trained once."""
    tmp = tmp_path_factory.mktemp("lm-runs")
    three_splits(lm_engine, tmp)
    char_tokenizer(lm_engine)
    classifier = wb(lm_engine, "train", str(three_config(tmp, epochs=1)), "--follow")
    assert classifier.returncode == 0, classifier.stderr[-2000:]
    return {
        "transformer": train(lm_engine, tmp, TRANSFORMER_LM, "tiny-transformer-lm"),
        "lstm": train(lm_engine, tmp, LSTM_LM, "tiny-char-lstm"),
        "classifier": next(
            r["run_id"] for r in wb_json(lm_engine, "runs", "list") if r["name"] == "three-splits"
        ),
    }


def by_hand(engine: RunningEngine, run_id: str, step: int) -> tuple[Any, Any]:
    """(the model of the run's checkpoint at step, its tokenizer), loaded here, not by the
    engine."""
    from tokenizers import Tokenizer

    folder = engine.home.data_dir / "runs" / run_id
    config = tomllib.loads((folder / "config.toml").read_text())
    params = {k: v for k, v in config["model"].items() if k != "arch"}
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    pad = tok.token_to_id("[PAD]")
    run = TrainedRun(
        run_id=run_id,
        folder=folder,
        checkpoint=folder / "checkpoints" / f"ckpt-{step}",
        arch=config["model"]["arch"],
        params=params,
        tokenizer=tok,
        pad_id=pad if pad is not None else tok.token_to_id("<PAD>"),
        labels=[],
        description="by hand",
    )
    return load_trained(run).model, tok


def logits_of(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.inference_mode():
        x = torch.tensor([ids])
        return model(x, torch.ones_like(x))[0].float()


def result(end: P.JobEnded) -> P.GenerateResult:
    assert end.error is None, end.error
    assert isinstance(end.result, P.GenerateResult)
    return end.result


def streamed(events: list[P.GeneratedTokens]) -> list[P.GeneratedToken]:
    """The tokens of the events in order; each event starts where the one before ended."""
    tokens: list[P.GeneratedToken] = []
    for ev in events:
        assert ev.start == len(tokens)
        tokens.extend(ev.tokens)
    return tokens


def test_greedy_is_the_models_argmax_step_by_step(
    lm_engine: RunningEngine, runs: dict[str, str]
) -> None:
    run_id = runs["transformer"]
    end, events = ask(
        lm_engine,
        lambda c: generate(c, model=run_id, prompt="a great film", max_new_tokens=20, greedy=True),
    )
    res = result(end)
    tokens = streamed(events)
    assert [t.id for t in tokens] == [t.id for t in res.tokens]
    assert "".join(t.text for t in tokens) == res.text
    assert res.context == 32 and res.model == run_id and res.step > 0
    model, tok = by_hand(lm_engine, run_id, res.step)
    cls = tok.token_to_id("[CLS]")
    ids = [cls, *tok.encode("a great film", add_special_tokens=False).ids]
    assert res.prompt_tokens == len(ids)
    expected = []
    for _ in range(len(res.tokens)):
        nxt = int(logits_of(model, ids[-32:])[-1].argmax())
        expected.append(nxt)
        ids.append(nxt)
        if nxt == tok.token_to_id("[SEP]"):
            break
    assert [t.id for t in res.tokens] == expected
    assert res.stop_reason == ("end of text" if len(expected) < 20 else "length")
    top = res.tokens[0]
    assert top.candidates[0][1] == pytest.approx(top.probability)
    assert len(top.candidates) == 5 and top.probability > 0


def test_a_seed_fixes_the_sample(lm_engine: RunningEngine, runs: dict[str, str]) -> None:
    def sample(seed: int, model: str) -> P.GenerateResult:
        kw = {"model": model, "prompt": "a film", "max_new_tokens": 30, "temperature": 1.5}
        return result(ask(lm_engine, lambda c: generate(c, seed=seed, **kw))[0])

    for model in (runs["transformer"], runs["lstm"]):
        first = sample(7, model)
        assert [t.id for t in sample(7, model).tokens] == [t.id for t in first.tokens]
        assert [t.id for t in sample(8, model).tokens] != [t.id for t in first.tokens]


def test_top_k_and_top_p_cut_the_candidates(lm_engine: RunningEngine, runs: dict[str, str]) -> None:
    import torch

    run_id = runs["lstm"]
    base = {"model": run_id, "prompt": "a great", "max_new_tokens": 8, "candidates": 20}
    cut_k = result(ask(lm_engine, lambda c: generate(c, top_k=3, seed=1, **base))[0])
    for t in cut_k.tokens:
        assert len(t.candidates) == 3
        assert sum(p for _, p in t.candidates) == pytest.approx(1.0, abs=1e-5)
        assert t.text in [text for text, _ in t.candidates]
    # top_p: the first position's kept tokens are the smallest likeliest set reaching top_p
    cut_p = result(ask(lm_engine, lambda c: generate(c, top_p=0.6, seed=1, **base))[0])
    model, tok = by_hand(lm_engine, run_id, cut_p.step)
    probs = torch.softmax(logits_of(model, tok.encode("a great").ids)[-1], -1)
    ordered, order = torch.sort(probs, descending=True)
    keep = int((torch.cumsum(ordered, 0) - ordered < 0.6).sum())
    first = cut_p.tokens[0]
    assert [text for text, _ in first.candidates] == [
        tok.decode([i]) for i in order[: min(keep, 20)].tolist()
    ]
    if keep <= 20:
        kept = ordered[:keep] / ordered[:keep].sum()
        assert [p for _, p in first.candidates] == pytest.approx(kept.tolist(), abs=1e-5)
    for t in cut_p.tokens:
        assert t.text in [text for text, _ in t.candidates]


def test_cancelling_stops_it_and_keeps_what_was_made(
    lm_engine: RunningEngine, runs: dict[str, str]
) -> None:
    async def go(client: EngineClient) -> tuple[P.JobEnded, list[P.GeneratedTokens]]:
        async def cancel(job_id: str) -> None:
            await client.ask(P.Cancel(job_id=job_id))

        return await generate(
            client, cancel, model=runs["lstm"], prompt="a", max_new_tokens=1024, seed=3
        )

    end, events = ask(lm_engine, go)
    res = result(end)
    assert res.stop_reason == "cancelled" and 0 < len(res.tokens) < 1024
    assert [t.id for t in streamed(events)] == [t.id for t in res.tokens]
    assert "".join(t.text for t in res.tokens) == res.text
    assert end.job.state == "done"


def test_score_is_the_models_own_negative_log_likelihood(
    lm_engine: RunningEngine, runs: dict[str, str]
) -> None:
    text = "a superb film number 7"
    for kind in ("transformer", "lstm"):
        res = wb_json(lm_engine, "score", "--model", runs[kind], text)
        model, tok = by_hand(lm_engine, runs[kind], res["step"])
        enc = tok.encode(text, add_special_tokens=False)
        start = [tok.token_to_id("[CLS]")] if kind == "transformer" else []
        ids = start + enc.ids
        logp = logits_of(model, ids).log_softmax(-1)
        nll = [-float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
        assert res["perplexity"] == pytest.approx(math.exp(sum(nll) / len(nll)), rel=1e-4)
        bits = [t["surprisal_bits"] for t in res["tokens"]]
        if kind == "lstm":  # no start token: the first character is not scored
            assert bits[0] is None and res["first_from"] == ""
            bits = bits[1:]
        else:
            assert res["first_from"] == "[CLS]"
        assert bits == pytest.approx([n / math.log(2) for n in nll], rel=1e-4)
        assert res["scored"] == len(nll) and not res["truncated"]
        for t in res["tokens"]:
            assert t["text"] == text[t["span"][0] : t["span"][1]]
    # longer than the transformer's context of 32: cut to it, and said
    long = " ".join(["great"] * 40)
    cut = wb_json(lm_engine, "score", "--model", runs["transformer"], long)
    assert cut["truncated"] and len(cut["tokens"]) == 31 and cut["token_count"] == 40
    shown = wb(lm_engine, "score", "--model", runs["transformer"], long).stdout
    assert "cut to the first 31 of its 40 tokens" in shown and "perplexity" in shown


def test_bad_input_gets_a_clear_error(
    lm_engine: RunningEngine, runs: dict[str, str], tmp_path: Path
) -> None:
    run_id = runs["transformer"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"prompt": ""}, "the prompt is empty"),
        ({"prompt": "   "}, "the prompt is empty"),
        ({"max_new_tokens": 0}, "max_new_tokens must be 1 to 1,024"),
        ({"max_new_tokens": 5000}, "max_new_tokens must be 1 to 1,024"),
        ({"max_new_tokens": 33}, "over the model's context of 32 tokens"),
        ({"temperature": 0.0}, "temperature must be above 0"),
        ({"temperature": -1.0}, "temperature must be above 0"),
        ({"top_k": -1}, "top_k must be 0"),
        ({"top_p": 0.0}, "top_p must be above 0 and at most 1"),
        ({"top_p": 1.5}, "top_p must be above 0 and at most 1"),
        ({"candidates": 21}, "candidates must be 0 to 20"),
        ({"min_new_tokens": 6, "max_new_tokens": 5}, "min_new_tokens must be 0 to max_new_tokens"),
        ({"model": runs["classifier"]}, "is a classifier (embedding-bag): it generates no text"),
        ({"model": "no-such-run"}, "no run 'no-such-run'"),
    ]

    async def go(client: EngineClient) -> list[EngineError]:
        out = []
        for change, _ in cases:
            call = {"model": run_id, "prompt": "a film", **change}
            with pytest.raises(EngineError) as caught:
                await client.ask(P.Generate(**call))
            out.append(caught.value)
        return out

    for error, (change, says) in zip(ask(lm_engine, go), cases, strict=True):
        assert says in error.message, (change, error.message)
        assert error.code != "internal"
    # a greedy generation takes any temperature
    ok = ask(
        lm_engine,
        lambda c: generate(
            c, model=run_id, prompt="a", max_new_tokens=5, greedy=True, temperature=0
        ),
    )
    assert result(ok[0]).tokens
    # min_new_tokens: no end of text before it
    full = ask(
        lm_engine,
        lambda c: generate(
            c, model=run_id, prompt="a", max_new_tokens=24, min_new_tokens=24, greedy=True
        ),
    )
    made = result(full[0])
    assert made.stop_reason == "length" and len(made.tokens) == 24
    assert all(t.id != 102 for t in made.tokens)  # MiniLM's [SEP]
    # scoring
    for model, text, says in [
        (runs["classifier"], "a film", "it scores no text"),
        (run_id, "", "the text is empty"),
        (run_id, "x" * 100_001, "over the 100,000 a score reads"),
        (runs["lstm"], "a", "at least two are needed"),
    ]:
        out = wb(lm_engine, "score", "--model", model, text, "--json")
        assert out.returncode == 1
        assert says in json.loads(out.stdout)["error"]["message"], out.stdout
    # the CLI says the engine's message and hint
    out = wb(lm_engine, "generate", "--model", run_id, "a", "--top-p", "2")
    assert out.returncode == 1 and "top_p must be above 0" in out.stderr and "1 keeps" in out.stderr
    # a run with no checkpoint yet, and a deleted run
    config = tmp_path / "slow.toml"
    slow = TRANSFORMER_LM.replace("max_steps = 6", "max_steps = 100000")
    slow = slow.replace("eval_every = 3", "eval_every = 100000").replace(
        "epochs = 1", "epochs = 500"
    )
    config.write_text(slow.replace("checkpoint_every = 3", "checkpoint_every = 100000"))
    pending = wb_json(lm_engine, "train", str(config))["run_id"]
    try:
        out = wb(lm_engine, "generate", "--model", pending, "a", "--json")
        error = json.loads(out.stdout)["error"]
        assert error["code"] == "not_found" and "has no checkpoint yet" in error["message"]
    finally:
        wb(lm_engine, "runs", "stop", pending)
    gone = train(lm_engine, tmp_path, TRANSFORMER_LM.replace("tiny-transformer-lm", "gone"), "gone")
    assert wb(lm_engine, "score", "--model", gone, "a great film").returncode == 0  # loaded
    assert wb(lm_engine, "runs", "delete", gone).returncode == 0
    for command in ("generate", "score"):
        out = wb(lm_engine, command, "--model", gone, "a film", "--json")
        assert json.loads(out.stdout)["error"]["code"] == "not_found"
    # the engine still answers
    assert wb_json(lm_engine, "score", "--model", run_id, "a film")["scored"] == 2


def test_cli_generate_streams_json_lines_and_a_result(
    lm_engine: RunningEngine, runs: dict[str, str]
) -> None:
    args = ["generate", "--model", runs["transformer"], "a great", "--max-new-tokens", "12"]
    out = wb(lm_engine, *args, "--seed", "5", "--top-k", "10", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    *tokens, final = lines(out.stdout)
    assert final["type"] == "lm.generated" and final["tokens"] == [
        {k: v for k, v in t.items() if k != "index"} for t in tokens
    ]
    assert [t["index"] for t in tokens] == list(range(len(tokens)))
    assert "".join(t["text"] for t in tokens) == final["text"]
    plain = wb(lm_engine, *args, "--seed", "5", "--top-k", "10")
    assert plain.returncode == 0
    assert plain.stdout.startswith("a great" + final["text"] + "\n")
    assert f"{len(tokens)} tokens" in plain.stdout and "tokens/s" in plain.stdout
    assert f"stopped: {final['stop_reason']}" in plain.stdout


def test_cli_ctrl_c_cancels_and_prints_what_was_made(
    lm_engine: RunningEngine, runs: dict[str, str]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--home", lm_engine.home.root, "generate"]
        + ["--model", runs["lstm"], "a", "--max-new-tokens", "1024", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # a token arrived: it runs
        assert first["index"] == 0
        os.kill(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    final = lines(rest)[-1]
    assert proc.returncode == 130
    assert final["type"] == "lm.generated" and final["stop_reason"] == "cancelled"
    assert 0 < len(final["tokens"]) < 1024
