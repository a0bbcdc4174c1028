"""The monitor after a reattach, a SIGKILL and a resume shows the store's numbers, not only
something: the run's state, step, best and test score, time trained and wall time, and every
point of its series (with the wall time of each step, so that the by-time axis is right)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine import protocol as P
from engine.paths import Home
from engine.training.checkpoint import list_checkpoints
from screens.training import TrainingScreen
from screens.training.model import PlotSettings, best_eval, wall_seconds
from screens.training.plotspec import plot_spec
from screens.training.runs import RunsPane
from tests.helpers.cli import wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import three_config, three_splits
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.engine.client import EngineClient
from workbench.widgets.series import fmt_duration

SERIES = ("train_loss", "val_loss", "val_accuracy", "epoch", "lr")


def _wait_for_checkpoints(folder: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list_checkpoints(folder)) < count:
        assert time.monotonic() < deadline, "no checkpoints appeared"
        time.sleep(0.05)


async def _store(home: Home, run_id: str) -> P.RunHistory:
    client = EngineClient(home, name="test")
    await client.connect(start=False)
    try:
        return await client.ask(P.RunShow(run_id=run_id))
    finally:
        await client.close()


def _monitor(screen: TrainingScreen, run_id: str) -> dict[str, Any]:
    run = screen.runs[run_id]
    h = screen.history
    return {
        "state": run.state,
        "step": run.step,
        "best": run.best,
        "test": run.test,
        "active": run.active,
        "started": run.started,
        "series": {name: list(h.points(run_id, name)) for name in SERIES},
        "times": list(h.times.get(run_id, {}).items()),
        "evals": [(e.step, e.split, e.epoch, e.metrics) for e in h.evals.get(run_id, [])],
    }


def _stored(hist: P.RunHistory) -> dict[str, Any]:
    run = hist.run
    return {
        "state": run.state,
        "step": run.step,
        "best": run.best,
        "test": run.test,
        "active": run.active,
        "started": run.started,
        "series": {name: [tuple(p) for p in hist.series.get(name, [])] for name in SERIES},
        "times": [tuple(t) for t in hist.times],
        "evals": [(e.step, e.split, e.epoch, e.metrics) for e in hist.evals],
    }


async def _shown_durations(pilot, screen: TrainingScreen, hist: P.RunHistory) -> None:  # type: ignore[no-untyped-def]
    """The head prints time trained, wall time and the best step as the store has them."""
    run = hist.run
    last = hist.times[-1][1] if hist.times else None
    want = [
        f"trained {fmt_duration(run.active)}",
        f"wall {fmt_duration(wall_seconds(run, time.time(), last))}",
        f"step {run.step:,}",
    ]
    best = best_eval(run, hist.evals)
    if best is not None:
        want.append(f"best val {run.metric} {run.best:.4f} @ step {best.step:,}")
    try:
        await wait_for(pilot, lambda: all(w in shown(screen.app, "#tr-stats") for w in want), 5)  # type: ignore[arg-type]
    except AssertionError:
        raise AssertionError(f"{want} not in {shown(screen.app, '#tr-stats')}") from None  # type: ignore[arg-type]


def _by_time_is_spread(screen: TrainingScreen, run_id: str) -> None:
    """On the by-time axis every step has its own wall time: one point at x=0, in order."""
    spec = plot_spec(screen.history, [run_id], {}, PlotSettings(axis="time", smoothing=0.0), 10**6)
    xs = spec.lines[0].xs
    assert len(xs) == len(screen.history.points(run_id, "train_loss"))
    assert xs == sorted(xs) and xs.count(0.0) == 1


async def _open(app: WorkbenchApp, pilot, run_id: str) -> TrainingScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
    screen = app.screen
    assert isinstance(screen, TrainingScreen)
    await wait_for(pilot, lambda: screen.selected == run_id and run_id in screen.history.series)
    return screen


@pytest.mark.timeout(600)
async def test_the_monitor_equals_the_store_after_quit_sigkill_and_resume(
    home: Home, tmp_path: Path
) -> None:
    proc = await asyncio.to_thread(start_engine, home)
    engine = RunningEngine(home, proc)
    try:
        three_splits(engine, tmp_path)
        # long enough that it still runs when the engine is killed, on a loaded machine too
        config = three_config(tmp_path, epochs=400, every=40, name="reattached")
        run_id = wb_json(engine, "train", str(config))["run_id"]
        # 1. watch it live, then quit: what the monitor holds is what the store holds
        app = WorkbenchApp(home)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, run_id)
            await wait_for(
                pilot, lambda: len(screen.history.evals.get(run_id, [])) >= 2, timeout=120
            )
            live = _monitor(screen, run_id)
            stored = _stored(await _store(home, run_id))
            for name in SERIES:  # the run goes on: the store has at least what was shown
                seen = live["series"][name]
                assert seen and stored["series"][name][: len(seen)] == seen, name
            assert stored["times"][: len(live["times"])] == live["times"]
            for step, split, epoch, _ in live["evals"]:  # an evaluation's epoch is the step's
                assert split == "validation" and epoch == pytest.approx(
                    screen.history.epochs[run_id][step]
                )
        # 2. the engine dies mid-run, after a checkpoint and points beyond it
        ckpts = home.data_dir / "runs" / run_id / "checkpoints"
        await asyncio.to_thread(_wait_for_checkpoints, ckpts, 2)
        await asyncio.sleep(2.5)  # past a store of the step and time trained
        assert (await _store(home, run_id)).run.state == "running", "the run ended too soon"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_engine(proc)

    proc = await asyncio.to_thread(start_engine, home)
    try:
        # 3. reattach: an interrupted run, exactly as stored, durations included
        app = WorkbenchApp(home)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, run_id)
            hist = await _store(home, run_id)
            assert hist.run.state == "interrupted"
            await wait_for(pilot, lambda: screen.redraws > 0)
            assert _monitor(screen, run_id) == _stored(hist)
            await _shown_durations(pilot, screen, hist)
            _by_time_is_spread(screen, run_id)
            pane = screen.query_one(RunsPane)
            assert "interrupted" in str(pane._prompts)
            # 4. resume from the monitor: the list says it runs again, then that it finished
            await pilot.press("u")
            await wait_for(pilot, lambda: screen.runs[run_id].state in ("queued", "running"))
            await wait_for(pilot, lambda: "interrupted" not in str(pane._prompts), timeout=30)
            await wait_for(pilot, lambda: screen.runs[run_id].state == "finished", timeout=300)
            await wait_for(pilot, lambda: "finished" in str(pane._prompts))
            hist = await _store(home, run_id)
            await wait_for(pilot, lambda: _monitor(screen, run_id) == _stored(hist), timeout=30)
            run = screen.runs[run_id]
            assert run.test and run.best is not None and run.active > 0
            assert run.started == hist.run.started < hist.run.resumed  # wall counts from the first
            await wait_for(pilot, lambda: screen.redraws > 0)
            await _shown_durations(pilot, screen, hist)
            _by_time_is_spread(screen, run_id)
            steps = [s for s, _ in screen.history.points(run_id, "train_loss")]
            assert steps == sorted(set(steps))  # the replayed steps once each
            head = shown(app, "#tr-stats")
            assert f"test {run.test[run.metric]:.4f}" in head
        # 5. and a new app after all that shows the same
        again = WorkbenchApp(home)
        async with again.run_test(size=(120, 36)) as pilot:
            screen = await _open(again, pilot, run_id)
            hist = await _store(home, run_id)
            assert _monitor(screen, run_id) == _stored(hist)
            await wait_for(pilot, lambda: screen.redraws > 0)
            await _shown_durations(pilot, screen, hist)
    finally:
        stop_engine(proc)
