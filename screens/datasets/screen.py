"""The dataset browser: datasets, their rows (paged from the engine), stats, splits.

Every number here comes from the engine; the screen holds one page cache and
the current dataset's summary, never the data itself. What destroys something
(delete, a new split in place) asks first and says what is lost; a built-in's
own split is never replaced (a new split of it is a new dataset the user names).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import ClassVar

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, TabbedContent

from engine import protocol as P
from screens.datasets.dialogs import LabelPicker, NameDialog, TextPager
from screens.datasets.model import (
    ALL_LABELS,
    RowFilter,
    SplitFormError,
    delete_loss,
    describe_split,
    new_dataset_name,
    resplit_loss,
)
from screens.datasets.rows import RowsTab
from screens.datasets.sidebar import DatasetSidebar
from screens.datasets.splits import SplitsTab
from screens.datasets.stats import StatsTab
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.row_table import RowTable


class DatasetsScreen(TabbedScreen):
    CSS_PATH = "datasets.tcss"
    BINDINGS: ClassVar = [
        Binding("i", "import", "Import", id="datasets.import"),
        Binding("slash", "search", "Find", id="datasets.search"),
        Binding("x", "toggle_regex", "Regex", id="datasets.regex"),
        Binding("l", "pick_label", "Label", id="datasets.label"),
        Binding("t", "cycle_split", "Split", id="datasets.split_filter"),
        Binding("c", "clear_filter", "Clear", id="datasets.clear"),
        Binding("r", "show_tab('rows')", "Rows", show=False, id="datasets.tab.rows"),
        Binding("a", "show_tab('stats')", "Stats", show=False, id="datasets.tab.stats"),
        Binding("p", "show_tab('split')", "Splits", show=False, id="datasets.tab.split"),
        Binding("s", "split", "Split", id="datasets.run_split"),
        Binding("f", "toggle_stratify", "Stratify", id="datasets.stratify"),
        Binding("d", "report", "Dupes", id="datasets.report"),
        Binding("w", "toggle_unit", "Words/chars", id="datasets.length_unit"),
        Binding("R", "rename", "Rename", id="datasets.rename"),
        Binding("D", "delete", "Delete", id="datasets.delete"),
        Binding("ctrl+l", "focus_list", "Datasets", show=False, id="datasets.focus_list"),
        Binding("escape", "leave_input", "Leave box", show=False, id="datasets.leave_input"),
    ]
    TABS, FIRST_TAB = "ds-tabs", "rows"
    TAB_ACTIONS: ClassVar = {
        "toggle_regex": {"rows"},
        "pick_label": {"rows"},
        "cycle_split": {"rows"},
        "clear_filter": {"rows"},
        "toggle_unit": {"stats"},
        "toggle_stratify": {"split"},
        "split": {"split"},
        "report": {"split"},
    }
    TAB_FOCUS: ClassVar = {"rows": "#rows-table", "stats": "#stats-scroll", "split": "#split-table"}

    def __init__(self) -> None:
        super().__init__()
        self.datasets: list[P.DatasetInfo] = []
        self.current: P.DatasetInfo | None = None
        self.wanted: str | None = None  # a dataset just made or renamed: list and open it
        self.filter = RowFilter()
        self.stats: P.StatsResult | None = None
        self.last_split: P.SplitResult | None = None
        self.last_report: P.ReportResult | None = None

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        from screens.datasets.import_dialog import ImportScreen

        return [
            ("rows table", RowTable.BINDINGS),
            ("import", ImportScreen.BINDINGS),
            ("label picker (l)", LabelPicker.BINDINGS),
            ("whole text (enter on a row)", TextPager.BINDINGS),
            ("asking first (D, s)", ConfirmDialog.BINDINGS),
        ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ds-body"):
            yield DatasetSidebar(id="ds-side")
            with TabbedContent(id="ds-tabs", initial="rows"):
                yield RowsTab()
                yield StatsTab()
                yield SplitsTab()

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, self._engine_ready)
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.rows_tab.show_filter(self.filter)
        if self.shell.connected:
            self.load_list()

    @property
    def sidebar(self) -> DatasetSidebar:
        return self.query_one(DatasetSidebar)

    @property
    def rows_tab(self) -> RowsTab:
        return self.query_one(RowsTab)

    # ------------------------------------------------------------- engine

    def _engine_ready(self, restarted: bool) -> None:
        self.load_list()

    def _catalog_changed(self, event: P.CatalogChanged) -> None:
        if event.kind == "datasets":
            self.load_list(select=None)

    @work(exclusive=True, group="ds-list", exit_on_error=False)
    async def load_list(self, select: str | None = None) -> None:
        try:
            res = await self.shell.ask(P.DatasetList())
        except EngineError as exc:
            self.sidebar.say(Text(str(exc), style="red"))
            return
        self.datasets = res.datasets
        select = select or self.wanted
        keep = select or (self.current.name if self.current else None)
        index = self.sidebar.fill(res.datasets, keep)
        if index is None:
            self.sidebar.say("no datasets: press i to import one")
            return
        name = res.datasets[index].name
        if self.current is None or name != self.current.name or select:
            self.open_dataset(name)

    @on(DatasetSidebar.Highlighted)
    def _highlighted(self, event: DatasetSidebar.Highlighted) -> None:
        if self.current is None or self.current.name != event.name:
            self.open_dataset(event.name, debounce=0.15)

    @on(DatasetSidebar.Chosen)
    def _chosen(self, event: DatasetSidebar.Chosen) -> None:
        self.query_one(self.TAB_FOCUS[self.active_tab]).focus()

    @work(exclusive=True, group="ds-open", exit_on_error=False)
    async def open_dataset(self, name: str, debounce: float = 0.0) -> None:
        if debounce:
            await asyncio.sleep(debounce)
        info = next((d for d in self.datasets if d.name == name), None)
        if info is not None and not info.available:
            self.sidebar.say(Text(f"{name} is not installed:\n{info.hint}", style="yellow"))
            return
        self.sidebar.say(Text(f"opening {name}…", style="dim"))
        try:
            res = await self.shell.ask(P.DatasetOpen(name=name))
        except EngineError as exc:
            self.sidebar.say(Text(str(exc), style="red"))
            return
        if name == self.wanted:
            self.wanted = None
        first_open = self.current is None
        self.current = res.dataset
        self.filter = RowFilter()
        self.rows_tab.clear_search()
        self.sidebar.show_dataset(res.dataset)
        self.query_one(SplitsTab).show_current(res.dataset.splits)
        self._reload_rows()
        self.load_stats()
        if first_open:
            self.rows_tab.table.focus()

    # ------------------------------------------------------------- rows

    def _reload_rows(self) -> None:
        d = self.current
        tab = self.rows_tab
        if d is None:
            tab.table.reset(None)
            return
        f, name = self.filter, d.name

        async def fetch(offset: int, limit: int) -> P.RowsPage:
            return await self.shell.ask(f.call(name, offset, limit), timeout=30)

        tab.table.reset(fetch, largest_index=d.rows - 1)
        tab.say("")
        tab.show_filter(f)

    @on(RowTable.Loaded)
    def _rows_loaded(self, event: RowTable.Loaded) -> None:
        rows = self.current.rows if self.current else None
        self.rows_tab.show_filter(self.filter, event.total, rows)
        if event.total == 0:
            self.rows_tab.say(Text(f"no rows match {self.filter.describe()}", style="dim"))

    @on(RowTable.FetchFailed)
    def _rows_failed(self, event: RowTable.FetchFailed) -> None:
        message = event.error.message if isinstance(event.error, EngineError) else str(event.error)
        self.rows_tab.show_filter(self.filter, error=message)
        self.rows_tab.say(Text(str(event.error), style="red"))

    @on(RowTable.CursorMoved)
    def _cursor_moved(self, event: RowTable.CursorMoved) -> None:
        if event.row is not None:
            self.show_row(event.row.index)

    @work(exclusive=True, group="ds-row", exit_on_error=False)
    async def show_row(self, index: int) -> None:
        await asyncio.sleep(0.05)  # holding a key down fetches only where it stops
        d = self.current
        if d is None:
            return
        try:
            res = await self.shell.ask(P.DatasetRow(name=d.name, index=index))
        except EngineError as exc:
            self.rows_tab.say(Text(str(exc), style="red"))
            return
        self.rows_tab.show_row(res.row)

    @on(RowTable.Opened)
    def _row_opened(self, event: RowTable.Opened) -> None:
        self.open_pager(event.row.index)

    @work(exclusive=True, group="ds-pager", exit_on_error=False)
    async def open_pager(self, index: int) -> None:
        d = self.current
        if d is None:
            return
        try:
            res = await self.shell.ask(P.DatasetRow(name=d.name, index=index))
        except EngineError as exc:
            self.rows_tab.say(Text(str(exc), style="red"))
            return
        self.app.push_screen(TextPager(d.name, res.row))

    @on(RowsTab.SearchChanged)
    def _search_changed(self, event: RowsTab.SearchChanged) -> None:
        self.apply_search(event.text)

    @work(exclusive=True, group="ds-search", exit_on_error=False)
    async def apply_search(self, value: str) -> None:
        await asyncio.sleep(0.2)  # debounce typing
        if value != self.filter.search:
            self.filter = self.filter.searching(value)
            self._reload_rows()

    # ------------------------------------------------------------- stats

    @work(exclusive=True, group="ds-stats", exit_on_error=False)
    async def load_stats(self) -> None:
        d = self.current
        if d is None:
            return
        try:
            call = P.DatasetStats(name=d.name, split=self.filter.split, bins=30)
            self.stats = await self.shell.ask(call)
        except EngineError as exc:
            self.query_one(StatsTab).say(Text(str(exc), style="red"))
            return
        self.query_one(StatsTab).show(self.stats)

    def action_toggle_unit(self) -> None:
        self.query_one(StatsTab).toggle_unit()

    # ------------------------------------------------------------- filters

    def action_search(self) -> None:
        self.rows_tab.focus_search()
        self.query_one("#ds-tabs", TabbedContent).active = "rows"

    def action_toggle_regex(self) -> None:
        self.filter = self.filter.toggled_regex()
        self._reload_rows()

    def action_pick_label(self) -> None:
        if self.current is None or not self.current.labels:
            self.notify("this dataset has no labels", severity="warning")
            return

        def picked(label: str | None) -> None:
            if label is None:
                return  # closed: the filter stays as it was
            chosen = None if label == ALL_LABELS else label
            if chosen != self.filter.label:
                self.filter = self.filter.with_label(chosen)
                self._reload_rows()

        self.app.push_screen(LabelPicker(self.current.labels, self.filter.label), picked)

    def action_cycle_split(self) -> None:
        self.filter = self.filter.next_split()
        self._reload_rows()
        self.load_stats()

    def action_clear_filter(self) -> None:
        self.filter = RowFilter()
        self.rows_tab.clear_search()
        self._reload_rows()
        self.load_stats()

    async def action_show_tab(self, tab: str) -> None:
        if tab == "split":
            await self.query_one(SplitsTab).build()
        self.show_tab(tab)
        if tab == "stats":
            self.query_one(StatsTab).redraw()

    def action_focus_list(self) -> None:
        self.sidebar.focus_list()

    def action_leave_input(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(self.TAB_FOCUS.get(self.active_tab, "#rows-table")).focus()

    # ------------------------------------------------------------- rename, delete

    def _target(self) -> str | None:
        """The dataset R and D act on: the one under the list's cursor when the list has the
        focus, else the open one."""
        if self.focused is self.query_one("#ds-list"):
            return self.sidebar.highlighted()
        return self.current.name if self.current else None

    async def _show(self, name: str) -> P.DatasetInfo | None:
        """The dataset as the engine has it now; None (and said) when it cannot be read."""
        try:
            return (await self.shell.ask(P.DatasetShow(name=name))).dataset
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return None

    def action_rename(self) -> None:
        name = self._target()
        if name is not None:
            self.rename_dataset(name)

    @work(exclusive=True, group="ds-change", exit_on_error=False)
    async def rename_dataset(self, name: str) -> None:
        info = await self._show(name)
        if info is None:
            return
        if info.source == "builtin":
            self.notify(
                f"{name} is built in and keeps its name; to have it under another one, split "
                "it into a new dataset (p, then s)",
                severity="warning",
            )
            return

        async def rename(new_name: str) -> str:
            res = await self.shell.ask(P.DatasetRename(name=name, new_name=new_name))
            self.wanted = res.dataset.name
            if self.current is not None and self.current.name == name:
                self.current = res.dataset
            return ""

        what = f"{info.name}: {info.rows:,} rows. Its rows, labels and split stay as they are."
        if info.used_by:
            what += (
                f"\n{len(info.used_by)} run(s) read it by name, so the engine will refuse: "
                f"{', '.join(info.used_by[:4])}"
            )
        dialog = NameDialog(f"Rename {name}", what, name, rename, verb="renames")
        new_name = await self.app.push_screen_wait(dialog)
        if new_name:
            self.notify(f"renamed {name} to {new_name}", title="dataset renamed")
            self.load_list(select=new_name)

    def action_delete(self) -> None:
        name = self._target()
        if name is not None:
            self.delete_dataset(name)

    @work(exclusive=True, group="ds-change", exit_on_error=False)
    async def delete_dataset(self, name: str) -> None:
        info = await self._show(name)
        if info is None:
            return
        if info.source == "builtin" and info.rows == 0:
            self.notify(f"{name} is built in and not built yet: nothing to delete")
            return
        sure = await self.app.push_screen_wait(ConfirmDialog(f"Delete {name}?", delete_loss(info)))
        if not sure:
            return
        try:
            await self.shell.ask(P.DatasetDelete(name=name))
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"deleted {name}", title="dataset deleted")

    # ------------------------------------------------------------- splits

    def action_toggle_stratify(self) -> None:
        self.query_one(SplitsTab).toggle_stratify()

    def action_split(self) -> None:
        self.run_split()

    @work(exclusive=True, group="ds-split", exit_on_error=False)
    async def run_split(self) -> None:
        if self.current is None:
            return
        name = self.current.name
        tab = self.query_one(SplitsTab)
        try:
            call = tab.split_call(name)
            info = (await self.shell.ask(P.DatasetShow(name=name))).dataset
        except (SplitFormError, EngineError) as exc:
            tab.say(Text(str(exc), style="bold red"))
            return
        if info.source == "builtin":
            await self._split_into_new(info, call, tab)
            return
        if info.splits:  # a split is there: replacing it loses it
            lost = resplit_loss(info, call)
            confirm = ConfirmDialog(f"Replace the split of {name}?", lost, yes="replace")
            if not await self.app.push_screen_wait(confirm):
                tab.say(Text(f"{name} keeps its split", style="dim"))
                return
        tab.say(Text("splitting…", style="dim"))
        try:
            res = await self.shell.ask(call)
        except EngineError as exc:
            tab.say(Text(str(exc), style="bold red"))
            return
        self.last_split = res
        tab.show_split(res)
        if self.current is not None and self.current.name == name:
            info = (await self.shell.ask(P.DatasetShow(name=name))).dataset
            self.current = info
            self.sidebar.show_dataset(info)
            self._reload_rows()
            self.load_stats()

    async def _split_into_new(
        self, info: P.DatasetInfo, call: P.DatasetSplit, tab: SplitsTab
    ) -> None:
        """A built-in keeps its own split: the new one is a new dataset the user names."""
        made: list[P.SplitResult] = []

        async def split_into(new_name: str) -> str:
            res = await self.shell.ask(msgspec.structs.replace(call, into=new_name))
            made.append(res)
            self.wanted = new_name
            return ""

        what = (
            f"{info.name} is built in: its own split stays as it is "
            f"({', '.join(f'{k} {v:,}' for k, v in info.splits.items())}). The new split "
            f"({describe_split(call)}) is saved as a new dataset with the same rows. Its name:"
        )
        if not call.group_column and info.columns:
            what += (
                f"\n(not grouped: rows that share a {info.columns[0]} can land in two splits; "
                "esc, then fill in group by)"
            )
        default = new_dataset_name(info.name, call, (d.name for d in self.datasets))
        dialog = NameDialog(f"Split {info.name} into a new dataset", what, default, split_into)
        new_name = await self.app.push_screen_wait(dialog)
        if not new_name or not made:
            tab.say(Text(f"{info.name} keeps its split; nothing made", style="dim"))
            return
        self.last_split = made[0]
        tab.show_split(made[0])
        self.notify(f"made {new_name}; {info.name} keeps its own split", title="split saved")
        self.load_list(select=new_name)

    def action_report(self) -> None:
        self.run_report()

    @work(exclusive=True, group="ds-report", exit_on_error=False)
    async def run_report(self) -> None:
        if self.current is None:
            return
        tab = self.query_one(SplitsTab)
        tab.report_say(Text("looking for duplicates…", style="dim"))
        try:
            res = await self.shell.ask(P.DatasetReport(name=self.current.name, limit=8))
        except EngineError as exc:
            tab.report_say(Text(str(exc), style="red"))
            return
        self.last_report = res
        tab.show_report(res)

    # ------------------------------------------------------------- import

    def action_import(self) -> None:
        from screens.datasets.import_dialog import ImportScreen

        def imported(name: str | None) -> None:
            if name:
                self.notify(f"imported {name}", title="dataset imported")
                self.wanted = name
                self.load_list(select=name)

        self.app.push_screen(ImportScreen(), imported)
