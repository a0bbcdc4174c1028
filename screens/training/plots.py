"""The monitor's plots tab: the plot settings line over a plotext plot of the chosen lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static, TabPane

from screens.training.model import Line

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot


class PlotsTab(TabPane):
    """#tr-plot-opts over #tr-plot (mounted after the first paint)."""

    class Ready(Message):
        """The plot is mounted: draw it."""

    def __init__(self) -> None:
        super().__init__("Plots p", id="plots")

    def compose(self) -> ComposeResult:
        yield Static("", id="tr-plot-opts")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.mount(PlotextPlot(id="tr-plot"))
        self.post_message(self.Ready())

    @property
    def plot(self) -> PlotextPlot | None:
        found = self.query("#tr-plot")
        return cast("PlotextPlot", found.first()) if found else None

    @property
    def buckets(self) -> int:
        """How many points across the plot has room for (lines are thinned to this)."""
        plot = self.plot
        return max(plot.size.width - 12, 20) if plot else 20

    def show_options(self, line: str) -> None:
        self.query_one("#tr-plot-opts", Static).update(Text(line, style="dim"))

    def draw(self, lines: list[Line], title: str, log_scale: bool) -> None:
        plot = self.plot
        if plot is None:
            return
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        for line in lines:
            plt.plot(line.xs, line.ys, label=line.label, marker="braille")
        if log_scale:
            plt.yscale("log")
        plt.title(title + ("" if lines else " (no points yet)"))
        plot.refresh()
