"""The monitor's plots tab: the settings line, a plotext plot of a PlotSpec, its legend (below
the plot, never over it) and the value readout of the cursor."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static, TabPane

from screens.training.plotspec import PlotSpec

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

BEST_GLYPH = "◆"
MAX_READOUT = 4  # lines of the value readout


def apply_spec(plt: Any, spec: PlotSpec) -> None:
    """Draw spec on a plotext figure: limits and ticks are set here, never left to plotext (its
    own log scale fails on a plot with no points, and it picks fractional step ticks)."""
    plt.clear_data()
    plt.clear_figure()
    for line in spec.lines:
        plt.plot(line.xs, line.ys, marker=line.marker, color=line.color)
    if spec.best is not None:
        plt.scatter([spec.best[0]], [spec.best[1]], marker=BEST_GLYPH, color="white")
    if spec.cursor_x is not None and spec.xlim[0] <= spec.cursor_x <= spec.xlim[1]:
        plt.vline(spec.cursor_x, "white")
    plt.xlim(*spec.xlim)
    plt.ylim(*spec.ylim)
    if spec.xticks[0]:
        plt.xticks(*spec.xticks)
    if spec.yticks[0]:
        plt.yticks(*spec.yticks)
    plt.xlabel(spec.xlabel)
    plt.ylabel(spec.ylabel)


def legend(spec: PlotSpec) -> Text:
    """Each line's marker (in its colour) and name; the best checkpoint's mark; the cursor."""
    text = Text(no_wrap=False, overflow="fold")
    for line in spec.lines:
        text.append(line.glyph, style=Style(color=f"rgb{line.color}", bold=True))
        text.append(f" {line.label}  ")
    if spec.best is not None and spec.best_step is not None:
        text.append(f"{BEST_GLYPH} best (step {spec.best_step:,})  ", style="bold")
    if spec.cursor_x is not None:
        text.append("│ cursor  ", style="dim")
    if spec.note:
        text.append(spec.note, style="yellow")
    return text


def make_plot(**kw: Any) -> PlotextPlot:
    """A PlotextPlot that shows why it could not draw rather than raising (a raise inside
    render would end the app)."""
    from textual_plotext import PlotextPlot

    class SafePlot(PlotextPlot):
        def render(self) -> Any:
            try:
                return super().render()
            except Exception as exc:  # plotext's own bugs: say so, keep the app
                return Text(f"this plot cannot be drawn: {type(exc).__name__}: {exc}", "red")

    return SafePlot(**kw)


class PlotsTab(TabPane):
    """#tr-plot-opts over #tr-plot (mounted after the first paint), then the robust accuracy
    panel (#tr-robust-title over #tr-robust-plot, shown only for runs that measure it:
    [train] robust_every), #tr-legend, #tr-readout."""

    class Ready(Message):
        """The plot is mounted: draw it."""

    def __init__(self) -> None:
        super().__init__("Plots", id="plots")
        self._legend: Text | None = None
        self._readout = ""
        self._opts = ""
        self._robust = ""
        self.robust_shown = False

    def compose(self) -> ComposeResult:
        yield Static("", id="tr-plot-opts")
        yield Static("", id="tr-robust-title")
        yield Static("", id="tr-legend")
        yield Static("", id="tr-readout")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        # plotext loads after the first paint
        self.mount(make_plot(id="tr-plot"), after=self.query_one("#tr-plot-opts"))
        self.mount(make_plot(id="tr-robust-plot"), after=self.query_one("#tr-robust-title"))
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

    @property
    def robust_plot(self) -> PlotextPlot | None:
        found = self.query("#tr-robust-plot")
        return cast("PlotextPlot", found.first()) if found else None

    def draw_robust(self, spec: PlotSpec | None) -> None:
        """The robust accuracy panel under the plot: spec's lines with their legend on its
        title line; hidden when spec is None (no run drawn measures robustness)."""
        plot = self.robust_plot
        shown = spec is not None and plot is not None
        title = self.query_one("#tr-robust-title", Static)
        if shown != self.robust_shown:
            self.robust_shown = shown
            title.display = shown
            if plot is not None:
                plot.display = shown
        if spec is None or plot is None:
            return
        # no axis titles: the title line says what it is, and the row goes to the lines
        apply_spec(plot.plt, dataclasses.replace(spec, xlabel="", ylabel=""))
        plot.refresh()
        text = Text(f"{spec.title}  ", style="bold", no_wrap=True, overflow="ellipsis")
        text.append_text(legend(spec))
        if text.plain != self._robust:
            self._robust = text.plain
            title.update(text)

    def show_options(self, line: str) -> None:
        if line != self._opts:
            self._opts = line
            self.query_one("#tr-plot-opts", Static).update(Text(line, style="bold"))

    def show_readout(self, parts: list[str]) -> None:
        """Where the cursor is, then one line per run (each cut with … if it does not fit)."""
        if len(parts) > MAX_READOUT:
            parts = [*parts[: MAX_READOUT - 1], f"+{len(parts) - MAX_READOUT + 1} more runs"]
        text = "\n".join(parts)
        if text != self._readout:
            self._readout = text
            box = self.query_one("#tr-readout", Static)
            box.update(Text(text, no_wrap=True, overflow="ellipsis"))
            box.display = bool(text)

    def draw(self, spec: PlotSpec, settings: str) -> None:
        """Draw the plot; its title line says what it is and how it is drawn."""
        self.show_options(f"{spec.title} · {settings}")
        plot = self.plot
        if plot is None:
            return
        apply_spec(plot.plt, spec)
        plot.refresh()
        text = legend(spec)
        if self._legend is None or text.plain != self._legend.plain:
            self._legend = text
            self.query_one("#tr-legend", Static).update(text)
