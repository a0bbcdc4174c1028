"""The monitor's runs: a filter box over either a compact list (beside the plots) or the whole
table (w: every column, as W&B's or TensorBoard's runs table). Both show the same runs in the
same order; ◆ marks the runs overlaid on the plot (space). Moving the cursor watches a run; it
never marks one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, OptionList
from textual.widgets.option_list import Option

from engine import protocol as P
from screens.training.model import trained_seconds
from screens.training.runtable import COLUMNS, clip, column_title, run_cells
from workbench.widgets.series import fmt_duration

STATE_STYLE = {
    "running": "green",
    "paused": "yellow",
    "queued": "cyan",
    "finished": "bold green",
    "failed": "bold red",
    "stopped": "magenta",
    "interrupted": "bold yellow",
}
SIDE_TEXT = 23  # cells of text in a compact list entry


def run_prompt(run: P.RunInfo, marked: bool, trained: str) -> Text:
    """Three lines: ◆ and the name; the state and time trained; the best validation score."""
    if run.best is not None:
        value = f"{run.best:.3f}" if abs(run.best) < 1000 else f"{run.best:,.0f}"
        best = f"best val {run.metric} {value}"
    else:
        best = "no evaluation yet"
    return Text.assemble(
        ("◆ " if marked else "", "bold"),
        (clip(run.name, SIDE_TEXT - (2 if marked else 0)), "bold"),
        "\n",
        (run.state, STATE_STYLE.get(run.state, "")),
        (f" · {trained}" if trained != "-" else "", "dim"),
        "\n",
        (clip(best, SIDE_TEXT), "dim"),
    )


class RunsPane(Vertical):
    """#tr-runs-title, the filter (#tr-filter), the compact list (#tr-runs) or the table
    (#tr-table, class -wide on the pane)."""

    class Highlighted(Message):
        """The cursor moved to this run."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class Chosen(Message):
        """enter on a run of the table: watch it beside the plots."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class FilterChanged(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.order: list[str] = []  # the run ids shown, in order
        self._rows: list[tuple[str, tuple[str, ...]]] = []
        self._prompts: list[tuple[str, str]] = []
        self._header: tuple[str, bool] | None = None
        self._posted: str | None = None

    def compose(self) -> ComposeResult:
        yield Label("Runs", id="tr-runs-title", classes="pane-title")
        yield Input(placeholder="/ filter runs", id="tr-filter")
        yield OptionList(id="tr-runs")
        yield DataTable(id="tr-table", cursor_type="row", zebra_stripes=True)

    @property
    def wide(self) -> bool:
        return self.has_class("-wide")

    @property
    def cursor_widget(self) -> OptionList | DataTable[str]:
        if self.wide:
            return self.query_one("#tr-table", DataTable)
        return self.query_one("#tr-runs", OptionList)

    def set_wide(self, wide: bool) -> None:
        keep = self.highlighted
        self.set_class(wide, "-wide")
        if keep:
            self.show_run(keep)

    def set_filter(self, text: str) -> None:
        box = self.query_one("#tr-filter", Input)
        if box.value != text:
            box.value = text

    # ------------------------------------------------------------- filling

    def fill(
        self,
        runs: list[P.RunInfo],
        marked: set[str],
        now: float,
        total: int,
        sort: tuple[str, bool],
        filter_text: str,
    ) -> None:
        """Show these runs (already filtered and sorted); the cursor stays on its run."""
        keep = self.highlighted
        self.order = [r.run_id for r in runs]
        shown = f"{len(runs)} of {total}" if len(runs) != total else f"{total}"
        title = f"Runs {shown}" + (f" · '{clip(filter_text, 12)}'" if filter_text else "")
        self.query_one("#tr-runs-title", Label).update(title)
        self._fill_list(runs, marked, now)
        self._fill_table(runs, marked, now, sort)
        if keep in self.order:
            self.show_run(keep)

    def _fill_list(self, runs: list[P.RunInfo], marked: set[str], now: float) -> None:
        prompts = [
            (r.run_id, run_prompt(r, r.run_id in marked, fmt_duration(trained_seconds(r))))
            for r in runs
        ]
        plain = [(i, p.markup) for i, p in prompts]
        if plain == self._prompts:
            return  # unchanged: nothing redrawn
        options = self.query_one("#tr-runs", OptionList)
        if [i for i, _ in plain] == [i for i, _ in self._prompts]:
            for (run_id, prompt), (_, old) in zip(prompts, self._prompts, strict=True):
                if prompt.markup != old:
                    options.replace_option_prompt(run_id, prompt)
        else:
            options.clear_options()
            options.add_options([Option(p, id=i) for i, p in prompts])
        self._prompts = plain

    def _fill_table(
        self, runs: list[P.RunInfo], marked: set[str], now: float, sort: tuple[str, bool]
    ) -> None:
        table: DataTable[str] = self.query_one("#tr-table", DataTable)
        rows = [(r.run_id, run_cells(r, r.run_id in marked, now)) for r in runs]
        if rows == self._rows and self._header == sort:
            return
        same_rows = [i for i, _ in rows] == [i for i, _ in self._rows]
        if same_rows and self._header == sort:
            for (run_id, cells), (_, old) in zip(rows, self._rows, strict=True):
                for column, new, was in zip(COLUMNS, cells, old, strict=True):
                    if new != was:
                        table.update_cell(run_id, column.key, new, update_width=True)
        else:
            table.clear(columns=True)
            for column in COLUMNS:
                table.add_column(column_title(column, *sort), key=column.key)
            for run_id, cells in rows:
                table.add_row(*cells, key=run_id)
        self._rows = rows
        self._header = sort

    # ------------------------------------------------------------- the cursor

    @property
    def highlighted(self) -> str | None:
        """The run under the cursor of the list or table on show."""
        widget = self.cursor_widget
        if isinstance(widget, OptionList):
            if widget.highlighted is None or widget.highlighted >= widget.option_count:
                return None
            return widget.get_option_at_index(widget.highlighted).id
        if widget.row_count == 0:
            return None
        row = min(widget.cursor_row, widget.row_count - 1)
        return self.order[row] if row < len(self.order) else None

    def show_run(self, run_id: str) -> None:
        """Put the cursor of both the list and the table on this run."""
        if run_id not in self.order:
            return
        index = self.order.index(run_id)
        options = self.query_one("#tr-runs", OptionList)
        if index < options.option_count and options.highlighted != index:
            options.highlighted = index
        table: DataTable[str] = self.query_one("#tr-table", DataTable)
        if index < table.row_count and table.cursor_row != index:
            table.move_cursor(row=index, animate=False)
        self._posted = run_id

    def _moved(self) -> None:
        run_id = self.highlighted
        if run_id and run_id != self._posted:
            self._posted = run_id
            self.post_message(self.Highlighted(run_id))

    @on(OptionList.OptionHighlighted, "#tr-runs")
    def _list_moved(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if not self.wide:
            self._moved()

    @on(DataTable.RowHighlighted, "#tr-table")
    def _table_moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.wide:
            self._moved()

    @on(DataTable.RowSelected, "#tr-table")
    def _table_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        run_id = self.highlighted
        if run_id:
            self.post_message(self.Chosen(run_id))

    @on(OptionList.OptionSelected, "#tr-runs")
    def _list_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()

    @on(Input.Changed, "#tr-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(event.value))

    @on(Input.Submitted, "#tr-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.cursor_widget.focus()
