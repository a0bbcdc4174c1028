"""`workbench datasets rename | split --into | import` as a user meets them: a built-in keeps its
own split, renaming says what it did or why not, empty texts are reported at import."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine


def _csv(tmp_path: Path) -> Path:
    rows = ["text,label"]
    for i in range(45):
        text = "" if i % 9 == 4 else f"review {i} was {'good' if i % 2 else 'bad'}"
        rows.append(f'"{text}",{"pos" if i % 2 else "neg"}')
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_import_warns_about_empty_texts_and_report_counts_them(
    engine: RunningEngine, tmp_path: Path
) -> None:
    out = wb(engine, "datasets", "import", str(_csv(tmp_path)), "--name", "reviews")
    assert out.returncode == 0, out.stderr
    assert "imported reviews: 45 rows" in out.stdout
    assert "5 rows have empty text" in out.stderr
    assert "--regex --search '^\\s*$'" in out.stderr
    shown = wb_json(engine, "datasets", "show", "reviews")
    assert shown["empty_texts"] == 5
    # the search the warning gives finds exactly those rows
    page = wb_json(engine, "datasets", "rows", "reviews", "--regex", "--search", r"^\s*$")
    assert page["total"] == 5 and [r["index"] for r in page["rows"]] == [4, 13, 22, 31, 40]
    report = wb(engine, "datasets", "report", "reviews")
    assert "5 rows have empty text" in report.stdout


def test_rename_and_its_refusals(engine: RunningEngine, tmp_path: Path) -> None:
    assert wb(engine, "datasets", "import", str(_csv(tmp_path)), "--name", "a").returncode == 0
    out = wb(engine, "datasets", "rename", "a", "b")
    assert out.returncode == 0 and "renamed dataset 'a' to 'b'" in out.stdout
    names = [d["name"] for d in wb_json(engine, "datasets", "list")]
    assert "b" in names and "a" not in names
    assert wb_json(engine, "datasets", "rows", "b", "--limit", "2")["total"] == 45
    refused = wb(engine, "datasets", "rename", "rotten-tomatoes", "rt", "--json")
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert "keeps its name" in error["message"] and "--into rt" in error["hint"]
    taken = wb(engine, "datasets", "rename", "b", "reuters-r8")
    assert taken.returncode == 1 and "already exists" in taken.stdout + taken.stderr


def test_a_builtin_is_split_into_a_new_dataset_never_in_place(engine: RunningEngine) -> None:
    refused = wb(engine, "datasets", "split", "rotten-tomatoes", "--json")
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert "split by movie" in error["message"]
    assert "--into rotten-tomatoes-s13" in error["hint"]
    out = wb(engine, "datasets", "split", "rotten-tomatoes", "--into", "rt-random", "--seed", "5")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "new dataset rt-random; rotten-tomatoes keeps its own split" in out.stdout
    own = wb_json(engine, "datasets", "show", "rotten-tomatoes")["splits"]
    assert own == {"train": 10226, "validation": 1289, "test": 1293}
    mine = wb_json(engine, "datasets", "show", "rt-random")
    assert mine["rows"] == 12808 and mine["source"] == "split of rotten-tomatoes"
    # an imported (derived) one is split in place, and the CLI says what it replaced
    again = wb(engine, "datasets", "split", "rt-random", "--seed", "6")
    assert again.returncode == 0 and "replaced the split it had: train" in again.stdout
