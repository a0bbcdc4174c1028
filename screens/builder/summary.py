"""The builder's summary: what the engine would build (parameters, memory a step, steps) and
the values it warns of, or the fields to fix first. Each problem or warning is one line, cut
with `…` (the whole text is under its field) and `+N more` past a few."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine import protocol as P


def human_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


SHOWN = 4  # problems or warnings listed; the rest are counted (n goes to each)


def issue_lines(items: dict[str, str], style: str, mark: str) -> list[Text]:
    """One line a field ("file" for the whole file), cut with `…`; `+N more` past SHOWN."""
    lines = []
    for field, message in list(items.items())[:SHOWN]:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{mark} {field.partition('.')[2] or field or 'file'}: ", style="bold")
        line.append(message, style=style)
        lines.append(line)
    if len(items) > SHOWN:
        lines.append(Text(f"+{len(items) - SHOWN} more (n goes to each)", style="dim"))
    return lines


def problems_text(problems: dict[str, str]) -> Group:
    head = Text(f"{len(problems)} field(s) to fix before training:", style="bold red")
    return Group(head, *issue_lines(problems, "red", "✗"))


def warnings_lines(warnings: dict[str, str]) -> list[Text]:
    if not warnings:
        return []
    n = len(warnings)
    head = Text(f"⚠ {n} warning{'s' if n > 1 else ''} · ctrl+t still trains", "bold yellow")
    return [head, *issue_lines(warnings, "yellow", "⚠")]


def plan_view(
    plan: P.RunPlanResult,
    arch: P.ArchitectureInfo | None,
    values: dict[str, Any],
    steps: int,
    warnings: dict[str, str] | None = None,
) -> Group:
    """The model in a line, its parameters, the memory of one step part by part, the steps,
    and the values far from usual."""
    head = Text()
    head.append(f"{arch.name if arch else '?'}", style="bold")
    what = (
        f"{plan.num_classes} classes"
        if plan.task == "classify"
        else "sequence to sequence"
        if plan.task == "seq2seq"
        else "language model"
    )
    head.append(f" · {what} · vocab {plan.vocab_size:,} · on {plan.device}\n")
    head.append("parameters ")
    head.append(f"{plan.trainable:,}", style="bold green")
    head.append(" trainable")
    if plan.frozen:
        head.append(" · ")
        head.append(f"{plan.frozen:,}", style="bold cyan")
        head.append(" frozen")
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim")
    table.add_column(justify="right")
    total = sum(plan.memory.values())
    precision = values.get("train.precision", "fp32")
    table.add_row(Text("memory a step", style="bold"), Text(human_bytes(total), style="bold"))
    for part, size in plan.memory.items():
        table.add_row(f"  {part}", human_bytes(size))
    table.add_row(f"  batch {plan.batch_size} x {plan.seq_len}, {precision}", "")
    lines = Text()
    if plan.train_rows:
        lines.append(f"{plan.train_rows:,} training rows", style="dim")
        if arch and arch.trained_by != "fit" and plan.steps_per_epoch:
            lines.append(
                f" · ≤{plan.steps_per_epoch:,} steps an epoch · ≤{steps:,} steps", style="dim"
            )
    return Group(head, *warnings_lines(warnings or {}), table, lines)  # warnings first


class PlanSummary(Static):
    """The plan of the form on screen (#bd-summary), or what to fix in it."""

    def show_problems(self, problems: dict[str, str]) -> None:
        self.update(problems_text(problems))

    def show_plan(
        self,
        plan: P.RunPlanResult,
        arch: P.ArchitectureInfo | None,
        values: dict[str, Any],
        steps: int,
        warnings: dict[str, str] | None = None,
    ) -> None:
        self.update(plan_view(plan, arch, values, steps, warnings))
