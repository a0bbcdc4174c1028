"""Every dialog that takes a path says, in words, which machine the path means: this one for
an engine here, the engine's (by name) for one elsewhere, and a file the app itself reads or
writes is this machine's either way. At 80x24 the line never pushes the input off screen. An
engine elsewhere gets the path as typed, nothing of this machine offered in its place, and its
own error when it cannot use it. Pilot against a real engine; "elsewhere" is the link state an
engine with another host's Welcome leaves (the decision itself is tested on such a Welcome)."""

from __future__ import annotations

import contextlib
import socket

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

from engine import protocol as P
from screens.datasets.import_dialog import ImportScreen
from screens.tokenizers.dialogs import AddTokenizerScreen
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.engine.link import LinkState, on_other_machine
from workbench.widgets.path_dialog import PathDialog, for_engine, path_machine

HOST = "gpu-box-7"
HERE = "path on this machine"
THERE = f"path on the engine's machine ({HOST})"


def _welcome(host: str) -> P.Welcome:
    return P.Welcome(protocol_version=8, session_id="s", engine_version="0", pid=1, host=host)


def test_an_engine_with_another_host_is_elsewhere() -> None:
    assert not on_other_machine(_welcome(socket.gethostname()))
    assert not on_other_machine(_welcome(""))  # an engine that names no host: as before, here
    assert on_other_machine(_welcome(HOST))
    assert on_other_machine(_welcome("here"), here="laptop")


def test_the_line_and_the_path_sent_for_each_machine() -> None:
    local = LinkState(host=socket.gethostname(), remote=False)
    remote = LinkState(host=HOST, remote=True)
    assert path_machine(local, "engine") == path_machine(local, "app") == HERE
    assert path_machine(remote, "engine") == THERE
    assert path_machine(remote, "app") == f"path on this machine, not the engine's ({HOST})"
    long = LinkState(host="a" * 80, remote=True)
    assert len(path_machine(long, "app")) <= 68  # one line in a path dialog at 80 columns
    assert len(path_machine(long, "engine")) <= 63  # and under the import dialog's source
    assert for_engine(local, "data.csv").startswith("/")  # made absolute in this folder
    assert for_engine(remote, " data.csv ") == "data.csv"  # this folder means nothing there
    assert for_engine(remote, "~/data.csv") == "~/data.csv"  # nor this home


def _on_screen(app: WorkbenchApp, *widgets: Widget) -> None:
    """Each widget is shown whole inside the 80x24 terminal, above the footer's line."""
    screen = Region(0, 0, *app.size)
    for widget in widgets:
        region = widget.region
        assert region.height >= 1 and region.width >= 10, (widget, region)
        assert screen.contains_region(region), (widget, region)
        assert region.bottom <= app.size.height - 1, (widget, region)


async def _mode(pilot: Pilot[object], app: WorkbenchApp, mode: str, key: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: app.current_mode == mode)
    await pilot.pause()


async def _close(pilot: Pilot[object], app: WorkbenchApp, kind: type) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, kind))


async def _import(pilot: Pilot[object], app: WorkbenchApp, line: str, typed: str) -> str:
    """Open the import dialog, check its line, preview typed: what the dialog then says."""
    await _mode(pilot, app, "datasets", "1")
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen))
    dialog = app.screen
    assert shown(app, "#import-where").strip() == line
    source = dialog.query_one("#import-source", Input)
    _on_screen(app, source, dialog.query_one("#import-where"), dialog.query_one("#import-name"))
    source.value = typed
    source.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: "reading" not in shown(app, "#import-message"))
    await wait_for(pilot, lambda: shown(app, "#import-message").strip() != "")
    said = shown(app, "#import-message")
    await _close(pilot, app, ImportScreen)
    return said


async def _add_tokenizer(pilot: Pilot[object], app: WorkbenchApp, line: str) -> None:
    await _mode(pilot, app, "tokenizers", "2")
    await pilot.press("o")
    await wait_for(pilot, lambda: isinstance(app.screen, AddTokenizerScreen))
    dialog = app.screen
    assert shown(app, "#where").strip() == line
    _on_screen(app, dialog.query_one("#path"), dialog.query_one("#where"))
    _on_screen(app, dialog.query_one("#name"))
    await _close(pilot, app, AddTokenizerScreen)


async def _path_dialog(
    pilot: Pilot[object], app: WorkbenchApp, mode: str, key: str, opener: str, line: str
) -> str:
    """Open a PathDialog from a screen, check its line: the default it offers."""
    await _mode(pilot, app, mode, key)
    for _ in range(12):  # a screen still loading under load ignores the key: press again
        await pilot.press(opener)
        with contextlib.suppress(AssertionError):
            await wait_for(pilot, lambda: isinstance(app.screen, PathDialog), 5)
            break
    assert isinstance(app.screen, PathDialog), f"{opener} on {mode} opened no path dialog"
    dialog = app.screen
    assert shown(app, "#path-where").strip() == line
    box = dialog.query_one("#path-input", Input)
    _on_screen(app, box, dialog.query_one("#path-where"))
    default = box.value
    await _close(pilot, app, PathDialog)
    return default


async def test_each_path_dialog_names_its_machine_at_80x24(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        assert not app.link_state.remote  # the test's engine is this machine's
        said = await _import(pilot, app, HERE, "missing.csv")
        assert "no dataset file" in said  # made absolute here, then looked for
        await _add_tokenizer(pilot, app, HERE)
        default = await _path_dialog(pilot, app, "predict", "6", "f", HERE)
        assert default.startswith("/")  # this folder: it is the engine's machine's too
        await _path_dialog(pilot, app, "builder", "4", "ctrl+o", HERE)

        app.link_state.host, app.link_state.remote = HOST, True  # as a far engine leaves it
        said = await _import(pilot, app, THERE, "missing.csv")
        assert "relative" in said and "missing.csv" in said  # the engine's own error
        await _add_tokenizer(pilot, app, THERE)
        default = await _path_dialog(pilot, app, "predict", "6", "f", THERE)
        assert default == ""  # nothing of this machine offered for the engine's
        # the app reads a run TOML itself: this machine's, whichever the engine's is
        app_side = f"path on this machine, not the engine's ({HOST})"
        await _path_dialog(pilot, app, "builder", "4", "ctrl+o", app_side)
        assert app.is_running
