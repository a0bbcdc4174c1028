"""The SQLite registry: WAL, schema version, migrations, refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.core.store import SCHEMA_VERSION, Store, StoreError


def test_new_store_is_wal_and_current(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    assert store.schema_version() == SCHEMA_VERSION
    mode = sqlite3.connect(tmp_path / "db.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_datasets_round_trip_and_duplicates_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.add_dataset("a", "/x.csv", "csv", "/data/a", {"rows": 3, "labels": {"p": 2, "n": 1}})
    with pytest.raises(StoreError, match="already exists"):
        store.add_dataset("a", "/y.csv", "csv", "/data/a2", {})
    row = store.dataset("a")
    assert row is not None and row["summary"]["labels"] == {"p": 2, "n": 1}
    store.close()
    again = Store(tmp_path / "db.sqlite3")  # persisted across opens
    assert [d["name"] for d in again.datasets()] == ["a"]
    assert again.delete_dataset("a") and again.dataset("a") is None
    again.close()


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(StoreError, match="newer than this engine"):
        Store(path)


def test_old_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    sqlite3.connect(path).close()  # version 0: empty file
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.add_dataset("b", "s", "csv", "/p", {})
    assert store.dataset("b") is not None
    store.close()


def test_runs_metrics_evals_and_interrupted(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.add_run("r1", "first", "cnn", "rotten-tomatoes", "[model]\narch='cnn'", "/runs/r1")
    store.update_run("r1", "running", {"step": 3})
    rows = [("r1", "train_loss", s, s / 10, 100.0 + s, 1.0 / (s + 1)) for s in range(50)]
    store.add_metrics(rows)
    store.add_eval("r1", 20, {"step": 20, "metrics": {"accuracy": 0.7}})
    store.add_eval("r1", 40, {"step": 40, "metrics": {"accuracy": 0.8}})
    series = store.metrics("r1")["train_loss"]
    assert len(series) == 50 and series[0] == (0, 1.0)
    store.drop_metrics_after("r1", 30)
    assert len(store.metrics("r1")["train_loss"]) == 31
    assert [e["step"] for e in store.evals("r1")] == [20]
    store.close()
    again = Store(tmp_path / "db.sqlite3")  # an engine restart after a crash
    assert again.mark_interrupted() == ["r1"]
    run = again.run("r1")
    assert run is not None and run["state"] == "interrupted" and run["info"] == {"step": 3}
    again.close()
