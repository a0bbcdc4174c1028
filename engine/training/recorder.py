"""The trainer's callbacks for a run in the engine: metric points buffered and written to the
run book in batches, evaluations and notices as they come."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine import protocol as P
from engine.training.config import EVAL_METRICS
from engine.training.control import Callbacks
from engine.training.runs import RunBook

FLUSH_SECONDS = 0.25  # metric points reach clients and SQLite in batches this often
STORE_SECONDS = 2.0  # and the run's step, epoch and time trained this often
# robust_every's series (shares of the attacked slice, as val_accuracy is)
ROBUST_SERIES = ("robust_accuracy", "attack_success_rate", "robust_clean_accuracy")


class RunRecorder(Callbacks):
    """Records one run: every point is stored; clients see them a few times a second."""

    def __init__(self, book: RunBook, run_id: str) -> None:
        self.book = book
        self.run_id = run_id
        self.total_steps = 0  # known once the trainer is built
        self.active = book.info(run_id).active  # seconds spent training, earlier sessions too
        self._points: list[P.MetricPoint] = []
        self._last_flush = self._last_store = time.monotonic()

    def point(self, series: str, step: int, epoch: float, value: float) -> None:
        self._points.append(
            P.MetricPoint(
                run_id=self.run_id,
                series=series,
                step=step,
                epoch=epoch,
                time=time.time(),
                value=float(value),
            )
        )

    def on_step(self, step: int, epoch: float, metrics: dict[str, float]) -> None:  # type: ignore[override]
        epoch = float(metrics.get("epoch_progress", epoch))  # the trainer's epoch is whole
        for name, value in metrics.items():
            if name == "epoch_progress" or not isinstance(value, int | float):
                continue
            series = "train_loss" if name == "loss" else name
            self.point(series, step, epoch, value)
        seconds = metrics.get("seconds")
        if isinstance(seconds, float) and seconds > 0:
            self.point("steps_per_s", step, epoch, 1.0 / seconds)
            self.active += seconds
        self.point("epoch", step, epoch, epoch)
        self.book.progress(
            self.run_id, step=step, epoch=epoch, total=self.total_steps, active=self.active
        )
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def on_eval(self, step: int, epoch: float, eval_metrics: Any) -> None:  # type: ignore[override]
        data = eval_metrics if isinstance(eval_metrics, dict) else eval_metrics.to_dict()
        seconds = data.get("seconds")
        if isinstance(seconds, float) and seconds > 0:
            self.active += seconds
        for name in EVAL_METRICS:
            value = data.get(name)
            if isinstance(value, float | int) and not isinstance(value, bool):
                self.point(f"val_{name}", step, epoch, float(value))
        self.flush()
        self.book.evaluated(self.run_id, step, epoch, data)

    def on_robust(self, step: int, epoch: float, metrics: dict[str, float]) -> None:
        seconds = metrics.get("seconds")
        if isinstance(seconds, float) and seconds > 0:
            self.active += seconds
        for name in ROBUST_SERIES:
            value = metrics.get(name)
            if isinstance(value, float | int) and not isinstance(value, bool):
                self.point(name, step, epoch, float(value))
        self.flush()

    def before_checkpoint(self, step: int) -> None:
        self.flush()  # stored before the checkpoint exists: resuming from it loses nothing

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.book.note(self.run_id, f"checkpoint at step {step}")

    def on_message(self, text: str, level: str = "info") -> None:
        self.book.note(self.run_id, text)

    def on_end(self, result: Any) -> None:
        self.flush()

    def flush(self) -> None:
        points, self._points = self._points, []
        self._last_flush = time.monotonic()
        self.book.add_points(points)
        if points and time.monotonic() - self._last_store > STORE_SECONDS:
            self._last_store = time.monotonic()
            self.book.persist(self.run_id)  # step, epoch, time trained: a killed engine keeps them
