"""The inspector's dataset tab: each compared tokenizer over a whole dataset side by side
(#data-table, one row each), and the one highlighted in detail: padding costs, top tokens and
the histogram of tokens per text."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabPane

from engine import protocol as P
from screens.tokenizers.model import STAT_COLUMNS, stat_cells

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

StatsAnswer = P.TokenStatsResult | str | None  # a result, why it failed, or still working


def stats_summary(st: P.TokenStatsResult) -> Group:
    """Counts and rates, the padding table, the top tokens."""
    lens = st.lengths
    head = Text.assemble(
        (f"{st.tokenizer} on {st.dataset}", "bold"),
        f": {st.rows:,} texts, {st.tokens:,} tokens, mean {lens.mean:.1f}, "
        f"median {lens.median:.0f}, max {lens.max:.0f}\n",
        f"unknown {100 * st.unknown_rate:.2f}% · vocabulary used "
        f"{100 * st.vocab_coverage:.1f}% · longer than {st.max_length}: "
        f"{100 * st.truncated_share:.1f}%",
    )
    pad = Table(
        title=f"padding at batch {st.batch_size}, max length {st.max_length}",
        title_justify="left",
        box=None,
        header_style="dim",
    )
    for col in ("strategy", "padded", "real", "computed"):
        pad.add_column(col, justify="left" if col == "strategy" else "right")
    for p in st.padding:
        pad.add_row(
            p.strategy,
            f"{100 * p.padded_share:.1f}%",
            f"{p.real_tokens:,}",
            f"{p.computed_tokens:,}",
        )
    top = Text(
        "top tokens: " + "  ".join(f"{t.token} {t.count:,}" for t in st.top_tokens[:12]),
        style="dim",
    )
    return Group(head, pad, top)


class DataTab(TabPane):
    """A line on what is measured (#data-head), a row per tokenizer (#data-table), and the
    highlighted one's summary (#data-summary) over its histogram (#tok-hist)."""

    def __init__(self) -> None:
        super().__init__("Dataset a", id="data")
        self.rows: list[tuple[str, StatsAnswer]] = []
        self._detail: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="data-head")
        yield DataTable(id="data-table", cursor_type="row", zebra_stripes=False)
        with VerticalScroll(id="data-scroll"):
            yield Static("", id="data-summary")

    def on_mount(self) -> None:
        self.query_one("#data-table", DataTable).add_columns(*STAT_COLUMNS)
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.query_one("#data-scroll").mount(PlotextPlot(id="tok-hist"))

    def head(self, line: str) -> None:
        self.query_one("#data-head", Static).update(Text(line, style="dim"))

    def say(self, message: Text) -> None:
        self.query_one("#data-summary", Static).update(message)

    def highlighted(self) -> str | None:
        table = self.query_one("#data-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)][0]

    def show(self, rows: list[tuple[str, StatsAnswer]]) -> None:
        """Every tokenizer's row (kept where the cursor is), then the highlighted detail."""
        table = self.query_one("#data-table", DataTable)
        keep = table.cursor_row
        if [n for n, _ in rows] != [n for n, _ in self.rows]:
            keep = 0
        self.rows = list(rows)
        table.clear()
        for name, answer in rows:
            table.add_row(*stat_cells(name, answer), key=name)
        if rows:
            table.move_cursor(row=min(max(keep, 0), len(rows) - 1))
        self._detail = None
        self.show_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        name = self.highlighted()
        answer = dict(self.rows).get(name) if name else None
        key = f"{name}:{id(answer)}"
        if key == self._detail:
            return
        self._detail = key
        if name is None:
            self.say(Text("no tokenizer compared: t chooses", style="dim"))
        elif answer is None:
            self.say(Text(f"{name}: tokenizing the dataset…", style="dim"))
        elif isinstance(answer, str):
            self.say(Text(f"{name}: {answer}", style="red"))
        else:
            self.say(stats_summary(answer))
        self._plot(answer if isinstance(answer, P.TokenStatsResult) else None)

    def _plot(self, st: P.TokenStatsResult | None) -> None:
        found = self.query("#tok-hist")
        if not found:
            return
        plot = cast("PlotextPlot", found.first())
        plot.display = st is not None
        if st is None:
            return
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        h = st.lengths
        centers = [(a + b) / 2 for a, b in zip(h.edges[:-1], h.edges[1:], strict=True)]
        if centers:
            plt.bar(centers, h.counts, width=0.9)
            ticks = centers[:: max(len(centers) // 5, 1)]
            plt.xticks(ticks, [f"{t:,.0f}" for t in ticks])
        plt.title(f"tokens per text ({st.tokenizer})")
        plt.xlabel("tokens per text")
        plt.ylabel("texts")
        plot.refresh()
