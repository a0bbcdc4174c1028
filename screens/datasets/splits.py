"""The browser's splits tab: fractions, seed and group column, the split made, duplicates."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static, TabPane

from engine import protocol as P
from screens.datasets.model import SPLIT_FIELDS, split_call


def split_summary(res: P.SplitResult) -> Text:
    how = "stratified" if res.stratified else "not stratified"
    if res.group_column:
        how += f", grouped by {res.group_column}"
    summary = Text(f"split with seed {res.seed}, {how}", style="green")
    if res.note:
        summary.append(f"\n{res.note}", style="yellow")
    return summary


def duplicates_report(res: P.ReportResult, room: int) -> Text:
    """Repeated texts, then texts found in more than one split, each cut to room cells."""
    text = Text()
    text.append(
        f"{res.duplicate_rows:,} of {res.rows:,} rows repeat an earlier text\n", style="bold"
    )
    for g in res.duplicate_groups:
        text.append(f" {g.count:>4}x ", style="cyan")
        where = f"[{', '.join(s or '-' for s in g.splits)}] "
        text.append(where, style="dim")
        text.append(" ".join(g.text.split())[: max(room - len(where), 10)] + "\n")
    text.append(f"{res.cross_split_texts:,} texts appear in more than one split\n", style="bold")
    for g in res.cross_split_groups:
        text.append(f" {g.count:>4}x ", style="magenta")
        where = f"[{', '.join(g.splits)}] "
        text.append(where, style="dim")
        text.append(" ".join(g.text.split())[: max(room - len(where), 10)] + "\n")
    return text


class SplitsTab(TabPane):
    """The split form (#split-form), its options line (#split-opts), the split made
    (#split-table) and the duplicates report (#report)."""

    def __init__(self) -> None:
        super().__init__("Splits p", id="split")
        self.stratify = True

    def compose(self) -> ComposeResult:
        # a hidden pane mounts after the first paint (Lazy): a faster start
        yield Lazy(Vertical(*self._widgets(), id="split-pane"))

    def _widgets(self) -> list[Widget]:
        form: list[Widget] = []
        for key, label, value in SPLIT_FIELDS:
            form += [Label(label), Input(value, id=f"split-{key}", compact=True)]
        form += [Label("group"), Input("", placeholder="column", id="split-group", compact=True)]
        table: DataTable[str] = DataTable(id="split-table", cursor_type="row")
        table.add_columns("split", "rows", "labels")
        return [
            Horizontal(*form, id="split-form"),
            Static(self._opts_text(), id="split-opts"),
            VerticalScroll(table, Static("", id="report"), id="split-scroll"),
        ]

    def _opts_text(self, message: Text | None = None) -> Text:
        opts = Text(
            f"stratify: {'on' if self.stratify else 'off'} (f) · s runs the split · "
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
        table: DataTable[str] = self.query_one("#split-table", DataTable)
        table.clear()
        for s in res.splits:
            labels = ", ".join(f"{k} {v:,}" for k, v in list(s.labels.items())[:4])
            more = f" +{len(s.labels) - 4}" if len(s.labels) > 4 else ""
            table.add_row(s.split, f"{s.rows:,}", labels + more)
        self.say(split_summary(res))

    def report_say(self, message: Text) -> None:
        self.query_one("#report", Static).update(message)

    def show_report(self, res: P.ReportResult) -> None:
        room = max(self.query_one("#split-scroll").size.width - 22, 20)
        self.report_say(duplicates_report(res, room))
