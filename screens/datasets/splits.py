"""The browser's splits tab: fractions, seed and group column, the split made, duplicates."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static, TabPane

from engine import protocol as P
from screens.datasets.model import SPLIT_FIELDS, empty_texts_warning, split_call


def split_summary(res: P.SplitResult) -> Text:
    how = "stratified" if res.stratified else "not stratified"
    if res.group_column:
        how += f", grouped by {res.group_column}"
    summary = Text(f"{res.name} split with seed {res.seed}, {how}", style="green")
    if res.parent:
        summary.append(f"; a new dataset: {res.parent} keeps its own split", style="green")
    if res.note:
        summary.append(f"\n{res.note}", style="yellow")
    return summary


def label_summary(labels: dict[str, int], room: int) -> str:
    """'a 10 · b 4 +3 more' in at most room cells (the most frequent labels first)."""
    parts = [f"{k} {v:,}" for k, v in labels.items()]
    shown = ""
    for i, part in enumerate(parts):
        more = f" +{len(parts) - i - 1} more" if i < len(parts) - 1 else ""
        candidate = f"{shown} · {part}" if shown else part
        if len(candidate) + len(more) > room and shown:
            return f"{shown} +{len(parts) - i} more"
        shown = candidate
    return shown


def _group_lines(
    text: Text, groups: list[P.DuplicateGroup], style: str, with_none: bool = True
) -> None:
    for g in groups:
        text.append(f" {g.count:>4}x ", style=style)
        where = ", ".join((s or "-") if with_none else s for s in g.splits) or "-"
        text.append(f"[{where}] ", style="dim")
        shown = " ".join(g.text.split())
        text.append(shown + ("…" if len(g.text) >= 200 else "") + "\n")


def duplicates_report(res: P.ReportResult) -> Text:
    """Repeated texts, then texts found in more than one split, one line each: cut at the
    width it is drawn in, with `…` (no_wrap, ellipsis)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(
        f"{res.duplicate_rows:,} of {res.rows:,} rows repeat an earlier text\n", style="bold"
    )
    _group_lines(text, res.duplicate_groups, "cyan")
    text.append(f"{res.cross_split_texts:,} texts appear in more than one split\n", style="bold")
    _group_lines(text, res.cross_split_groups, "magenta", with_none=False)
    warning = empty_texts_warning(res.empty_texts)
    if warning:
        text.append(f"{warning} (/ ^\\s*$ with x finds them)\n", style="bold yellow")
    return text


class SplitsTab(TabPane):
    """The split form (#split-form: fractions and seed; #split-group-row: the group column),
    its options line (#split-opts), the split made (#split-table) and the duplicates report
    (#report)."""

    DEFAULT_CSS = """
    SplitsTab #split-form, SplitsTab #split-group-row { height: 1; }
    SplitsTab #split-form Label, SplitsTab #split-group-row Label {
        width: auto; padding: 0 1; color: $text-muted; }
    SplitsTab #split-form Input { width: 7; }
    SplitsTab #split-group { width: 1fr; max-width: 40; }
    SplitsTab #split-opts { height: auto; padding: 0 1; }
    SplitsTab #split-scroll { height: 1fr; }
    SplitsTab #split-table { height: auto; max-height: 6; }
    SplitsTab #report { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__("Splits p", id="split")
        self.stratify = True
        self.last: P.SplitResult | None = None
        self.current: dict[str, int] = {}  # the open dataset's splits as they are (rows)

    def compose(self) -> ComposeResult:
        # the form is built when the tab is first shown: the app's first paint does not wait
        yield Vertical(id="split-pane")

    async def on_show(self) -> None:
        await self.build()  # shown by a click on its tab

    async def build(self) -> None:
        """Mount the form, once (before the tab shows: its table takes the focus)."""
        pane = self.query_one("#split-pane")
        if not pane.children:
            await pane.mount_all(self._widgets())
            self._fill_table()

    def _widgets(self) -> list[Widget]:
        form: list[Widget] = []
        for key, label, value in SPLIT_FIELDS:
            form += [Label(label), Input(value, id=f"split-{key}", compact=True)]
        group = [
            Label("group by"),
            Input("", placeholder="a column, e.g. movie_name", id="split-group", compact=True),
        ]
        table: DataTable[str] = DataTable(id="split-table", cursor_type="row")
        table.add_columns("split", "rows", "labels")
        return [
            Horizontal(*form, id="split-form"),
            Horizontal(*group, id="split-group-row"),
            Static(self._opts_text(), id="split-opts"),
            VerticalScroll(table, Static("", id="report"), id="split-scroll"),
        ]

    def _opts_text(self, message: Text | None = None) -> Text:
        opts = Text(
            f"stratify: {'on' if self.stratify else 'off'} (f) · s splits (asks first) · "
            "d reports duplicates",
            style="dim",
        )
        return opts if message is None else Text.assemble(message, "\n", opts)

    def say(self, message: Text | None = None) -> None:
        """A message above the options line (None: the options alone)."""
        self.query_one("#split-opts", Static).update(self._opts_text(message))

    def toggle_stratify(self) -> None:
        self.stratify = not self.stratify
        self.say()

    def split_call(self, name: str) -> P.DatasetSplit:
        """The split the form describes; SplitFormError when a field is not a number."""
        fields = {key: self.query_one(f"#split-{key}", Input).value for key, _, _ in SPLIT_FIELDS}
        group = self.query_one("#split-group", Input).value
        return split_call(name, fields, group, self.stratify)

    def show_split(self, res: P.SplitResult) -> None:
        self.last = res
        self._fill_table()
        self.say(split_summary(res))

    def show_current(self, splits: dict[str, int]) -> None:
        """The open dataset's splits as they are, until a new split is made."""
        self.current, self.last = {k: v for k, v in splits.items() if k}, None
        self._fill_table()
        if self.query("#split-opts"):
            self.say()

    def _fill_table(self) -> None:
        tables = self.query("#split-table")
        if not tables:
            return  # not mounted yet (a lazy tab): filled when it is
        table: DataTable[str] = tables.first(DataTable)
        table.clear()
        res = self.last
        if res is None:
            for name, rows in self.current.items():
                table.add_row(name, f"{rows:,}", Text("as it is now", style="dim"))
            return
        room = max(self.size.width - 24, 20)
        for s in res.splits:
            table.add_row(s.split, f"{s.rows:,}", label_summary(s.labels, room))

    def on_resize(self) -> None:
        self._fill_table()  # the labels column uses the width there is

    def report_say(self, message: Text) -> None:
        self.query_one("#report", Static).update(message)

    def show_report(self, res: P.ReportResult) -> None:
        self.report_say(duplicates_report(res))
