"""The monitor's confusion tab: the last evaluation's scores, confusion matrix, per class."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from engine import protocol as P


def confusion_table(rep: P.EvalReport) -> Table:
    short = [lab[:7] for lab in rep.labels]
    cm = Table(
        title="confusion (rows true, columns predicted)",
        title_justify="left",
        box=None,
        header_style="dim",
        padding=(0, 1, 0, 0),
    )
    cm.add_column("")
    for lab in short:
        cm.add_column(lab, justify="right")
    for lab, row in zip(short, rep.confusion, strict=True):
        total = max(sum(row), 1)
        cm.add_row(lab, *[Text(str(v), style="bold green" if v / total > 0.5 else "") for v in row])
    return cm


def per_class_table(rep: P.EvalReport) -> Table:
    pc = Table(box=None, header_style="dim", padding=(0, 1, 0, 0))
    for col in ("label", "precision", "recall", "f1", "support"):
        pc.add_column(col, justify="left" if col == "label" else "right")
    for lab, m in rep.per_class.items():
        pc.add_row(
            lab[:16],
            *[f"{m.get(k, 0):.3f}" for k in ("precision", "recall", "f1")],
            f"{int(m.get('support', 0))}",
        )
    return pc


def evaluation(rep: P.EvalReport) -> Group:
    head = Text(
        f"evaluation at step {rep.step} (epoch {rep.epoch:.2f}): "
        + ", ".join(f"{k} {v:.4f}" for k, v in rep.metrics.items()),
        style="bold",
    )
    parts: list[RenderableType] = [head]
    if rep.confusion:
        parts.append(confusion_table(rep))
    if rep.per_class:
        parts.append(per_class_table(rep))
    return Group(*parts)


class ConfusionTab(TabPane):
    """The selected run's last evaluation (#tr-confusion)."""

    def __init__(self) -> None:
        super().__init__("Confusion m", id="confusion")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="tr-conf"):
            yield Static("no evaluation yet", id="tr-confusion")

    def show(self, report: P.EvalReport | None) -> None:
        box = self.query_one("#tr-confusion", Static)
        box.update(Text("no evaluation yet", style="dim") if report is None else evaluation(report))
