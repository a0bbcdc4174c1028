"""The book of runs: each run's state in the store, its metric points and evaluations, and the
controls of the runs training now. Every change is stored first, then announced.

Thread-safe: the training thread records while the loop and the query pool read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from engine import protocol as P
from engine.core.catalog import Changes
from engine.core.errors import EngineError
from engine.core.store import Store
from engine.training.config import EVAL_METRICS, LOWER_IS_BETTER
from engine.training.control import Control

log = logging.getLogger("engine.training")
_FIXED = ("run_id", "name", "arch", "dataset", "state", "created")


class RunBook:
    """Reads and writes run state; publishes RunUpdate, RunEval and RunMetrics."""

    def __init__(self, store: Store, publish: Callable[[P.Event], None], changes: Changes) -> None:
        self.store = store
        self._publish = publish
        self.changes = changes
        self._live: dict[str, P.RunInfo] = {}
        self._controls: dict[str, Control] = {}
        self._lock = threading.Lock()
        interrupted = store.mark_interrupted()
        if interrupted:
            log.info("runs interrupted by the last engine's end: %s", ", ".join(interrupted))

    # ------------------------------------------------------------- reading

    def info(self, run_id: str) -> P.RunInfo:
        """The run's state; EngineError (not_found) naming the latest runs otherwise."""
        with self._lock:
            live = self._live.get(run_id)
        if live is not None:
            return live
        row = self.store.run(run_id)
        if row is None:
            names = [r["run_id"] for r in self.store.runs()][-10:]
            raise EngineError(
                f"no run '{run_id}'",
                hint="runs are: " + ", ".join(names)
                if names
                else "start one with workbench train CONFIG.toml",
                code="not_found",
            )
        saved = row["info"]
        return P.RunInfo(
            run_id=row["run_id"],
            name=row["name"],
            arch=row["arch"],
            dataset=row["dataset"],
            state=row["state"],
            created=row["created"],
            **{
                k: v
                for k, v in saved.items()
                if k in P.RunInfo.__struct_fields__ and k not in _FIXED
            },
        )

    def all(self) -> list[P.RunInfo]:
        return [self.info(r["run_id"]) for r in self.store.runs()]

    def config_toml(self, run_id: str) -> str:
        row = self.store.run(run_id)
        if row is None:
            self.info(run_id)  # raises not_found with the choices
        assert row is not None
        return str(row["config"])

    def history(self, run_id: str, max_points: int = 0) -> P.RunHistory:
        info = self.info(run_id)
        series = self.store.metrics(run_id)
        if max_points > 0:
            series = {k: v[:: max(1, len(v) // max_points)] for k, v in series.items()}
        evals = [P.EvalReport(**e) for e in self.store.evals(run_id)]
        return P.RunHistory(
            run=info,
            series=series,
            evals=evals,
            config_toml=self.config_toml(run_id),
            times=self.store.times(run_id),
        )

    # ------------------------------------------------------------- writing

    def add(
        self, run_id: str, name: str, arch: str, dataset: str, config: str, folder: str
    ) -> None:
        self.store.add_run(run_id, name, arch, dataset, config, folder)
        self.changes.added(run_id)

    def update(self, run_id: str, **changes: Any) -> P.RunInfo:
        """Change fields of the run's state: stored, then announced (RunUpdate)."""
        info = self.info(run_id)
        for k, v in changes.items():
            setattr(info, k, v)
        with self._lock:
            self._live[run_id] = info
        fields = {f: getattr(info, f) for f in P.RunInfo.__struct_fields__}
        self.store.update_run(run_id, info.state, fields)
        self._publish(P.RunUpdate(run=info))
        return info

    def persist(self, run_id: str) -> None:
        """Store the run's state as it is in memory (step, epoch, time trained), unannounced."""
        info = self.info(run_id)
        fields = {f: getattr(info, f) for f in P.RunInfo.__struct_fields__}
        self.store.update_run(run_id, info.state, fields)

    def rename(self, run_id: str, name: str) -> P.RunInfo:
        self.store.rename_run(run_id, name)
        info = self.update(run_id, name=name)
        self.changes.updated(run_id)
        return info

    def delete(self, run_id: str) -> None:
        """Forget the run: its row, metric points and evaluations (its folder is the caller's)."""
        self.store.delete_run(run_id)
        with self._lock:
            self._live.pop(run_id, None)
        self.changes.deleted(run_id)

    def progress(
        self, run_id: str, step: int, epoch: float, total: int = 0, active: float = 0.0
    ) -> None:
        """Step, epoch and time spent training move in memory; every 20 steps clients hear."""
        with self._lock:
            info = self._live.get(run_id)
            if info is not None:
                info.step, info.epoch = step, epoch
                info.total_steps = total or info.total_steps
                info.active = active or info.active
        if step % 20 == 0:
            self._publish(P.RunUpdate(run=self.info(run_id)))

    def rewind(self, run_id: str, step: int) -> None:
        """The run resumes from its checkpoint at step: what it recorded after that step is
        forgotten (it will be recorded again), so its history equals an uninterrupted run's.
        The run is queued from here on: a watcher never sees it rewound and still ended."""
        self.store.drop_metrics_after(run_id, step)
        info = self.update(run_id, state="queued", test={}, test_step=0)
        values = [
            e["metrics"][info.metric]
            for e in self.store.evals(run_id)
            if info.metric in e.get("metrics", {})
        ]
        lower = info.metric in LOWER_IS_BETTER
        best = (min(values) if lower else max(values)) if values else None
        self.update(run_id, best=best, step=step)

    def note(self, run_id: str, text: str) -> None:
        self.update(run_id, message=text)

    def add_points(self, points: list[P.MetricPoint]) -> None:
        """Store metric points in one transaction, then announce them."""
        if points:
            self.store.add_metrics(
                [(p.run_id, p.series, p.step, p.epoch, p.time, p.value) for p in points]
            )
            self._publish(P.RunMetrics(points=points))

    def epoch_at(self, run_id: str, step: int) -> float:
        """The epoch of the run's evaluation at step (0.0 if it has none there)."""
        return next(
            (float(e["epoch"]) for e in self.store.evals(run_id) if int(e["step"]) == step), 0.0
        )

    def evaluated(
        self,
        run_id: str,
        step: int,
        epoch: float,
        data: dict[str, Any],
        split: str = "validation",
    ) -> None:
        """Store and announce one evaluation; track the best value of the run's metric (a test
        evaluation, of the best checkpoint at the end, becomes the run's test score)."""
        per_class = data.get("per_class") or []
        metrics = {
            k: float(v)
            for k in EVAL_METRICS
            if isinstance(v := data.get(k), float | int) and not isinstance(v, bool)
        }
        report = P.EvalReport(
            step=step,
            epoch=float(epoch),
            metrics=metrics,
            split=split,
            labels=[str(c.get("label")) for c in per_class],
            confusion=[list(map(int, row)) for row in data.get("confusion") or []],
            per_class={
                str(c.get("label")): {
                    k: float(c.get(k, 0)) for k in ("precision", "recall", "f1", "support")
                }
                for c in per_class
            },
        )
        self.store.add_eval(run_id, step, msgspec.to_builtins(report))
        self._publish(P.RunEval(run_id=run_id, report=report))
        if split == "test":
            self.update(run_id, test=metrics, test_step=step)
            return
        info = self.info(run_id)
        value = report.metrics.get(info.metric)
        if value is not None:
            lower = info.metric in LOWER_IS_BETTER
            if info.best is None or (value < info.best if lower else value > info.best):
                self.update(run_id, best=value)

    # ------------------------------------------------------------- controls

    @contextmanager
    def training(self, run_id: str, control: Control) -> Iterator[Control]:
        """While the block runs, requests for run_id reach control."""
        with self._lock:
            self._controls[run_id] = control
        try:
            yield control
        finally:
            with self._lock:
                self._controls.pop(run_id, None)

    def control(self, run_id: str) -> Control | None:
        """The control of a run that is training now, else None."""
        with self._lock:
            return self._controls.get(run_id)
