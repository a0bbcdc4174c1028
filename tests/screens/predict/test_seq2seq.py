"""The prediction console with a seq2seq run as A, against a real engine: enter translates the
typed source and the answer shows the CLI's output and an attention heat map with a row per
output step; `m` cycles the beam width (greedy gives the CLI's greedy output); the classifier
keys are hidden, and so is `m` for a classifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from engine.paths import resolve_home
from screens.predict import PredictScreen
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.screens import fresh_app, shown, wait_for
from workbench.widgets.footer import footer_text

RUN = """
name = "dates-console"
[data]
dataset = "dates"
max_length = 32
[model]
arch = "seq2seq"
embed_dim = 16
hidden_size = 32
max_output = 12
[train]
lr = 0.01
epochs = 1
batch_size = 32
seed = 1
"""
SOURCE = "4 July 1976"


@pytest.fixture(scope="module")
def s2s_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEngine, str]]:
    tmp = tmp_path_factory.mktemp("console-s2s")
    home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        wb_json(engine, "datasets", "generate", "dates", "--size", "300", "--seed", "1")
        path = Path(tmp) / "run.toml"
        path.write_text(RUN)
        ran = wb(engine, "train", str(path), "--follow")
        assert ran.returncode == 0, ran.stderr[-1500:]
        yield engine, wb_json(engine, "runs", "list")[0]["run_id"]
    finally:
        stop_engine(proc)


async def test_enter_translates_with_the_heat_map_and_m_cycles_the_beam(
    s2s_run: tuple[RunningEngine, str],
) -> None:
    engine, run_id = s2s_run
    cli = wb_json(engine, "translate", "--model", run_id, SOURCE)
    app = fresh_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("6")
        await wait_for(pilot, lambda: isinstance(app.screen, PredictScreen))
        screen = app.screen
        assert isinstance(screen, PredictScreen)
        await wait_for(pilot, lambda: screen.model_a == run_id)
        footer = footer_text(screen)
        assert "Beam" in footer and "Explain" not in footer and "Model B" not in footer
        screen.query_one("#pr-text", Input).value = SOURCE
        await pilot.press("slash", "enter")
        await wait_for(pilot, lambda: getattr(screen.translation, "output", None) is not None)
        got = screen.translation
        assert got.output == cli["output"] and got.attention == cli["attention"]  # type: ignore[union-attr]
        text = shown(app, "#pr-a")
        assert cli["output"] in text and "attention: rows are output steps" in text
        assert "4␣July␣1976" in text  # the source tokens head the columns
        rows = [line for line in text.splitlines() if line[:1] in ("0", "1", "2", "-", "[")]
        assert len(rows) >= len(cli["attention"])  # one row per output step
        await pilot.press("escape", "m")  # the run's own -> greedy
        assert screen.beam == 1
        await wait_for(pilot, lambda: getattr(screen.translation, "beam_width", 0) == 1)
        assert screen.translation.output == cli["output"]  # type: ignore[union-attr]
        await pilot.press("m")
        await wait_for(pilot, lambda: getattr(screen.translation, "beam_width", 0) == 3)
        await pilot.press("b")  # a seq2seq model is compared with nothing
        assert screen.model_b == ""
