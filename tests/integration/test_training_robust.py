"""Robustness while training through the engine: a run with adversarial PGD training and
robust_every stores robust_accuracy and attack_success_rate at its steps, they come back with
the run's history, and the monitor draws them in their own panel under the plot (80x24 and
120x36), which runs without them never show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import protocol as P
from engine.paths import resolve_home
from screens.training import TrainingScreen
from screens.training.plots import PlotsTab
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.viewstate import view_state_path

ROBUST = TINY.format(steps=20, every=10).replace("tiny-bag", "robust-bag") + (
    'adversarial = "pgd"\nadv_steps = 2\nrobust_every = 5\nrobust_n = 16\n'
)


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEngine, str]]:
    tmp = tmp_path_factory.mktemp("robust")
    home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        config = tmp / "robust.toml"
        config.write_text(ROBUST)
        out = wb(engine, "train", str(config), "--follow")
        assert out.returncode == 0, out.stderr[-2000:]
        run_id = str(wb_json(engine, "runs", "list")[-1]["run_id"])
        yield engine, run_id
    finally:
        stop_engine(proc)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_robust_points_are_stored_and_drawn_beside_the_loss(
    engine_runs: tuple[RunningEngine, str], size: tuple[int, int]
) -> None:
    engine, run_id = engine_runs
    app = WorkbenchApp(engine.home)
    view_state_path(app.endpoint.describe()).unlink(missing_ok=True)
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.connected)
        hist = await app.link.ask(P.RunShow(run_id=run_id))
        robust = hist.series.get("robust_accuracy", [])
        assert [s for s, _ in robust] == [5, 10, 15, 20]
        assert all(0 <= v <= 1 for _, v in robust)
        assert [s for s, _ in hist.series.get("attack_success_rate", [])] == [5, 10, 15, 20]
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        tab = screen.query_one(PlotsTab)
        await wait_for(pilot, lambda: tab.robust_shown, timeout=30)
        plot, panel = tab.plot, tab.robust_plot
        assert plot is not None and panel is not None
        await wait_for(pilot, lambda: panel.size.height > 0)
        assert plot.size.height >= 4 and panel.size.height >= 4, (size, panel.size)
        assert panel.region.y > plot.region.y  # under the loss, which stays on top
        title = shown(app, "#tr-robust-title")
        assert "robust accuracy by step" in title and "robust_accuracy" in title
        assert "cannot be drawn" not in str(panel.render())
        assert "loss by step" in shown(app, "#tr-plot-opts")
        # the robustness plot as the chosen one: the panel steps aside
        while screen.plot.title != "robust accuracy":
            await pilot.press("v")
        await wait_for(pilot, lambda: not tab.robust_shown)
        assert "robust accuracy by step" in shown(app, "#tr-plot-opts")
        await wait_for(pilot, lambda: "robust_accuracy" in shown(app, "#tr-legend"))
