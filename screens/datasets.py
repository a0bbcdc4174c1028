"""The dataset browser: datasets, their rows (paged from the engine), stats, splits.

Every number here comes from the engine; the screen holds one page cache and
the current dataset's summary, never the data itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine import protocol as P

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen
from workbench.widgets.row_table import RowTable

SPLITS = [None, "train", "validation", "test"]


@dataclass(frozen=True)
class RowFilter:
    search: str = ""
    regex: bool = False
    label: str | None = None
    split: str | None = None

    def describe(self) -> str:
        parts = [
            f"/{self.search}/" if self.regex and self.search else self.search,
            f"label={self.label}" if self.label is not None else "",
            f"split={self.split}" if self.split is not None else "",
        ]
        return " ".join(p for p in parts if p) or "all rows"


def label_bars(labels: dict[str, int], width: int, limit: int = 20) -> Text:
    """Horizontal bars of label counts, widest label first."""
    text = Text()
    if not labels:
        return Text("no labels", style="dim")
    total = sum(labels.values())
    top = max(labels.values())
    name_w = min(max(len(k) for k in labels), 18)
    bar_w = max(width - name_w - 24, 5)
    for i, (name, count) in enumerate(labels.items()):
        if i == limit:
            text.append(f"… {len(labels) - limit} more labels\n", style="dim")
            break
        filled = round(bar_w * count / top) if top else 0
        text.append(f"{name[:name_w]:<{name_w}} ", style="bold")
        text.append("█" * filled, style="cyan")
        text.append(" " * (bar_w - filled))
        text.append(f" {count:>7,} {100 * count / total:5.1f}%\n")
    return text


class DatasetsScreen(WorkbenchScreen):
    CSS_PATH = "datasets.tcss"
    BINDINGS = [
        Binding("i", "import", "Import", id="datasets.import"),
        Binding("slash", "search", "Find", id="datasets.search"),
        Binding("x", "toggle_regex", "Regex", id="datasets.regex"),
        Binding("l", "cycle_label", "Label", id="datasets.label"),
        Binding("t", "cycle_split", "Split", id="datasets.split_filter"),
        Binding("c", "clear_filter", "Clear", id="datasets.clear"),
        Binding("r", "show_tab('rows')", "Rows", show=False, id="datasets.tab.rows"),
        Binding("a", "show_tab('stats')", "Stats", show=False, id="datasets.tab.stats"),
        Binding("p", "show_tab('split')", "Splits", show=False, id="datasets.tab.split"),
        Binding("s", "split", "Split", id="datasets.run_split"),
        Binding("f", "toggle_stratify", "Stratify", id="datasets.stratify"),
        Binding("d", "report", "Dupes", id="datasets.report"),
        Binding("w", "toggle_unit", "Words/chars", id="datasets.length_unit"),
        Binding("ctrl+l", "focus_list", "Datasets", show=False, id="datasets.focus_list"),
        Binding("escape", "leave_input", "Leave box", show=False, id="datasets.leave_input"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.datasets: list[P.DatasetInfo] = []
        self.current: P.DatasetInfo | None = None
        self.filter = RowFilter()
        self.stratify = True
        self.length_unit = "words"
        self.stats: P.StatsResult | None = None
        self.last_split: P.SplitResult | None = None
        self.last_report: P.ReportResult | None = None

    # keys that only mean something on one tab appear in the footer on that tab
    TAB_ACTIONS = {
        "toggle_regex": "rows",
        "cycle_label": "rows",
        "cycle_split": "rows",
        "clear_filter": "rows",
        "toggle_unit": "stats",
        "toggle_stratify": "split",
        "split": "split",
        "report": "split",
    }

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = self.query("#ds-tabs")
        active = tabs.first(TabbedContent).active if tabs else "rows"
        if action == "show_tab":
            return parameters[0] != active  # no key for the tab you are on
        tab = self.TAB_ACTIONS.get(action)
        return tab is None or tab == active

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    # ------------------------------------------------------------- layout

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        from screens.dataset_import import ImportScreen

        return [("rows table", RowTable.BINDINGS), ("import", ImportScreen.BINDINGS)]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ds-body"):
            with Vertical(id="ds-side"):
                yield Label("Datasets", classes="pane-title")
                yield OptionList(id="ds-list")
                yield Static("starting engine…", id="ds-info")
            with TabbedContent(id="ds-tabs", initial="rows"):
                with TabPane("Rows r", id="rows"):
                    with Horizontal(id="rows-filter"):
                        yield Input(placeholder="/ search text", id="search", compact=True)
                        yield Static("", id="filter-info")
                    yield RowTable(id="rows-table")
                    with VerticalScroll(id="row-detail"):
                        yield Static("", id="row-text")
                # hidden panes mount after the first paint (Lazy): a faster start
                with TabPane("Stats a", id="stats"):
                    with VerticalScroll(id="stats-scroll"):
                        yield Static("", id="label-bars")
                with TabPane("Splits p", id="split"):
                    yield Lazy(Vertical(*self._split_widgets(), id="split-pane"))

    def _split_widgets(self) -> list[Widget]:
        form: list[Widget] = []
        for key, label, value in [
            ("train", "train", "0.8"),
            ("validation", "val", "0.1"),
            ("test", "test", "0.1"),
            ("seed", "seed", "13"),
        ]:
            form += [Label(label), Input(value, id=f"split-{key}", compact=True)]
        form += [Label("group"), Input("", placeholder="column", id="split-group", compact=True)]
        table: DataTable[str] = DataTable(id="split-table", cursor_type="row")
        table.add_columns("split", "rows", "labels")
        return [
            Horizontal(*form, id="split-form"),
            Static(self._split_opts_text(), id="split-opts"),
            VerticalScroll(table, Static("", id="report"), id="split-scroll"),
        ]

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.query_one("#stats-scroll").mount(PlotextPlot(id="length-plot"))
        self._draw_stats()

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)
        self.shell.subscribe_ready(self, self._engine_ready)
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self._show_filter()
        if self.shell.connected:
            self.load_list()

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
            self.query_one("#ds-info", Static).update(Text(str(exc), style="red"))
            return
        self.datasets = res.datasets
        options = self.query_one("#ds-list", OptionList)
        keep = select or (self.current.name if self.current else None)
        options.clear_options()
        for d in res.datasets:
            if not d.available:
                prompt = Text.assemble((d.name, "dim"), ("\n  not installed", "dim italic"))
            elif d.rows:
                prompt = Text.assemble((d.name, "bold"), f"\n  {d.rows:,} rows · {d.classes} cl")
            else:
                prompt = Text.assemble((d.name, "bold"), ("\n  built-in", "dim"))
            options.add_option(Option(prompt, id=d.name))
        names = [d.name for d in res.datasets]
        if names:
            index = names.index(keep) if keep in names else 0
            options.highlighted = index
            if self.current is None or keep != self.current.name or select:
                self.open_dataset(names[index])
        else:
            self.query_one("#ds-info", Static).update("no datasets: press i to import one")

    @on(OptionList.OptionHighlighted, "#ds-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        if name and (self.current is None or self.current.name != name):
            self.open_dataset(name, debounce=0.15)

    @work(exclusive=True, group="ds-open", exit_on_error=False)
    async def open_dataset(self, name: str, debounce: float = 0.0) -> None:
        if debounce:
            await asyncio.sleep(debounce)
        info = next((d for d in self.datasets if d.name == name), None)
        panel = self.query_one("#ds-info", Static)
        if info is not None and not info.available:
            panel.update(Text(f"{name} is not installed:\n{info.hint}", style="yellow"))
            return
        panel.update(Text(f"opening {name}…", style="dim"))
        try:
            res = await self.shell.ask(P.DatasetOpen(name=name))
        except EngineError as exc:
            panel.update(Text(str(exc), style="red"))
            return
        first_open = self.current is None
        self.current = res.dataset
        self.filter = RowFilter()
        self.query_one("#search", Input).value = ""
        self._show_info()
        self._reload_rows()
        self.load_stats()
        if first_open:
            self.query_one(RowTable).focus()

    def _show_info(self) -> None:
        d = self.current
        if d is None:
            return
        splits = "\n".join(f"{k:<10} {v:>8,}" for k, v in d.splits.items() if k) or "no split"
        self.query_one("#ds-info", Static).update(
            Text.assemble(
                (d.name, "bold"),
                f"\n{d.rows:,} rows, {d.classes} classes\n",
                (splits, "dim"),
            )
        )

    # ------------------------------------------------------------- rows

    def _reload_rows(self) -> None:
        table = self.query_one(RowTable)
        d = self.current
        if d is None:
            table.reset(None)
            return
        f = self.filter
        name = d.name

        async def fetch(offset: int, limit: int) -> P.RowsPage:
            call = P.DatasetRows(
                name=name,
                offset=offset,
                limit=limit,
                search=f.search,
                regex=f.regex,
                label=f.label,
                split=f.split,
            )
            return await self.shell.ask(call, timeout=30)

        table.reset(fetch)
        self.query_one("#row-text", Static).update("")
        self._show_filter()

    def _show_filter(self, total: int | None = None, error: str = "") -> None:
        f = self.filter
        info = Text()
        info.append(" regex" if f.regex else " text", style="bold" if f.regex else "dim")
        if f.label is not None:
            info.append(f" │ label {f.label}", style="cyan")
        if f.split is not None:
            info.append(f" │ {f.split}", style="cyan")
        if error:
            info.append(f" │ {error}", style="bold red")
        elif total is not None and self.current is not None:
            info.append(f" │ {total:,}/{self.current.rows:,}")
        self.query_one("#filter-info", Static).update(info)

    @on(RowTable.Loaded)
    def _rows_loaded(self, event: RowTable.Loaded) -> None:
        self._show_filter(event.total)
        if event.total == 0:
            self.query_one("#row-text", Static).update(
                Text(f"no rows match {self.filter.describe()}", style="dim")
            )

    @on(RowTable.FetchFailed)
    def _rows_failed(self, event: RowTable.FetchFailed) -> None:
        message = event.error.message if isinstance(event.error, EngineError) else str(event.error)
        self._show_filter(error=message)
        self.query_one("#row-text", Static).update(Text(str(event.error), style="red"))

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
            self.query_one("#row-text", Static).update(Text(str(exc), style="red"))
            return
        row = res.row
        head = Text.assemble(
            (f"#{row.index}", "bold"),
            f"  label: {row.label if row.label is not None else '-'}",
            f"  split: {row.split or '-'}",
            f"  {row.text_len:,} chars",
        )
        for k, v in row.extra.items():
            head.append(f"  {k}: {v}", style="dim")
        self.query_one("#row-text", Static).update(Text.assemble(head, "\n", row.text))

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.apply_search(event.value)

    @work(exclusive=True, group="ds-search", exit_on_error=False)
    async def apply_search(self, value: str) -> None:
        await asyncio.sleep(0.2)  # debounce typing
        if value != self.filter.search:
            self.filter = replace(self.filter, search=value)
            self._reload_rows()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.query_one(RowTable).focus()

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
            self.query_one("#label-bars", Static).update(Text(str(exc), style="red"))
            return
        self._draw_stats()

    def _draw_stats(self) -> None:
        s = self.stats
        if s is None or not self.query("#length-plot"):
            return  # not loaded yet, or the pane is not mounted yet
        width = self.query_one("#stats-scroll").size.width or 60
        where = f" ({s.split})" if s.split else ""
        head = Text(f"{s.name}{where}: {s.rows:,} rows\n", style="bold")
        self.query_one("#label-bars", Static).update(
            Text.assemble(head, label_bars(s.labels, width))
        )
        hist = s.words if self.length_unit == "words" else s.characters
        plot = cast("PlotextPlot", self.query_one("#length-plot"))
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        centers = [(a + b) / 2 for a, b in zip(hist.edges[:-1], hist.edges[1:], strict=True)]
        if centers:
            plt.bar(centers, hist.counts, width=0.9)
            ticks = centers[:: max(len(centers) // 5, 1)]
            plt.xticks(ticks, [f"{t:,.0f}" for t in ticks])
        plt.title(
            f"text length in {hist.unit} (mean {hist.mean:.0f}, median {hist.median:.0f}, "
            f"max {hist.max:.0f}) · w switches"
        )
        plot.refresh()

    def action_toggle_unit(self) -> None:
        self.length_unit = "characters" if self.length_unit == "words" else "words"
        self._draw_stats()

    # ------------------------------------------------------------- filters

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()
        self.query_one("#ds-tabs", TabbedContent).active = "rows"

    def action_toggle_regex(self) -> None:
        self.filter = replace(self.filter, regex=not self.filter.regex)
        self._reload_rows()

    def action_cycle_label(self) -> None:
        if self.current is None or not self.current.labels:
            self.notify("this dataset has no labels", severity="warning")
            return
        labels: list[str | None] = [None, *self.current.labels]
        i = labels.index(self.filter.label) if self.filter.label in labels else 0
        self.filter = replace(self.filter, label=labels[(i + 1) % len(labels)])
        self._reload_rows()

    def action_cycle_split(self) -> None:
        i = SPLITS.index(self.filter.split) if self.filter.split in SPLITS else 0
        self.filter = replace(self.filter, split=SPLITS[(i + 1) % len(SPLITS)])
        self._reload_rows()
        self.load_stats()

    def action_clear_filter(self) -> None:
        self.filter = RowFilter()
        self.query_one("#search", Input).value = ""
        self._reload_rows()
        self.load_stats()

    TAB_FOCUS = {"rows": "#rows-table", "stats": "#stats-scroll", "split": "#split-table"}

    def action_show_tab(self, tab: str) -> None:
        # focus first: TabbedContent shows whichever pane holds the focused widget
        self.query_one(self.TAB_FOCUS[tab]).focus()
        self.query_one("#ds-tabs", TabbedContent).active = tab
        if tab == "stats":
            self._draw_stats()

    def action_focus_list(self) -> None:
        self.query_one("#ds-list", OptionList).focus()

    def action_leave_input(self) -> None:
        if isinstance(self.focused, Input):
            active = self.query_one("#ds-tabs", TabbedContent).active
            self.query_one(self.TAB_FOCUS.get(active, "#rows-table")).focus()

    # ------------------------------------------------------------- splits

    def _split_opts_text(self, message: Text | None = None) -> Text:
        opts = Text(
            f"stratify: {'on' if self.stratify else 'off'} (f) · s runs the split · "
            "d reports duplicates",
            style="dim",
        )
        return opts if message is None else Text.assemble(message, "\n", opts)

    def _show_split_opts(self, message: Text | None = None) -> None:
        self.query_one("#split-opts", Static).update(self._split_opts_text(message))

    def action_toggle_stratify(self) -> None:
        self.stratify = not self.stratify
        self._show_split_opts()

    def _split_call(self) -> P.DatasetSplit:
        assert self.current is not None
        values = {}
        for key in ("train", "validation", "test", "seed"):
            raw = self.query_one(f"#split-{key}", Input).value.strip()
            try:
                values[key] = int(raw) if key == "seed" else float(raw)
            except ValueError:
                raise EngineError("bad_input", f"{key} must be a number, not '{raw}'") from None
        group = self.query_one("#split-group", Input).value.strip() or None
        return P.DatasetSplit(
            name=self.current.name,
            train=values["train"],
            validation=values["validation"],
            test=values["test"],
            seed=int(values["seed"]),
            stratify=self.stratify,
            group_column=group,
        )

    def action_split(self) -> None:
        self.run_split()

    @work(exclusive=True, group="ds-split", exit_on_error=False)
    async def run_split(self) -> None:
        if self.current is None:
            return
        try:
            call = self._split_call()
            self._show_split_opts(Text("splitting…", style="dim"))
            res = await self.shell.ask(call)
        except EngineError as exc:
            self._show_split_opts(Text(str(exc), style="bold red"))
            return
        self.last_split = res
        table: DataTable[str] = self.query_one("#split-table", DataTable)
        table.clear()
        for s in res.splits:
            labels = ", ".join(f"{k} {v:,}" for k, v in list(s.labels.items())[:4])
            more = f" +{len(s.labels) - 4}" if len(s.labels) > 4 else ""
            table.add_row(s.split, f"{s.rows:,}", labels + more)
        how = "stratified" if res.stratified else "not stratified"
        if res.group_column:
            how += f", grouped by {res.group_column}"
        summary = Text(f"split with seed {res.seed}, {how}", style="green")
        if res.note:
            summary.append(f"\n{res.note}", style="yellow")
        self._show_split_opts(summary)
        info = await self.shell.ask(P.DatasetShow(name=self.current.name))
        self.current = info.dataset
        self._show_info()
        self._reload_rows()
        self.load_stats()

    def action_report(self) -> None:
        self.run_report()

    @work(exclusive=True, group="ds-report", exit_on_error=False)
    async def run_report(self) -> None:
        if self.current is None:
            return
        report = self.query_one("#report", Static)
        report.update(Text("looking for duplicates…", style="dim"))
        try:
            res = await self.shell.ask(P.DatasetReport(name=self.current.name, limit=8))
        except EngineError as exc:
            report.update(Text(str(exc), style="red"))
            return
        self.last_report = res
        room = max(self.query_one("#split-scroll").size.width - 22, 20)
        text = Text()
        text.append(
            f"{res.duplicate_rows:,} of {res.rows:,} rows repeat an earlier text\n", style="bold"
        )
        for g in res.duplicate_groups:
            text.append(f" {g.count:>4}x ", style="cyan")
            where = f"[{', '.join(s or '-' for s in g.splits)}] "
            text.append(where, style="dim")
            text.append(" ".join(g.text.split())[: max(room - len(where), 10)] + "\n")
        text.append(
            f"{res.cross_split_texts:,} texts appear in more than one split\n", style="bold"
        )
        for g in res.cross_split_groups:
            text.append(f" {g.count:>4}x ", style="magenta")
            where = f"[{', '.join(g.splits)}] "
            text.append(where, style="dim")
            text.append(" ".join(g.text.split())[: max(room - len(where), 10)] + "\n")
        report.update(text)

    # ------------------------------------------------------------- import

    def action_import(self) -> None:
        from screens.dataset_import import ImportScreen

        def imported(name: str | None) -> None:
            if name:
                self.notify(f"imported {name}", title="dataset imported")
                self.load_list(select=name)

        self.app.push_screen(ImportScreen(), imported)
