"""The monitor's confusion tab: an evaluation's scores and its confusion matrix with a cell
cursor (enter lists that cell's examples), per-class scores beside it. Columns carry short
class codes; each row its code and label; counts, or shading characters (h) where counts do
not fit, read without colour; the table scrolls both ways."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static, TabPane

from engine import protocol as P
from screens.training.matrix import SHADE_LEGEND, cell_text, class_codes, matrix_layout, shade
from screens.training.model import fmt_epoch, fmt_value
from screens.training.runtable import clip

WHICH = ["latest", "best", "test"]  # which evaluation the tab shows (T cycles)


def heat_style(count: int, total: int, right: bool) -> Style:
    """A background whose strength is the cell's share of its row: green where right, red
    where wrong (the characters or numbers carry the same without colour)."""
    if count <= 0 or total <= 0:
        return Style(dim=True)
    share = count / total
    level = int(40 + 160 * min(share * 1.5, 1.0))
    bg = (20, level, 40) if right else (level, 30, 30)
    return Style(bgcolor=f"rgb{bg}", color="white", bold=share >= 0.5)


def matrix_rows(
    rep: P.EvalReport, codes: list[str], label_w: int, numbers: bool
) -> tuple[list[Text], list[list[Text]]]:
    """The header and rows of the matrix: row code and label, one cell per predicted class,
    then precision, recall, F1, support and the whole label."""
    code_w = max((len(c) for c in codes), default=2)
    width = code_w
    if numbers:
        width = max(code_w, *(len(str(v)) for row in rep.confusion for v in row))
    head = [Text(("true\\pred" if label_w else "t\\p").ljust(code_w + 1 + label_w), style="dim")]
    head += [Text(" " + c.rjust(width), style="bold") for c in codes]
    head += [Text(t, style="dim") for t in ("  prec", "  rec", "   f1", "     n", "  label")]
    rows = []
    for t, (code, label) in enumerate(zip(codes, rep.labels, strict=True)):
        counts = rep.confusion[t] if t < len(rep.confusion) else []
        total = sum(counts)
        shown = clip(label, label_w) if label_w and label != code else ""
        name = code.ljust(code_w) + (" " + shown.ljust(label_w) if label_w else "")
        cells = [Text(name + " ", style="bold")]
        for p, v in enumerate(counts):
            mark = str(v) if numbers else shade(v, total) * code_w
            cells.append(Text(" " + mark.rjust(width), style=heat_style(v, total, t == p)))
        m = rep.per_class.get(label, {})
        cells += [Text(f"  {m.get(k, 0.0):.2f}") for k in ("precision", "recall", "f1")]
        cells += [Text(f"  {int(m.get('support', total)):>4,}"), Text(f"  {label}")]
        rows.append(cells)
    return head, rows


HINT = "rows true, columns predicted · ⏎ examples · h counts/shading · T which evaluation"


def eval_head(rep: P.EvalReport, which: str, split: str) -> str:
    kind = {"latest": "latest", "best": "best checkpoint's", "test": "test"}[which]
    return (
        f"{kind} evaluation on {split} at step {rep.step:,} (epoch {fmt_epoch(rep.epoch)}): "
        + " · ".join(f"{k} {fmt_value(v)}" for k, v in rep.metrics.items())
    )


class ConfusionMatrix(DataTable[Text]):
    """The matrix with a cell cursor; enter on a cell asks for its examples."""

    BINDINGS: ClassVar = [
        Binding("enter", "examples", "Examples", id="training.matrix.examples"),
    ]

    class CellChosen(Message):
        """enter on a cell: true label, predicted label (None: any)."""

        def __init__(self, label: str, predicted: str | None) -> None:
            super().__init__()
            self.label = label
            self.predicted = predicted

    def __init__(self) -> None:
        super().__init__(id="tr-matrix", cursor_type="cell", cell_padding=0, fixed_columns=1)
        self.labels: list[str] = []

    def action_examples(self) -> None:
        row, col = self.cursor_coordinate
        if not 0 <= row < len(self.labels):
            return
        predicted = self.labels[col - 1] if 1 <= col <= len(self.labels) else None
        self.post_message(self.CellChosen(self.labels[row], predicted))


class ConfusionTab(TabPane):
    """The watched run's evaluation (#tr-conf-head), its matrix (#tr-matrix), what the cursor
    cell holds (#tr-cell)."""

    def __init__(self) -> None:
        super().__init__("Confusion", id="confusion")
        self.report: P.EvalReport | None = None
        self.codes: list[str] = []
        self.numbers: bool | None = None  # None: counts where they fit, else shading
        self.which = "latest"
        self.split = "validation"
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("no evaluation yet", id="tr-conf-head")
        yield Static(Text(HINT, style="dim"), id="tr-conf-hint")
        yield ConfusionMatrix()
        yield Static("", id="tr-cell")

    @property
    def matrix(self) -> ConfusionMatrix:
        return self.query_one(ConfusionMatrix)

    def show(self, report: P.EvalReport | None, which: str, split: str, width: int) -> None:
        """Show this evaluation (None: there is none); redrawn only when something changed."""
        numbers_wanted = self.numbers
        key = (id(report), report and report.step, which, split, width, numbers_wanted)
        if key == self._shown:
            return
        self._shown = key
        self.report, self.which, self.split = report, which, split
        head = self.query_one("#tr-conf-head", Static)
        table = self.matrix
        keep = table.cursor_coordinate
        table.clear(columns=True)
        if report is None:
            none = {"latest": "no evaluation yet", "best": "no best checkpoint yet"}
            head.update(Text(none.get(which, "not scored on a test split (yet)"), style="dim"))
            self.query_one("#tr-cell", Static).update(Text("T: latest · best · test", "dim"))
            table.display = False
            return
        if not report.confusion:
            head.update(Text(eval_head(report, which, split) + "\n(no confusion matrix)"))
            table.display = False
            return
        table.display = True
        code_w, label_w = matrix_layout(len(report.labels), width)
        self.codes = class_codes(report.labels, code_w)
        largest = max((len(str(v)) for row in report.confusion for v in row), default=1)
        numbers = self.numbers if self.numbers is not None else largest <= code_w
        cols, rows = matrix_rows(report, self.codes, label_w, numbers)
        for i, col in enumerate(cols):
            table.add_column(col, key=str(i))
        for i, row in enumerate(rows):
            table.add_row(*row, key=str(i))
        table.labels = list(report.labels)
        shading = "" if numbers else f"\nshading: {SHADE_LEGEND}"
        head.update(Text(eval_head(report, which, split) + shading, style="bold"))
        if keep != Coordinate(0, 0) and keep.row < table.row_count and keep.column < len(cols):
            table.cursor_coordinate = keep
        else:
            table.cursor_coordinate = Coordinate(0, 1)  # the first cell, not the row's name
        self._describe()

    def toggle_numbers(self) -> None:
        if self.report is None or not self.report.confusion:
            return
        code_w = max((len(c) for c in self.codes), default=2)
        largest = max((len(str(v)) for row in self.report.confusion for v in row), default=1)
        now = self.numbers if self.numbers is not None else largest <= code_w
        self.numbers = not now

    @on(DataTable.CellHighlighted, "#tr-matrix")
    def _cell_moved(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        self._describe()

    def _describe(self) -> None:
        rep = self.report
        if rep is None or not rep.confusion:
            return
        row, col = self.matrix.cursor_coordinate
        if not 0 <= row < len(rep.labels):
            return
        if 1 <= col <= len(rep.labels):
            text = cell_text(rep, row, col - 1, self.codes)
        else:
            m = rep.per_class.get(rep.labels[row], {})
            text = (
                f"true {self.codes[row]} {rep.labels[row]}: precision {m.get('precision', 0):.3f}"
                f" · recall {m.get('recall', 0):.3f} · f1 {m.get('f1', 0):.3f}"
                f" · {int(m.get('support', sum(rep.confusion[row]))):,} examples"
            )
        self.query_one("#tr-cell", Static).update(Text(text + "  (⏎ examples)"))
