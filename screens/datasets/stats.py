"""The browser's stats tab: label counts as bars and a histogram of text lengths."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot


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


class StatsTab(TabPane):
    """Label bars (#label-bars) over a length histogram (#length-plot) in words or characters."""

    def __init__(self) -> None:
        super().__init__("Stats a", id="stats")
        self.stats: P.StatsResult | None = None
        self.length_unit = "words"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="stats-scroll"):
            yield Static("", id="label-bars")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.query_one("#stats-scroll").mount(PlotextPlot(id="length-plot"))
        self.redraw()

    def show(self, stats: P.StatsResult) -> None:
        self.stats = stats
        self.redraw()

    def say(self, message: str | Text) -> None:
        self.query_one("#label-bars", Static).update(message)

    def toggle_unit(self) -> None:
        self.length_unit = "characters" if self.length_unit == "words" else "words"
        self.redraw()

    def redraw(self) -> None:
        s = self.stats
        if s is None or not self.query("#length-plot"):
            return  # not loaded yet, or the plot is not mounted yet
        width = self.query_one("#stats-scroll").size.width or 60
        where = f" ({s.split})" if s.split else ""
        head = Text(f"{s.name}{where}: {s.rows:,} rows\n", style="bold")
        self.say(Text.assemble(head, label_bars(s.labels, width)))
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
