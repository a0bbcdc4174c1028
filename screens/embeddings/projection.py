"""The embeddings' projection tab: groups of words in 2D (PCA or t-SNE) as a scatter plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import ProgressBar, Static, TabPane

from engine import protocol as P

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

COLOURS = ["cyan", "magenta", "yellow", "green", "red", "blue", "white"]


def projection_note(res: P.ProjectionResult) -> Text:
    note = Text(f"{res.seconds:.2f} s", style="dim")
    if res.explained:
        note.append(" · explained " + ", ".join(f"{v:.0%}" for v in res.explained), style="dim")
    if res.unknown:
        note.append(f" · unknown: {', '.join(res.unknown)}", style="yellow")
    if res.note:
        note.append(f" · {res.note}", style="yellow")
    return note


class ProjectionTab(TabPane):
    """The options (#proj-opts), the job's progress (#proj-progress), a note (#proj-note)
    and the scatter (#proj-plot, mounted after the first paint)."""

    def __init__(self) -> None:
        super().__init__("Projection j", id="project")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="proj-scroll"):
            yield Static("", id="proj-opts")
            yield ProgressBar(id="proj-progress", show_eta=False)
            yield Static("", id="proj-note")

    def on_mount(self) -> None:
        self.query_one("#proj-progress").display = False
        self.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot  # plotext loads after the first paint

        self.query_one("#proj-scroll").mount(PlotextPlot(id="proj-plot"))

    def show_options(self, line: str) -> None:
        self.query_one("#proj-opts", Static).update(Text(line, style="dim"))

    def note(self, text: Text) -> None:
        self.query_one("#proj-note", Static).update(text)

    def started(self, method: str) -> None:
        bar = self.query_one("#proj-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.note(Text(f"{method} running…", style="dim"))

    def progress(self, done: float, total: float) -> None:
        self.query_one("#proj-progress", ProgressBar).update(total=total, progress=done)

    def ended(self) -> None:
        self.query_one("#proj-progress").display = False

    def show(self, res: P.ProjectionResult) -> None:
        found = self.query("#proj-plot")
        if not found:
            return
        plot = cast("PlotextPlot", found.first())
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        groups = sorted({p.group for p in res.points})
        for i, group in enumerate(groups):
            pts = [p for p in res.points if p.group == group]
            colour = COLOURS[i % len(COLOURS)]
            plt.scatter(
                [p.x for p in pts], [p.y for p in pts], label=group, color=colour, marker="dot"
            )
            for p in pts:
                plt.text(p.word, p.x, p.y, color=colour)
        plt.title(f"{res.method} of {len(res.points)} words ({res.source})")
        plot.refresh()
        self.note(projection_note(res))
