"""The `workbench` command line against a real engine: every datasets verb, with --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import ROOT, RunningEngine


def test_engine_status_and_logs(engine: RunningEngine) -> None:
    st = wb_json(engine, "engine", "status")
    assert st["pid"] == engine.pid and st["device"]["memory_total"] > 0
    logs = wb(engine, "engine", "logs", "-n", "5")
    assert logs.returncode == 0 and "listening on" in (engine.home.log.read_text())
    human = wb(engine, "engine", "status")
    assert str(engine.pid) in human.stdout


def test_datasets_list_show_rows_split_report(engine: RunningEngine) -> None:
    listed = wb_json(engine, "datasets", "list")
    assert [d["name"] for d in listed][:3] == ["rotten-tomatoes", "20-newsgroups", "reuters-r8"]
    shown = wb_json(engine, "datasets", "show", "reuters-r8")
    assert shown["rows"] == 7674 and shown["classes"] == 8
    assert shown["splits"] == {"train": 5485, "test": 2189}
    page = wb_json(engine, "datasets", "rows", "reuters-r8", "--limit", "3", "--label", "earn")
    assert len(page["rows"]) == 3 and all(r["label"] == "earn" for r in page["rows"])
    assert page["total"] == shown["labels"]["earn"]
    split = wb_json(
        engine,
        "datasets",
        "split",
        "reuters-r8",
        "--train",
        "0.7",
        "--validation",
        "0.15",
        "--test",
        "0.15",
        "--seed",
        "3",
        "--into",
        "r8-again",
    )
    assert split["stratified"] is True and split["parent"] == "reuters-r8"
    assert sum(s["rows"] for s in split["splits"]) == 7674
    assert wb_json(engine, "datasets", "show", "reuters-r8")["splits"] == shown["splits"]
    report = wb_json(engine, "datasets", "report", "reuters-r8")
    assert report["rows"] == 7674 and report["duplicate_rows"] >= 0
    stats = wb_json(engine, "datasets", "stats", "reuters-r8")
    assert stats["words"]["unit"] == "words" and sum(stats["words"]["counts"]) == 7674
    human = wb(engine, "datasets", "list")
    assert "rotten-tomatoes" in human.stdout


def test_import_guesses_columns_and_errors_are_json(engine: RunningEngine, tmp_path: Path) -> None:
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"review": f"review number {i} " * 3, "stars": str(1 + i % 2)}) + "\n"
            for i in range(40)
        )
    )
    made = wb_json(engine, "datasets", "import", str(jsonl), "--name", "reviews")
    assert made["rows"] == 40 and made["labels"] == {"1": 20, "2": 20}
    again = wb(engine, "datasets", "import", str(jsonl), "--name", "reviews", "--json")
    assert again.returncode == 1
    err = json.loads(again.stdout)["error"]
    assert err["code"] == "exists" and "already exists" in err["message"]
    missing = wb(engine, "datasets", "import", str(tmp_path / "nope.csv"), "--name", "x")
    assert missing.returncode == 1
    assert "nope.csv" in missing.stderr and "Traceback" not in missing.stderr
    deleted = wb_json(engine, "datasets", "delete", "reviews")
    assert deleted == {"deleted": "reviews"}


def test_status_without_engine_says_so(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(tmp_path / "h"), "engine", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "no engine is running" in out.stderr
