"""An attack's result as tables and files, for the CLI and the attack screen alike (torch-free):
the summary TextAttack prints, as (name, value) rows (two results side by side too), the
examples in TextAttack's CSV log columns, and changed spans marked in plain text."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine import protocol as P

# TextAttack's CSV log columns, in this order
COLUMNS = (
    "ground_truth_output",
    "num_queries",
    "original_output",
    "original_score",
    "original_text",
    "perturbed_output",
    "perturbed_score",
    "perturbed_text",
    "result_type",
)
OPEN, CLOSE = "[[", "]]"  # TextAttack's marks of a changed word in its file logs


def pct(value: float) -> str:
    """A percentage as TextAttack prints it: rounded to 2 places, with %."""
    return f"{round(value, 2)}%"


def num(value: float) -> str:
    return str(round(value, 2))


def summary_rows(summary: P.AttackSummary) -> list[tuple[str, str]]:
    """TextAttack's summary table, plus time per example and, for embedding-space attacks,
    epsilon, norm and both flip rates: (name, value) in the order printed."""
    s = summary
    rows = [
        ("Number of successful attacks:", str(s.successful)),
        ("Number of failed attacks:", str(s.failed)),
        ("Number of skipped attacks:", str(s.skipped)),
        ("Original accuracy:", pct(s.original_accuracy)),
        ("Accuracy under attack:", pct(s.accuracy_under_attack)),
        ("Attack success rate:", pct(s.attack_success_rate)),
        ("Average perturbed word %:", pct(s.avg_perturbed_word_pct)),
        ("Average num. words per input:", num(s.avg_words_per_input)),
        ("Avg num queries:", num(s.avg_queries)),
        ("Seconds per example:", f"{s.seconds_per_example:.3f}"),
    ]
    if s.epsilon is not None:
        rows.append(("Epsilon:", f"{s.epsilon:g}"))
    if s.norm:
        rows.append(("Norm:", "L-inf" if s.norm == "inf" else f"L{s.norm}"))
    if s.embedding_flip_rate is not None:
        rows.append(("Flip rate in embedding space:", pct(s.embedding_flip_rate)))
    if s.snapped_flip_rate is not None:
        rows.append(("Flip rate after snapping:", pct(s.snapped_flip_rate)))
    return rows


def side_by_side(a: P.AttackSummary, b: P.AttackSummary) -> list[tuple[str, str, str]]:
    """Two summaries' rows aligned by name ("" where one has no such row), a's order first."""
    first, second = dict(summary_rows(a)), dict(summary_rows(b))
    names = list(first) + [n for n in second if n not in first]
    return [(n, first.get(n, ""), second.get(n, "")) for n in names]


def table_lines(rows: Sequence[Sequence[str]], headers: Sequence[str] = ()) -> list[str]:
    """Rows as the bordered text table TextAttack prints: first column left, others right."""
    body = [list(headers)] if headers else []
    body += [list(r) for r in rows]
    if not body:
        return []
    cols = max(len(r) for r in body)
    body = [r + [""] * (cols - len(r)) for r in body]
    widths = [max(len(r[i]) for r in body) for i in range(cols)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(r: list[str]) -> str:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        return "| " + " | ".join(cells) + " |"

    out = [rule]
    if headers:
        out += [line(body[0]), rule]
        body = body[1:]
    out += [line(r) for r in body]
    out.append(rule)
    return out


def mark_changes(
    text: str, spans: Iterable[tuple[int, int]], open_: str = OPEN, close: str = CLOSE
) -> str:
    """text with each [start, end) span wrapped in open_/close (spans that overlap merged)."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [text[at:start], open_, text[start:end], close]
        at = end
    out.append(text[at:])
    return "".join(out)


def original_spans(example: P.AttackExample) -> list[tuple[int, int]]:
    return [(c.start, c.end) for c in example.changes]


def perturbed_spans(example: P.AttackExample) -> list[tuple[int, int]]:
    return [(c.new_start, c.new_end) for c in example.changes]


def csv_row(example: P.AttackExample, markers: bool = False) -> list[object]:
    """One example in COLUMNS' order; markers wraps the changed words in [[ ]] as TextAttack's
    file logs do."""
    e = example
    original, perturbed = e.original_text, e.perturbed_text
    if markers:
        original = mark_changes(original, original_spans(e))
        perturbed = mark_changes(perturbed, perturbed_spans(e))
    return [
        e.ground_truth_output,
        e.num_queries,
        e.original_output,
        e.original_score,
        original,
        e.perturbed_output,
        e.perturbed_score,
        perturbed,
        e.result_type,
    ]


def write_csv(result: P.AttackResult, path: str | Path, markers: bool = False) -> int:
    """The result's examples into a CSV file with TextAttack's log columns (strings quoted,
    numbers not, as TextAttack writes it); the number of rows written."""
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(COLUMNS)
        for example in result.examples:
            writer.writerow(csv_row(example, markers))
    return len(result.examples)
