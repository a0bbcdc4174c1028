"""The dataset browser, driven with Pilot against a real engine on a temporary home."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static

from engine import protocol as P
from screens.datasets import DatasetsScreen
from screens.datasets.dialogs import LabelPicker, NameDialog
from screens.datasets.import_dialog import ImportScreen
from tests.helpers.cli import wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import wait_for
from workbench.app import WorkbenchApp
from workbench.engine.client import EngineClient
from workbench.widgets.help import HelpScreen
from workbench.widgets.row_table import RowTable
from workbench.widgets.status_bar import StatusBar


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def browser(app: WorkbenchApp) -> DatasetsScreen:
    screen = app.screen
    assert isinstance(screen, DatasetsScreen)
    return screen


async def opened(pilot: Pilot[object], app: WorkbenchApp, name: str) -> DatasetsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen))
    screen = browser(app)
    await wait_for(pilot, lambda: screen.current is not None and screen.current.name == name)
    table = screen.query_one(RowTable)
    await wait_for(pilot, lambda: table.total > 0)
    return screen


async def engine_count(home: RunningEngine, **filters: object) -> int:
    client = EngineClient(home.home)
    await client.connect(start=False)
    try:
        page = await client.ask(P.DatasetRows(limit=1, **filters))  # type: ignore[arg-type]
        return page.total
    finally:
        await client.close()


async def test_opens_rotten_tomatoes_with_rows_and_stats(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app, "rotten-tomatoes")
        table = screen.query_one(RowTable)
        assert table.total == 12808
        assert "12,808 rows\n2 classes" in text_of(app, "#ds-info")
        await wait_for(pilot, lambda: table.row_at(0) is not None)
        first = table.row_at(0)
        assert first is not None and first.label in ("fresh", "rotten")
        await pilot.press("down")
        await wait_for(pilot, lambda: "#1 " in text_of(app, "#row-text"))
        assert "label:" in text_of(app, "#row-text")
        # stats tab
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.stats is not None)
        bars = text_of(app, "#label-bars")
        assert "fresh" in bars and "7,403" in bars and "5,405" in bars
        # the other built-ins are listed; the status bar says connected
        options = screen.query_one("#ds-list", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[:3] == ["rotten-tomatoes", "20-newsgroups", "reuters-r8"]
        assert "engine" in str(screen.query_one(StatusBar).render())


async def test_search_regex_and_label_filters_match_the_engine(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app, "rotten-tomatoes")
        table = screen.query_one(RowTable)
        await pilot.press("slash", *"boring", "enter")
        expected = await engine_count(engine, name="rotten-tomatoes", search="boring")
        await wait_for(pilot, lambda: table.total == expected)
        assert 0 < expected < 12808
        assert f"{expected:,}/12,808" in text_of(app, "#filter-info")
        await pilot.press("l")  # the label picker: all labels, then fresh (most rows)
        await wait_for(pilot, lambda: isinstance(app.screen, LabelPicker))
        await pilot.press("j", "enter")
        both = await engine_count(engine, name="rotten-tomatoes", search="boring", label="fresh")
        await wait_for(pilot, lambda: table.total == both)
        assert both < expected
        await pilot.press("c", "slash", *"^the .* film$", "escape", "x")
        rx = await engine_count(engine, name="rotten-tomatoes", search="^the .* film$", regex=True)
        await wait_for(pilot, lambda: screen.filter.regex and table.total == rx)
        # a broken regex is a message, not a crash
        await pilot.press("slash", "ctrl+a", "backspace", *"(unclosed", "escape")
        await wait_for(pilot, lambda: "regex" in text_of(app, "#row-text").lower())
        assert app.is_running


async def test_a_builtin_split_by_movie_again_becomes_a_new_dataset(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app, "rotten-tomatoes")
        await pilot.press("p")
        group = screen.query_one("#split-group", Input)
        group.value = "movie_name"
        seed = screen.query_one("#split-seed", Input)
        seed.value = "7"
        screen.query_one(DataTable).focus()
        await pilot.press("s")  # a built-in keeps its split: name the new dataset
        await wait_for(pilot, lambda: isinstance(app.screen, NameDialog))
        what = str(app.screen.query_one("#name-what", Static).render())
        assert "its own split stays" in what and "grouped by movie_name" in what
        assert app.screen.query_one("#name-input", Input).value == "rotten-tomatoes-s7"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.last_split is not None)
        res = screen.last_split
        assert res is not None and res.group_column == "movie_name" and res.seed == 7
        assert (res.name, res.parent) == ("rotten-tomatoes-s7", "rotten-tomatoes")
        sizes = {s.split: s.rows for s in res.splits}
        assert sum(sizes.values()) == 12808
        assert 0.7 < sizes["train"] / 12808 < 0.9
        table = screen.query_one("#split-table", DataTable)
        assert table.row_count == len(res.splits)
        await wait_for(
            pilot, lambda: screen.current is not None and screen.current.name == res.name
        )
        client = EngineClient(engine.home)
        await client.connect(start=False)
        try:
            own = (await client.ask(P.DatasetShow(name="rotten-tomatoes"))).dataset.splits
        finally:
            await client.close()
        assert own == {"train": 10226, "validation": 1289, "test": 1293}
        await pilot.press("d")
        await wait_for(pilot, lambda: screen.last_report is not None)
        assert "rows repeat an earlier text" in text_of(app, "#report")
        # bad fractions: a clear message before anything is asked, the split kept
        screen.query_one("#split-train", Input).value = "0.9"
        await pilot.press("s")
        await wait_for(pilot, lambda: "add up to 1" in text_of(app, "#split-opts"))
        assert screen.last_split is res and isinstance(app.screen, DatasetsScreen)


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


async def _open_import(pilot: Pilot[object], app: WorkbenchApp, source: Path | str) -> ImportScreen:
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen))
    modal = app.screen
    assert isinstance(modal, ImportScreen)
    modal.query_one("#import-source", Input).value = str(source)
    modal.query_one("#import-source", Input).focus()
    await pilot.press("enter")
    return modal


def _message(modal: ImportScreen) -> str:
    return str(modal.query_one("#import-message", Static).render())


async def test_import_a_csv_then_refuse_the_same_name(
    engine: RunningEngine, tmp_path: Path
) -> None:
    rows = ["review,sentiment,id"] + [
        f'"{"great" if i % 2 else "awful"} film number {i}",{"pos" if i % 2 else "neg"},{i}'
        for i in range(60)
    ]
    csv = _write(tmp_path / "My Reviews.csv", "\n".join(rows) + "\n")
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app, "rotten-tomatoes")
        modal = await _open_import(pilot, app, csv)
        await wait_for(pilot, lambda: modal.preview_info is not None)
        assert modal.preview_info is not None
        assert modal.preview_info.text_column == "review"
        assert modal.preview_info.label_column == "sentiment"
        assert modal.query_one("#import-name", Input).value == "my-reviews"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen))
        screen = await opened(pilot, app, "my-reviews")
        assert screen.current is not None and screen.current.rows == 60
        assert screen.current.labels == {"neg": 30, "pos": 30}
        # the same name again: refused, the first import intact
        modal = await _open_import(pilot, app, csv)
        await wait_for(pilot, lambda: modal.preview_info is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "already exists" in _message(modal))
        await pilot.press("escape")
        assert await engine_count(engine, name="my-reviews") == 60


BAD_INPUTS = [
    ("missing.csv", None, "no dataset file"),
    ("empty.csv", "", "empty"),
    ("quote.csv", 'text,label\n"a broken quote,pos\nfine,neg\n', "quote"),
    ("latin1.csv", "text,label\ncaf\xe9 au lait,pos\nthe,neg\n".encode("latin-1"), "UTF-8"),
    ("binary.csv", bytes(range(256)) * 40, "binary"),
]


@pytest.mark.parametrize(("filename", "content", "phrase"), BAD_INPUTS)
async def test_bad_files_get_clear_messages(
    engine: RunningEngine, tmp_path: Path, filename: str, content: bytes | str | None, phrase: str
) -> None:
    path = tmp_path / filename
    if content is not None:
        _write(path, content)
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app, "rotten-tomatoes")
        modal = await _open_import(pilot, app, path)
        await wait_for(pilot, lambda: phrase.lower() in _message(modal).lower(), timeout=30)
        assert filename in _message(modal)
        assert app.is_running


async def test_wrong_column_and_one_class_are_refused(
    engine: RunningEngine, tmp_path: Path
) -> None:
    csv = _write(tmp_path / "one.csv", "text,label\n" + "".join(f"t {i},pos\n" for i in range(9)))
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app, "rotten-tomatoes")
        modal = await _open_import(pilot, app, csv)
        await wait_for(pilot, lambda: modal.preview_info is not None)
        modal.query_one("#import-label").value = "label"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "only one class" in _message(modal))
        # a misnamed column, straight through the engine as a client would send it
        client = EngineClient(engine.home)
        await client.connect(start=False)
        try:
            call = P.DatasetImport(source=str(csv), name="one", text_column="txt")
            job = await client.ask(call)
            ended: list[P.JobEnded] = []
            client.subscribe(
                lambda evs, _: ended.extend(
                    e for e in evs if isinstance(e, P.JobEnded) and e.job.job_id == job.job_id
                )
            )
            await wait_for(pilot, lambda: bool(ended))
            assert ended[0].error is not None
            assert "no column 'txt'" in ended[0].error.message
            assert "text, label" in ended[0].error.message
        finally:
            await client.close()
        names = await _dataset_names(engine)
        assert "one" not in names


async def _dataset_names(engine: RunningEngine) -> list[str]:
    client = EngineClient(engine.home)
    await client.connect(start=False)
    try:
        res = await client.ask(P.DatasetList())
        return [d.name for d in res.datasets]
    finally:
        await client.close()


async def test_help_lists_every_key_with_its_id(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app, "rotten-tomatoes")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {row[3] for row in help_screen.rows}
        for needed in (
            "app.quit",
            "app.help",
            "app.screen.datasets",
            "datasets.import",
            "datasets.search",
            "rows.down",
            "import.start",
            "tokenizers.pick",
        ):
            assert needed in ids
        assert "datasets.import" in str(help_screen.query_one("#help-text", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DatasetsScreen))


async def test_engine_killed_app_reconnects_to_a_new_engine(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app, "rotten-tomatoes")
        first = app.link.state.session_id
        os.kill(engine.pid, signal.SIGKILL)
        try:
            await wait_for(pilot, lambda: app.link.state.session_id not in ("", first), timeout=90)
            assert app.link.state.restarts == 1
            bar = app.screen.query_one(StatusBar)
            await wait_for(pilot, lambda: "restarted" in str(bar.render()), timeout=10)
            screen = browser(app)
            await wait_for(pilot, lambda: screen.query_one(RowTable).total == 12808)
        finally:  # the app started a new engine: stop it whatever happened
            with contextlib.suppress(Exception):
                await app.link.ask(P.Shutdown(), timeout=10)


def _shown_indices(table: RowTable) -> list[int]:
    """The row numbers the table draws now (its # column), top to bottom."""
    shown = []
    for y in range(1, table.size.height):
        cells = table.render_line(y).text.split()
        if cells and cells[0].isdigit():
            shown.append(int(cells[0]))
    return shown


async def _page_through(pilot: Pilot[object], table: RowTable, expected: list[int]) -> None:
    """pagedown from the top to the end: every row the engine has is drawn once, in order."""
    seen: list[int] = []
    await pilot.press("g")
    for _ in range(len(expected)):  # a page shows at least one row
        await wait_for(pilot, lambda: all(r is not None for r in _visible_rows(table)))
        seen.extend(i for i in _shown_indices(table) if not seen or i > seen[-1])
        if seen and seen[-1] == expected[-1]:
            break
        await pilot.press("pagedown")
    assert seen == expected


def _visible_rows(table: RowTable) -> list[P.Row | None]:
    top = int(table.scroll_offset.y)
    return [table.row_at(p) for p in range(top, min(top + table.size.height - 1, table.total))]


async def test_paging_a_whole_table_draws_every_row_the_engine_has(
    engine: RunningEngine, tmp_path: Path
) -> None:
    """Every row of a larger dataset, paged through the screen at 80x24 without and with a
    filter, is drawn with its own number, none skipped and none twice (a skip was seen once
    after a large import)."""
    n = 1_500
    rows = ["text,label"] + [
        f"{'keep' if i % 3 == 0 else 'other'} row {i},{'a' if i % 2 else 'b'}" for i in range(n)
    ]
    csv = _write(tmp_path / "paged.csv", "\n".join(rows) + "\n")
    wb_json(engine, "datasets", "import", str(csv), "--name", "paged")
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app, "rotten-tomatoes")
        # open it as a user does, by moving the list's cursor onto it (the list's own opens
        # follow the cursor, the last one wins), then enter to go to its rows
        screen.sidebar.focus_list()
        index = [d.name for d in screen.datasets].index("paged")
        await pilot.press("g", *["j"] * index)
        assert screen.sidebar.highlighted() == "paged"
        screen = await opened(pilot, app, "paged")
        await pilot.press("enter")
        assert isinstance(app.focused, RowTable)
        table = screen.query_one(RowTable)
        assert table.total == n
        await _page_through(pilot, table, list(range(n)))
        await pilot.press("slash", *"keep", "enter", "escape")
        await wait_for(pilot, lambda: table.total == n // 3)
        await _page_through(pilot, table, list(range(0, n, 3)))
