"""The embeddings' projection tab: groups of words in 2D (PCA or t-SNE) as a scatter.

The scatter is drawn here, not by a plotting library, so that nothing is cut or covered
without saying so: the legend sits above the plot, a label is drawn whole where it touches
no other label or marker (else it is hidden and counted), points that share a cell are
counted, and j/k walks the points one by one (the highlighted one's label is always shown).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import ProgressBar, Static, TabPane, TextArea

from engine import protocol as P
from screens.embeddings.model import (
    GROUPS_HELP,
    MARKERS,
    ScatterLayout,
    point_order,
    scatter_layout,
)

COLOURS = ["cyan", "magenta", "yellow", "green", "red", "blue", "white"]


def group_names(res: P.ProjectionResult) -> list[str]:
    """The groups in the order their first point came (the order they were typed)."""
    return list(dict.fromkeys(p.group for p in res.points))


def group_style(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def legend(res: P.ProjectionResult) -> Text:
    """`pca of 18 words (source): ● pets ▲ vehicles ...`, one marker and colour per group."""
    text = Text(f"{res.method} of {len(res.points)} words ({res.source}): ", style="bold")
    for i, name in enumerate(group_names(res)):
        text.append(f"{MARKERS[i % len(MARKERS)]} {name}", style=group_style(i))
        text.append("  ")
    return text


def projection_note(
    res: P.ProjectionResult, layout: ScatterLayout | None, point: P.ProjectedPoint | None
) -> Text:
    """Time and axes, what the plot could not show, unknown words, the highlighted point."""
    note = Text(f"{res.seconds:.2f} s", style="dim")
    if res.explained:
        axes = ", ".join(f"{v:.0%}" for v in res.explained)
        note.append(f" · x, y explain {axes} of the variance", style="dim")
    elif res.method == "tsne":
        note.append(" · t-SNE axes have no units", style="dim")
    if layout is not None and layout.hidden:
        note.append(f" · {layout.hidden} labels hidden (no room)", style="yellow")
    if layout is not None and layout.stacked:
        note.append(f" · {layout.stacked} points under another", style="yellow")
    if res.unknown:
        note.append(f" · unknown: {', '.join(res.unknown)}", style="yellow")
    if res.note:
        note.append(f" · {res.note}", style="yellow")
    if point is not None:
        note.append(f" · ▶ {point.word} ({point.group}) {point.x:.2f}, {point.y:.2f}", "bold")
    elif res.points:
        note.append(" · j/k walks the words", style="dim")
    return note


class ScatterPlot(Widget, can_focus=True):
    """The points of a projection in the widget's own size (it re-flows when resized);
    j/k/g/G move a highlight along the points from left to right."""

    DEFAULT_CSS = """
    ScatterPlot { height: 1fr; min-height: 5; border-left: blank; }
    ScatterPlot:focus { border-left: tall $accent; }
    """

    class Laid(Message):
        """What the plot could not show changed, or the highlighted point did."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.result: P.ProjectionResult | None = None
        self.laid: ScatterLayout | None = None
        self._order: list[int] = []
        self.cursor = -1  # index into _order; -1: none highlighted

    def show(self, res: P.ProjectionResult) -> None:
        self.result = res
        self._order = point_order([(p.word, p.x, p.y) for p in res.points])
        self.cursor = -1
        self.laid = None
        self.refresh()

    @property
    def highlighted(self) -> P.ProjectedPoint | None:
        if self.result is None or not (0 <= self.cursor < len(self._order)):
            return None
        return self.result.points[self._order[self.cursor]]

    def _move(self, cursor: int) -> None:
        if not self._order:
            return
        self.cursor = cursor % len(self._order)
        self.refresh()
        self.post_message(self.Laid())

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1 if self.cursor >= 0 else -1)

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._order) - 1)

    def render(self) -> Text:
        res = self.result
        width, height = self.content_region.width - 1, self.content_region.height - 1
        if res is None or width < 4 or height < 2:
            return Text("")
        points = [(p.word, p.x, p.y) for p in res.points]
        first = self._order[self.cursor] if 0 <= self.cursor < len(self._order) else None
        layout = scatter_layout(points, width, height, first)
        before = self.laid
        self.laid = layout
        if before is None or (before.hidden, before.stacked) != (layout.hidden, layout.stacked):
            self.post_message(self.Laid())
        index = {g: i for i, g in enumerate(group_names(res))}
        chars = [[" "] * width for _ in range(height)]
        styles: list[list[str]] = [[""] * width for _ in range(height)]
        for (r, c), i in layout.markers.items():
            g = index[res.points[i].group]
            chars[r][c] = MARKERS[g % len(MARKERS)]
            styles[r][c] = group_style(g) + (" reverse" if i == first else "")
        for label in layout.labels:
            g = index[res.points[label.point].group]
            style = group_style(g) + (" bold reverse" if label.point == first else "")
            for k, ch in enumerate(label.text):
                chars[label.row][label.col + k] = ch
                styles[label.row][label.col + k] = style
        out = Text(no_wrap=True, overflow="crop")
        for r in range(height):
            out.append("│", style="dim")
            for c in range(width):
                out.append(chars[r][c], style=styles[r][c])
            out.append("\n")
        out.append("└" + "─" * width, style="dim")
        return out


class ProjectionTab(TabPane):
    """The options (#proj-opts), the word groups as text (#proj-groups), the job's progress
    (#proj-progress), the legend (#proj-legend), the scatter (#proj-plot) and a note
    (#proj-note)."""

    def __init__(self) -> None:
        super().__init__("Projection v", id="project")
        self.result: P.ProjectionResult | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="proj-box"):
            yield Static("", id="proj-opts")
            groups = TextArea(
                "", id="proj-groups", soft_wrap=True, show_line_numbers=False, compact=True
            )
            groups.placeholder = GROUPS_HELP
            groups.border_title = "word groups"
            yield groups
            yield ProgressBar(id="proj-progress", show_eta=False)
            yield Static("", id="proj-legend")
            yield ScatterPlot(id="proj-plot")
            yield Static("", id="proj-note")

    def on_mount(self) -> None:
        self.query_one("#proj-progress").display = False

    def show_options(self, line: str, groups: str) -> None:
        self.query_one("#proj-opts", Static).update(Text(line, style="dim"))
        box = self.query_one("#proj-groups", TextArea)
        if box.text != groups and not box.has_focus:
            box.text = groups

    @property
    def groups_typed(self) -> str:
        return self.query_one("#proj-groups", TextArea).text

    def edit_groups(self) -> None:
        box = self.query_one("#proj-groups", TextArea)
        box.focus()
        box.move_cursor(box.document.end)
        self.note(Text(f"{GROUPS_HELP}; f7 selects all", style="dim"))

    def note(self, text: Text) -> None:
        self.query_one("#proj-note", Static).update(text)

    def started(self, method: str) -> None:
        bar = self.query_one("#proj-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.note(Text(f"{method} running…", style="dim"))

    def progress(self, done: float, total: float) -> None:
        bar = self.query_one("#proj-progress", ProgressBar)
        if (bar.total, bar.progress) != (total, done):
            bar.update(total=total, progress=done)

    def ended(self) -> None:
        self.query_one("#proj-progress").display = False

    def show(self, res: P.ProjectionResult) -> None:
        self.result = res
        self.query_one("#proj-legend", Static).update(legend(res))
        self.query_one(ScatterPlot).show(res)
        self._note()

    def on_scatter_plot_laid(self, _event: ScatterPlot.Laid) -> None:
        self._note()

    def _note(self) -> None:
        if self.result is None:
            return
        plot = self.query_one(ScatterPlot)
        self.note(projection_note(self.result, plot.laid, plot.highlighted))
