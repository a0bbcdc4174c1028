"""The runs table without Textual: its columns, each run's cells, sorting and the text filter."""

from __future__ import annotations

from typing import Any, NamedTuple

from engine import protocol as P
from screens.training.model import (
    fmt_started,
    fmt_value,
    scored_test,
    trained_seconds,
    wall_seconds,
)
from workbench.widgets.series import fmt_duration

# --------------------------------------------------------------------- the runs table


class Column(NamedTuple):
    key: str
    title: str
    width: int  # at most this many cells (longer text ends in …)


COLUMNS = [
    Column("mark", " ", 1),
    Column("name", "name", 18),
    Column("state", "state", 11),
    Column("best", "best val", 16),
    Column("test", "test", 16),
    Column("trained", "trained", 7),
    Column("wall", "wall", 7),
    Column("started", "started", 11),
    Column("arch", "arch", 16),
    Column("dataset", "dataset", 16),
    Column("settings", "settings", 48),
]
SORT_KEYS = [c.key for c in COLUMNS if c.key != "mark"]


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def run_cells(run: P.RunInfo, marked: bool, now: float) -> tuple[str, ...]:
    """The row of the runs table: one text per column of COLUMNS, each cut to its width."""
    best = f"{run.metric} {fmt_value(run.best)}" if run.best is not None else "-"
    test = scored_test(run)
    values = {
        "mark": "◆" if marked else " ",
        "name": run.name,
        "state": run.state,
        "best": best,
        "test": f"{run.metric} {fmt_value(test)}" if test is not None else "-",
        "trained": fmt_duration(trained_seconds(run)),
        "wall": fmt_duration(wall_seconds(run, now)),
        "started": fmt_started(run.started, now),
        "arch": run.arch,
        "dataset": run.dataset,
        "settings": run.summary or "-",
    }
    return tuple(clip(values[c.key], c.width) for c in COLUMNS)


def _sort_value(run: P.RunInfo, key: str, now: float) -> tuple[Any, ...]:
    """Runs without a value sort last whatever the order (the caller puts them there)."""
    if key == "best":
        return (run.metric, run.best) if run.best is not None else ()
    if key == "test":
        test = scored_test(run)
        return (run.metric, test) if test is not None else ()
    if key == "trained":
        return (run.active,) if run.active else ()
    if key == "wall":
        wall = wall_seconds(run, now)
        return (wall,) if wall is not None else ()
    if key == "started":
        return (run.started or run.created, run.created)
    if key == "settings":
        return (run.summary.casefold(),) if run.summary else ()
    return (str(getattr(run, key, "")).casefold(),)


def sort_runs(runs: list[P.RunInfo], key: str, reverse: bool, now: float) -> list[P.RunInfo]:
    """By a column (ties by creation), reversed on request; runs with no value last."""
    key = key if key in SORT_KEYS else "started"
    by_created = sorted(runs, key=lambda r: (r.created, r.run_id))
    have = [r for r in by_created if _sort_value(r, key, now)]
    lack = [r for r in by_created if not _sort_value(r, key, now)]
    have.sort(key=lambda r: _sort_value(r, key, now), reverse=reverse)
    return have + lack


def matches(run: P.RunInfo, text: str) -> bool:
    """Every word of text is in the run's id, name, state, architecture, dataset, metric or
    settings (case does not matter)."""
    hay = " ".join(
        (run.run_id, run.name, run.state, run.arch, run.dataset, run.metric, run.summary)
    ).casefold()
    return all(word in hay for word in text.casefold().split())


def table_runs(
    runs: list[P.RunInfo], text: str, key: str, reverse: bool, now: float
) -> list[P.RunInfo]:
    """The runs the table shows, in its order."""
    return sort_runs([r for r in runs if matches(r, text)], key, reverse, now)


def next_sort_key(key: str) -> str:
    return SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)] if key in SORT_KEYS else "name"


def column_title(column: Column, sort_key: str, reverse: bool) -> str:
    if column.key != sort_key:
        return column.title
    return column.title + (" ▼" if reverse else " ▲")
