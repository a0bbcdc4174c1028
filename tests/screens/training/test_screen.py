"""The training monitor against a real engine with a running job: history, live, controls."""

from __future__ import annotations

from pathlib import Path

from engine import protocol as P
from screens.training import TrainingScreen
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import TINY
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp


async def test_monitor_shows_a_live_run_and_controls_it(
    engine: RunningEngine, tmp_path: Path
) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        # 50 epochs: long enough that pausing, evaluating and stopping happen mid-run
        started = await app.link.ask(
            P.RunStart(
                config_toml=TINY.format(steps=100_000, every=50).replace(
                    "epochs = 1", "epochs = 50"
                )
            )
        )
        run_id = started.run.run_id
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        await wait_for(pilot, lambda: screen.selected == run_id, timeout=60)
        await wait_for(
            pilot,
            lambda: len(screen.history.series.get(run_id, {}).get("train_loss", [])) > 5,
            timeout=120,
        )
        await wait_for(pilot, lambda: screen.redraws > 0)
        assert "tiny-bag" in shown(app, "#tr-stats")
        await pilot.press("space")  # pause
        await wait_for(pilot, lambda: screen.runs[run_id].state == "paused")
        paused_at = len(screen.history.series[run_id]["train_loss"])
        await pilot.pause(1.0)
        assert len(screen.history.series[run_id]["train_loss"]) <= paused_at + 1  # within one batch
        await pilot.press("space")  # resume
        await wait_for(pilot, lambda: screen.runs[run_id].state == "running")
        await wait_for(pilot, lambda: bool(screen.history.evals.get(run_id)), timeout=120)
        await pilot.press("m")
        await wait_for(pilot, lambda: "confusion" in shown(app, "#tr-confusion"))
        await pilot.press("x")  # stop
        await wait_for(pilot, lambda: screen.runs[run_id].state == "stopped", timeout=60)

    # a new app (a reattach after an SSH drop) shows the whole history at once
    again = WorkbenchApp(engine.home)
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: again.connected)
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(again.screen, TrainingScreen))
        screen2 = again.screen
        assert isinstance(screen2, TrainingScreen)
        await wait_for(
            pilot,
            lambda: len(screen2.history.series.get(run_id, {}).get("train_loss", [])) >= paused_at,
        )
