"""The CLI's tables at the widths people use: nothing runs past the edge, an id is never cut, a
number is never cut, and a column left out for room is named under the table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import workbench.cli.common as common
from workbench.cli.training import OPTIONAL, RUN_COLUMNS

RUNS = [
    [
        "20261201-170944-0e4354",
        "embeddingbag-rotten-tomatoes",
        "finished",
        "800/800",
        "acc 0.7541",
        "acc 0.7811",
        "5 s",
        "embedding-bag",
        "rotten-tomatoes",
    ],
    [
        "20261201-170944-0e4355",
        "lstm",
        "interrupted",
        "12,800/24,000",
        "F1 0.6012",
        "-",
        "1 h 05 m",
        "lstm",
        "20-newsgroups",
    ],
]


def _printed(width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(common, "out", Console(width=width))
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(common.table("runs", RUN_COLUMNS, RUNS, OPTIONAL))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_runs_fit_the_width_with_ids_and_numbers_whole(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _printed(width, monkeypatch)
    assert max(len(line.rstrip()) for line in lines) <= width
    text = "\n".join(lines)
    for word in ("20261201-170944-0e4354", "20261201-170944-0e4355", "12,800/24,000", "0.7541"):
        assert word in text, (width, word)
    assert "interrupted" in text and "0.6012" in text


def test_columns_left_out_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = "\n".join(_printed(80, monkeypatch))
    assert "trained, arch, dataset: a wider terminal or --json shows them" in narrow
    assert "rotten-tomatoes" not in narrow
    wide = "\n".join(_printed(200, monkeypatch))
    assert "a wider terminal" not in wide
    assert "embeddingbag-rotten-tomatoes" in wide and "1 h 05 m" in wide


def test_a_long_name_is_cut_with_a_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = "\n".join(_printed(80, monkeypatch))
    assert "embeddingbag-rotten-tomatoes" not in narrow
    assert "embedding…" in narrow


def test_widths_keep_the_first_column_and_give_way_widest_first() -> None:
    headers = ["id", "name", "n"]
    rows = [["abcdefghijklmnopqrstuvwxyz", "a-very-long-name-indeed", "12,345"]]
    widths = common._widths(headers, rows, 50)
    assert widths[0] == 26 and widths[2] == 6
    assert sum(widths) + 2 * len(widths) - 1 <= 50
    assert widths[1] >= common.CUT_WORD
