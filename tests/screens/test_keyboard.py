"""One keyboard model on every screen, with Pilot against a real engine: command mode on the
main list at open, explicit text entry that esc leaves at once (an esc read as alt+key too),
j/k/g/G in lists, the mode in the status bar, a focus mark that is not only colour, `? help`
first in every footer, dialogs that close with esc, and an engine stopped on purpose left
stopped until the user says."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from textual.widgets import Input, Static

from engine import protocol as P
from tests.helpers.engine import ROOT, RunningEngine
from tests.helpers.screens import wait_for
from workbench.app import SCREENS, WorkbenchApp
from workbench.widgets.base import WorkbenchScreen, is_text_entry
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.engine_stopped import EngineStoppedScreen
from workbench.widgets.footer import footer_text
from workbench.widgets.help import HelpScreen
from workbench.widgets.jobs import JobsScreen
from workbench.widgets.row_table import RowTable
from workbench.widgets.status_bar import StatusBar

MODES = [(mode, key) for mode, key, _, _ in SCREENS]


async def _ready(pilot: object, app: WorkbenchApp) -> None:
    await wait_for(pilot, lambda: app.connected)  # type: ignore[arg-type]


def _status(app: WorkbenchApp) -> str:
    bar = app.screen.query_one(StatusBar)
    bar.refresh_status()
    return str(bar.render())


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_every_screen_opens_in_command_mode_on_its_main_list(
    engine: RunningEngine, size: tuple[int, int]
) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, app)
        for mode, key in MODES:
            await pilot.press(key)
            await wait_for(pilot, lambda m=mode: app.current_mode == m)  # type: ignore[misc]
            screen = app.screen
            assert isinstance(screen, WorkbenchScreen)
            main = screen.main_widget()
            assert main is not None, f"{mode} names no main list (MAIN / TAB_FOCUS)"
            await wait_for(pilot, lambda s=screen, w=main: s.focused is w)  # type: ignore[misc]
            assert not is_text_entry(screen.focused), mode
            assert screen.command_mode() and _status(app).startswith("COMMAND"), mode
            # the focused pane is marked by a bar, not only by colour
            assert main.styles.border_left[0] not in ("", "none", "blank", "hidden"), mode
            text = footer_text(app.screen)
            assert text.startswith("? help"), (mode, text)
            # letters typed now are commands: nothing was typed into any text box
            boxes = [w for w in screen.query(Input)]
            before = [b.value for b in boxes]
            await pilot.press("j", "k", "G", "g")
            assert [b.value for b in boxes] == before, mode


async def test_text_entry_is_explicit_and_esc_leaves_it_at_once(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        table = app.screen.query_one(RowTable)
        await wait_for(pilot, lambda: table.total > 0)
        await wait_for(pilot, lambda: app.focused is table)
        await pilot.press("slash")
        assert is_text_entry(app.focused)
        status = _status(app)
        assert status.startswith("TEXT") and "esc leaves" in status
        assert footer_text(app.screen).startswith("? help  esc leave text")
        await pilot.press("f", "i", "l", "m")  # letters are text here
        box = app.focused
        assert isinstance(box, Input) and box.value == "film"
        await wait_for(pilot, lambda: 0 < table.total < 12808)  # the filter applied
        await pilot.press("escape", "j")  # esc, then a command: the cursor moves
        assert app.focused is table and table.cursor == 1
        assert _status(app).startswith("COMMAND")
        # an esc that arrived with the next key in one read comes as alt+key: the same
        await pilot.press("slash")
        assert is_text_entry(app.focused)
        await pilot.press("alt+j")
        assert app.focused is table and table.cursor == 2 and box.value == "film"
        await pilot.press("G")
        assert table.cursor == table.total - 1
        await pilot.press("g")
        assert table.cursor == 0


async def test_j_k_g_g_scroll_the_help_a_modal_screen(engine: RunningEngine) -> None:
    """A modal screen ends Textual's binding chain: the app's j/k/g/G must be its own too."""
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = app.screen.query_one("#help-keys")
        await pilot.press("j", "j", "j")
        await wait_for(pilot, lambda: keys.scroll_y == 3)
        await pilot.press("k")
        await wait_for(pilot, lambda: keys.scroll_y == 2)
        await pilot.press("G")
        await wait_for(pilot, lambda: keys.scroll_y == keys.max_scroll_y > 10)
        await pilot.press("g")
        await wait_for(pilot, lambda: keys.scroll_y == 0)
        assert isinstance(app.screen, HelpScreen)  # the keys scrolled it, and left it open


async def test_dialogs_close_with_esc(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        for opener, kind in (("question_mark", HelpScreen), ("J", JobsScreen)):
            await pilot.press(opener)
            await wait_for(pilot, lambda k=kind: isinstance(app.screen, k))  # type: ignore[misc]
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, WorkbenchScreen))
        answers: list[bool | None] = []
        app.push_screen(ConfirmDialog("Delete it?", "all of it"), answers.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: answers == [None])
        app.push_screen(ConfirmDialog("Delete it?", "all of it"), answers.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: answers == [None, True])
        assert answers == [None, True] and isinstance(app.screen, WorkbenchScreen)


async def test_the_jobs_view_lists_and_shows_the_engine_log(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        started = await app.ask(P.StreamEvents(rate=10, seconds=30))
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        jobs = app.screen
        assert isinstance(jobs, JobsScreen)
        await wait_for(pilot, lambda: any(r[0] == started.job_id for r in jobs._rows))
        row = next(r for r in jobs._rows if r[0] == started.job_id)
        assert row[1] in ("queued", "running")
        await pilot.press("x")  # cancel asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
        await wait_for(
            pilot,
            lambda: next(r for r in jobs._rows if r[0] == started.job_id)[1] == "cancelled",
        )
        await pilot.press("l")
        log = jobs.query_one("#jobs-log")
        await wait_for(pilot, lambda: len(log.lines) > 1)  # type: ignore[attr-defined]
        assert str(engine.home.log) in log.lines[0]  # type: ignore[attr-defined]


async def test_an_engine_stopped_on_purpose_stays_stopped_until_asked(
    engine: RunningEngine,
) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        first = app.link.state.session_id
        stop = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "workbench", "--home", engine.home.root, "engine", "stop"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stop.returncode == 0, stop.stderr
        await wait_for(pilot, lambda: isinstance(app.screen, EngineStoppedScreen))
        assert app.link.state.status == "stopped"
        assert "engine stopped" in _status_of_link(app)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:  # no engine is started behind the user's back
            await pilot.pause(0.1)
            assert not engine.home.socket.exists()
        await pilot.press("s")
        await wait_for(pilot, lambda: app.connected)
        assert app.link.state.session_id != first
        await app.ask(P.Shutdown())  # the engine this test's app started


def _status_of_link(app: WorkbenchApp) -> str:
    from workbench.widgets.status_bar import render_status

    return render_status(app.link.state).plain


def test_alt_keys_are_an_esc_then_the_key() -> None:
    from workbench.app import alt_character

    assert alt_character("alt+j") == "j" and alt_character("alt+shift+g") == "G"
    assert alt_character("alt+1") == "1"
    assert alt_character("j") is None and alt_character("alt+up") is None
    assert alt_character("ctrl+j") is None


async def test_an_engine_at_a_socket_is_never_offered_to_start_here(
    engine: RunningEngine,
) -> None:
    """Stopped behind a socket (a forward, --socket): no s in the dialog, which says to
    start it where it runs; s does nothing."""
    from workbench.engine.endpoint import at_socket

    app = WorkbenchApp(at_socket(engine.home.socket))
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot, app)
        stop = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "workbench", "--home", engine.home.root, "engine", "stop"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stop.returncode == 0, stop.stderr
        await wait_for(pilot, lambda: isinstance(app.screen, EngineStoppedScreen))
        dialog = app.screen
        said = " ".join(str(s.render()) for s in dialog.query(Static))
        assert "start it where it runs" in said and "s start it" not in said
        await pilot.press("s")
        await pilot.pause(1.0)
        assert isinstance(app.screen, EngineStoppedScreen)  # still there: nothing started
        assert not engine.home.socket.exists()
