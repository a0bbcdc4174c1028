"""The inspector's dataset tab: a tokenizer over a whole dataset, padding costs, lengths."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot


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
    """The summary (#data-summary) over a histogram of tokens per text (#tok-hist)."""

    def __init__(self) -> None:
        super().__init__("Dataset a", id="data")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="data-scroll"):
            yield Static("", id="data-summary")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.query_one("#data-scroll").mount(PlotextPlot(id="tok-hist"))

    def say(self, message: Text) -> None:
        self.query_one("#data-summary", Static).update(message)

    def show(self, st: P.TokenStatsResult) -> None:
        self.query_one("#data-summary", Static).update(stats_summary(st))
        found = self.query("#tok-hist")
        if not found:
            return
        plot = cast("PlotextPlot", found.first())
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
        plot.refresh()
