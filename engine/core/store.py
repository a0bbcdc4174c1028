"""The engine's registry: SQLite in WAL mode, versioned by PRAGMA user_version.

Holds the datasets now; runs and metric points join through new migrations.
One connection shared across the engine's threads behind a lock: writes are
small and rare next to the work they record.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Each entry moves the schema from version i to i+1. Never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE datasets (
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        format TEXT NOT NULL,
        path TEXT NOT NULL,
        created REAL NOT NULL,
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE tokenizers (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        path TEXT NOT NULL,
        created REAL NOT NULL,
        summary TEXT NOT NULL DEFAULT '{}'
    );
    """,
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        arch TEXT NOT NULL,
        dataset TEXT NOT NULL,
        state TEXT NOT NULL,
        created REAL NOT NULL,
        config TEXT NOT NULL,
        folder TEXT NOT NULL,
        info TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        series TEXT NOT NULL,
        step INTEGER NOT NULL,
        epoch REAL NOT NULL,
        time REAL NOT NULL,
        value REAL NOT NULL
    );
    CREATE INDEX metrics_by_run ON metrics(run_id, series, step);
    CREATE TABLE evals (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX evals_by_run ON evals(run_id, step);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    pass


class Store:
    """Registry of datasets (and later runs and metrics) in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this engine's "
                    f"{SCHEMA_VERSION}; upgrade nlp-workbench or use another --home"
                )
            for i in range(version, SCHEMA_VERSION):
                with self.transaction() as db:
                    db.executescript(
                        "BEGIN;" + MIGRATIONS[i] + f"; PRAGMA user_version = {i + 1}; COMMIT;"
                    )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- datasets

    def add_dataset(
        self, name: str, source: str, fmt: str, path: str, summary: dict[str, Any]
    ) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO datasets(name, source, format, path, created, summary) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, source, fmt, path, time.time(), json.dumps(summary)),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a dataset named '{name}' already exists") from None

    def update_dataset_summary(self, name: str, summary: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE datasets SET summary = ? WHERE name = ?", (json.dumps(summary), name)
            )

    def delete_dataset(self, name: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM datasets WHERE name = ?", (name,))
            return cur.rowcount > 0

    def dataset(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
        return _dataset_row(row) if row else None

    def datasets(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM datasets ORDER BY created").fetchall()
        return [_dataset_row(r) for r in rows]

    # ----------------------------------------------------------------- tokenizers

    def add_tokenizer(
        self, name: str, kind: str, source: str, path: str, summary: dict[str, Any]
    ) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO tokenizers(name, kind, source, path, created, summary) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, kind, source, path, time.time(), json.dumps(summary)),
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a tokenizer named '{name}' already exists") from None

    def tokenizer(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM tokenizers WHERE name = ?", (name,)).fetchone()
        return _dataset_row(row) if row else None

    def tokenizers(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM tokenizers ORDER BY created").fetchall()
        return [_dataset_row(r) for r in rows]

    def delete_tokenizer(self, name: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM tokenizers WHERE name = ?", (name,))
            return cur.rowcount > 0

    # ----------------------------------------------------------------- runs

    def add_run(
        self, run_id: str, name: str, arch: str, dataset: str, config: str, folder: str
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO runs(run_id, name, arch, dataset, state, created, config, folder) "
                "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
                (run_id, name, arch, dataset, time.time(), config, folder),
            )

    def update_run(self, run_id: str, state: str, info: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET state = ?, info = ? WHERE run_id = ?",
                (state, json.dumps(info), run_id),
            )

    def rename_run(self, run_id: str, name: str) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET name = ? WHERE run_id = ?", (name, run_id))

    def delete_run(self, run_id: str) -> None:
        """The run's row, metric points and evaluations (one transaction)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            self._db.execute("DELETE FROM evals WHERE run_id = ?", (run_id,))
            self._db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            self._db.execute("COMMIT")

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_row(row) if row else None

    def runs(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM runs ORDER BY created").fetchall()
        return [_run_row(r) for r in rows]

    def mark_interrupted(self) -> list[str]:
        """Runs a dead engine left running: now interrupted (resumable). Their ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id FROM runs WHERE state IN ('queued', 'running', 'paused')"
            ).fetchall()
            ids = [r[0] for r in rows]
            self._db.executemany(
                "UPDATE runs SET state = 'interrupted' WHERE run_id = ?", [(i,) for i in ids]
            )
        return ids

    def add_metrics(self, rows: list[tuple[str, str, int, float, float, float]]) -> None:
        """(run_id, series, step, epoch, time, value) rows, in one transaction."""
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def metrics(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT series, step, value FROM metrics WHERE run_id = ? ORDER BY series, step",
                (run_id,),
            ).fetchall()
        out: dict[str, list[tuple[int, float]]] = {}
        for series, step, value in rows:
            out.setdefault(series, []).append((int(step), float(value)))
        return out

    def times(self, run_id: str, series: str = "epoch") -> list[tuple[int, float]]:
        """(step, wall time) of a series recorded at every step."""
        with self._lock:
            rows = self._db.execute(
                "SELECT step, time FROM metrics WHERE run_id = ? AND series = ? ORDER BY step",
                (run_id, series),
            ).fetchall()
        return [(int(step), float(t)) for step, t in rows]

    def drop_metrics_after(self, run_id: str, step: int) -> None:
        """A resumed run replays from its checkpoint: forget points past it, and the test
        score of a session that ended (the resumed run scores its own)."""
        with self._lock:
            self._db.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, step))
            self._db.execute("DELETE FROM evals WHERE run_id = ? AND step > ?", (run_id, step))
            self._db.execute(
                "DELETE FROM evals WHERE run_id = ? AND report LIKE ?",
                (run_id, '%"split": "test"%'),
            )

    def add_eval(self, run_id: str, step: int, report: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO evals VALUES (?, ?, ?)", (run_id, step, json.dumps(report))
            )

    def evals(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT report FROM evals WHERE run_id = ? ORDER BY step", (run_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["info"] = json.loads(out["info"] or "{}")
    return out


def _dataset_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["summary"] = json.loads(out["summary"] or "{}")
    return out
