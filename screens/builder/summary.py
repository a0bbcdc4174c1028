"""The builder's summary: what the engine would build (parameters, memory a step, steps), or
the fields to fix first."""

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


def problems_text(problems: dict[str, str]) -> Text:
    t = Text()
    t.append(f"{len(problems)} field(s) to fix before training:\n", style="bold red")
    for field, message in problems.items():
        t.append(f"{field or 'file'}: ", style="bold")
        t.append(message + "\n", style="red")
    return t


def plan_view(
    plan: P.RunPlanResult,
    arch: P.ArchitectureInfo | None,
    values: dict[str, Any],
    steps: int,
) -> Group:
    """The model in a line, its parameters, the memory of one step part by part, the steps."""
    head = Text()
    head.append(f"{arch.name if arch else '?'}", style="bold")
    what = f"{plan.num_classes} classes" if plan.task == "classify" else "language model"
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
    return Group(head, table, lines)


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
    ) -> None:
        self.update(plan_view(plan, arch, values, steps))
