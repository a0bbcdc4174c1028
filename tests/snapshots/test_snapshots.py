"""Every screen and tab at 80x24 as a picture (pytest-textual-snapshot), from recorded engine
replies so that every number is the same on every machine. A changed picture fails; review it in
the report and accept it with `pytest tests/snapshots --snapshot-update`. When a screen asks the
engine something new, record again: `python -m tests.snapshots.record`."""

from __future__ import annotations

import shutil
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import screens.training.screen as training_screen
import workbench.widgets.jobs as jobs_view
from tests.snapshots.replay import (
    CONFIG,
    HOME,
    RECORDING,
    SCENARIOS,
    SIZE,
    Recording,
    ReplayApp,
    ReplayLink,
    drive,
    load_recording,
)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return load_recording(RECORDING)


@pytest.fixture
def frozen(recording: Recording, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The clock where the recording was made, the time zone UTC, a fresh view state."""
    clock = types.SimpleNamespace(
        **{n: getattr(time, n) for n in dir(time) if not n.startswith("_")}
    )
    clock.time = lambda: recording.now
    for module in (training_screen, jobs_view):
        monkeypatch.setattr(module, "time", clock)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    shutil.rmtree(CONFIG, ignore_errors=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(CONFIG))
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_screen(name: str, recording: Recording, frozen: None, snap_compare) -> None:  # type: ignore[no-untyped-def]
    ReplayLink.scenario = recording.scenarios[name]
    ReplayLink.missing = []
    app = ReplayApp(HOME)
    assert snap_compare(app, terminal_size=SIZE, run_before=drive(SCENARIOS[name]))
    assert not ReplayLink.missing, (
        f"calls with no recorded reply (record again): {ReplayLink.missing}"
    )
