"""A monkey: seeded random keys against the real app and a real engine that holds a finished,
a running and an interrupted run. The keys are drawn from the bindings that work where the app
is (each screen's, each dialog's), list and page keys, escape, tab, and printable text. Any
exception or a key the app does not answer within HANG_SECONDS fails, printing the seed and the
last keys for replay: MONKEY_SEED=<seed> MONKEY_KEYS=<n> pytest tests/e2e/test_monkey.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from textual.app import SystemCommand
from textual.screen import Screen

from engine.paths import Home, resolve_home
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY
from workbench.app import WorkbenchApp

pytestmark = pytest.mark.e2e

KEYS = int(os.environ.get("MONKEY_KEYS", "300"))  # per size: CI has 60 minutes in all
SEED = int(os.environ.get("MONKEY_SEED", "0")) or random.randrange(1, 10**6)
HANG_SECONDS = 20.0
NEVER = {"ctrl+q", "ctrl+c", "ctrl+z", "q"}  # they quit: the monkey would end itself
SCREENS = list("1234567")
NAMED = [
    "escape", "tab", "shift+tab", "enter", "space", "up", "down", "left", "right",
    "pageup", "pagedown", "home", "end", "j", "k", "g", "G", "question_mark", "slash",
    "backspace", "delete", "ctrl+p",
]  # fmt: skip
WORDS = ["king", "the movie was great", "-8", "0", "1e9", "zzz", "émoji 🙂", '"', "'", "a;b"]


def _long(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.toml"
    text = TINY.format(steps=0, every=50).replace("max_steps = 0\n", "")
    path.write_text(text.replace("epochs = 1", "epochs = 1000000").replace("tiny-bag", name))
    return path


@pytest.fixture(scope="module")
def busy_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    """An engine with a finished run, an interrupted one and one training now."""
    tmp = tmp_path_factory.mktemp("monkey")
    home: Home = resolve_home(tmp / "home")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        finished = tmp / "finished.toml"
        finished.write_text(TINY.format(steps=20, every=10))
        assert wb(engine, "train", str(finished), "--follow").returncode == 0
        cut = wb_json(engine, "train", str(_long(tmp, "cut-short")))["run_id"]
        deadline = time.monotonic() + 120
        while wb_json(engine, "runs", "show", cut)["run"]["step"] < 30:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_engine(proc)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        states = {r["state"] for r in wb_json(engine, "runs", "list")}
        assert states == {"finished", "interrupted"}, states
        running = wb_json(engine, "train", str(_long(tmp, "running")))["run_id"]
        yield engine
        wb(engine, "runs", "stop", running)
    finally:
        stop_engine(proc)


class MonkeyApp(WorkbenchApp):
    """The app, less the command palette's Quit (the monkey would end itself)."""

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def _choices(app: WorkbenchApp) -> list[str]:
    """What a user could press here: the bindings that work now, plus the usual keys."""
    bound = [
        key
        for key, active in app.screen.active_bindings.items()
        if active.enabled and "quit" not in active.binding.action
    ]
    pool = bound * 3 + NAMED + SCREENS
    return [k for k in pool if k not in NEVER]


async def _monkey(
    home: Home, size: tuple[int, int], seed: int, keys: int
) -> tuple[list[str], set[str]]:
    """The keys sent and the screens and dialogs they reached (seed: MONKEY_SEED's)."""
    rng = random.Random(seed + size[0])
    sent: list[str] = []
    seen: set[str] = set()
    app = MonkeyApp(home)
    try:
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 60
            while not app.connected:
                assert time.monotonic() < deadline, "the app never connected"
                await pilot.pause(0.05)
            tour = [["1"], ["2"], ["3"], ["4"], ["5"], ["question_mark"], ["escape"]]
            for i in range(keys):
                if i < len(tour):  # every screen once, whatever the seed draws after
                    press = tour[i]
                elif rng.random() < 0.08:
                    press = list(rng.choice(WORDS))  # text, one character at a time
                else:
                    press = [rng.choice(_choices(app))]
                sent.extend(press)
                try:
                    await asyncio.wait_for(pilot.press(*press), HANG_SECONDS + 2 * len(press))
                except TimeoutError:
                    raise AssertionError(f"the app hung on {press}") from None
                if not app.is_running:
                    why = app._exception  # what ended it, when it was an error
                    raise AssertionError(f"the app exited ({why!r}, code {app.return_code})")
                seen.add(type(app.screen).__name__)
                if rng.random() < 0.05:
                    await pilot.pause(0.2)  # let engine replies land between keys
    except BaseException as exc:
        raise AssertionError(
            f"{type(exc).__name__}: {exc} at {size[0]}x{size[1]} after {len(sent)} keys; "
            f"replay: MONKEY_SEED={seed} MONKEY_KEYS={keys}; last keys: {sent[-40:]}"
        ) from exc
    return sent, seen


@pytest.mark.timeout(600)  # 1,500 keys on a loaded 2-core machine: a few minutes
@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_random_keys_never_crash_or_hang(
    busy_home: RunningEngine,
    size: tuple[int, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # what the monkey saves under a typed name lands here
    sent, seen = await _monkey(busy_home.home, size, SEED, KEYS)
    print(f"monkey: {len(sent)} keys at {size[0]}x{size[1]}, MONKEY_SEED={SEED}: {sorted(seen)}")
    assert len(sent) >= KEYS
    screens = {"DatasetsScreen", "TokenizerScreen", "EmbeddingsScreen", "BuilderScreen"}
    assert screens | {"TrainingScreen", "HelpScreen"} <= seen, seen  # it went everywhere
    assert busy_home.alive(), "the engine died under the monkey"
