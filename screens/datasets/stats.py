"""The browser's stats tab: label counts as bars and a histogram of text lengths."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P
from workbench.widgets.row_table import fit

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

NAME_MAX = 28  # a label name wider than this is cut, with `…`


def label_bars(labels: dict[str, int], width: int, limit: int = 20) -> Text:
    """Horizontal bars of label counts across the width, most rows first; names too wide end
    with `…`, and labels past limit are counted in a last line."""
    text = Text()
    if not labels:
        return Text("no labels", style="dim")
    total = sum(labels.values())
    top = max(labels.values())
    name_w = min(max(cell_len(k) for k in labels), NAME_MAX, max(width // 3, 6))
    bar_w = max(width - name_w - 17, 5)  # name, space, bar, " 1,234,567  12.3%"
    for i, (name, count) in enumerate(labels.items()):
        if i == limit:
            text.append(f"… {len(labels) - limit} more labels (l lists them all)\n", style="dim")
            break
        filled = round(bar_w * count / top) if top else 0
        text.append(fit(name, name_w) + " ", style="bold")
        text.append("█" * filled, style="cyan")
        text.append(" " * (bar_w - filled))
        text.append(f" {count:>9,} {100 * count / total:5.1f}%\n")
    return text


def length_summary(hist: P.HistogramInfo, rows: int) -> Text:
    """The histogram's unit and figures, above it: the plot's own title may not fit."""
    text = Text("Text length in ", style="bold")
    text.append(hist.unit, style="bold cyan")
    text.append(f" per text (x axis); bars count texts (y axis), {rows:,} in all\n")
    text.append(
        f"mean {hist.mean:,.0f} · median {hist.median:,.0f} · max {hist.max:,.0f} {hist.unit}"
        " · w shows ",
        style="dim",
    )
    text.append("characters" if hist.unit == "words" else "words", style="dim")
    return text


def y_ticks(counts: list[int], n: int = 4) -> list[int]:
    """Whole-number ticks from 0 to the tallest bar (texts are counted, never fractional)."""
    top = max(counts, default=0)
    if top <= 0:
        return [0]
    step = max(1, round(top / n))
    return list(range(0, top + 1, step))


class StatsTab(TabPane):
    """Label bars (#label-bars), the histogram's unit (#length-head) and the length histogram
    (#length-plot) in words or characters."""

    def __init__(self) -> None:
        super().__init__("Stats a", id="stats")
        self.stats: P.StatsResult | None = None
        self.length_unit = "words"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="stats-scroll"):
            yield Static("", id="label-bars")
            yield Static("", id="length-head")

    def on_show(self) -> None:
        if not self.query("#length-plot"):
            self._mount_plot()

    def _mount_plot(self) -> None:
        # plotext loads when the tab is first shown: the app's first paint does not wait for it
        from textual_plotext import PlotextPlot

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

    def on_resize(self) -> None:
        self.redraw()  # the bars use the width there is

    def redraw(self) -> None:
        s = self.stats
        if s is None or not self.query("#length-plot"):
            return  # not loaded yet, or the plot is not mounted yet
        width = (self.query_one("#stats-scroll").size.width or 60) - 3  # padding, scroll bar
        where = f" ({s.split})" if s.split else ""
        head = Text(f"{s.name}{where}: {s.rows:,} rows\n", style="bold")
        self.say(Text.assemble(head, label_bars(s.labels, width)))
        hist = s.words if self.length_unit == "words" else s.characters
        self.query_one("#length-head", Static).update(length_summary(hist, s.rows))
        plot = cast("PlotextPlot", self.query_one("#length-plot"))
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        centers = [(a + b) / 2 for a, b in zip(hist.edges[:-1], hist.edges[1:], strict=True)]
        if centers:
            plt.bar(centers, hist.counts, width=0.9)
            ticks = centers[:: max(len(centers) // 5, 1)]
            plt.xticks(ticks, [f"{t:,.0f}" for t in ticks])
            ys = y_ticks(list(hist.counts))
            plt.yticks(ys, [f"{y:,}" for y in ys])
        plt.xlabel(f"{hist.unit} per text")
        plt.ylabel("texts")
        plot.refresh()
