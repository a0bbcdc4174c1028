"""Training runs: a TOML configuration becomes a job on the device lane, every metric a row.

A run's folder holds its config.toml and checkpoints; the store holds its state,
every metric point and every evaluation, so any client can replay its history.
Runs a dead engine left running are marked interrupted at start and resume
from their last checkpoint.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from engine import protocol as P
from engine.data.errors import DataError
from engine.paths import Home
from engine.store import Store

log = logging.getLogger("engine.runs")
FLUSH_SECONDS = 0.25  # metric points reach clients and SQLite in batches this often


@dataclass
class RunConfig:
    """The TOML a person writes (examples/ has one per architecture)."""

    name: str
    dataset: str
    tokenizer: str
    arch: str
    train_split: str = "train"
    validation_split: str | None = "validation"
    max_length: int = 256
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    vectors: str | None = None  # a static source that initialises the embedding layer
    freeze_vectors: bool = False

    @classmethod
    def from_toml(cls, text: str, name: str | None = None) -> RunConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"the configuration is not valid TOML: {exc}") from None
        known = {"name", "data", "model", "train"}
        extra = sorted(set(data) - known)
        if extra:
            raise DataError(
                f"unknown section(s) {', '.join(extra)} in the configuration",
                hint="sections are: name, [data], [model], [train]",
            )
        d = data.get("data", {})
        model = dict(data.get("model", {}))
        arch = model.pop("arch", None)
        vectors = model.pop("vectors", None)
        freeze_vectors = model.pop("freeze_vectors", False)
        if not isinstance(freeze_vectors, bool):
            raise DataError(f"model.freeze_vectors must be true or false, not {freeze_vectors!r}")
        for key, value in (("data.dataset", d.get("dataset")), ("model.arch", arch)):
            if not value:
                raise DataError(f"the configuration has no {key}", hint="see examples/*.toml")
        max_length = d.get("max_length", 256)
        if not isinstance(max_length, int) or max_length < 2:
            raise DataError(
                f"data.max_length must be a whole number of 2 or more, not {max_length!r}"
            )
        return cls(
            name=str(name or data.get("name") or f"{arch}-{d['dataset']}"),
            dataset=str(d["dataset"]),
            tokenizer=str(d.get("tokenizer", "minilm-wordpiece")),
            arch=str(arch),
            train_split=str(d.get("train_split", "train")),
            validation_split=d.get("validation_split", "validation") or None,
            max_length=max_length,
            model=model,
            train=dict(data.get("train", {})),
            vectors=str(vectors) if vectors else None,
            freeze_vectors=freeze_vectors,
        )


class RunCallbacks:
    """Trainer callbacks that buffer metric points and flush them in batches."""

    def __init__(self, manager: RunManager, run_id: str) -> None:
        self.manager = manager
        self.run_id = run_id
        self._points: list[P.MetricPoint] = []
        self._last_flush = time.monotonic()
        self.trainer: Any = None  # set once built: total_steps is known when fit starts

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

    def on_step(self, step: int, epoch: float, metrics: dict[str, float]) -> None:
        epoch = float(metrics.get("epoch_progress", epoch))  # the trainer's epoch is whole
        for name, value in metrics.items():
            if name == "epoch_progress" or not isinstance(value, int | float):
                continue
            series = "train_loss" if name == "loss" else name
            self.point(series, step, epoch, value)
        seconds = metrics.get("seconds")
        if isinstance(seconds, float) and seconds > 0:
            self.point("steps_per_s", step, epoch, 1.0 / seconds)
        self.point("epoch", step, epoch, epoch)
        total = int(getattr(self.trainer, "total_steps", 0) or 0)
        self.manager.progress(self.run_id, step=step, epoch=epoch, total=total)
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def on_eval(self, step: int, epoch: float, result: Any) -> None:
        data = result if isinstance(result, dict) else result.to_dict()
        for name in ("loss", "accuracy", "macro_f1", "perplexity"):
            value = data.get(name)
            if isinstance(value, float | int) and not isinstance(value, bool):
                self.point(f"val_{name}", step, epoch, float(value))
        self.flush()
        self.manager.evaluated(self.run_id, step, epoch, data)

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.manager.note(self.run_id, f"checkpoint at step {step}")

    def on_message(self, text: str, level: str = "info") -> None:
        self.manager.note(self.run_id, text)

    def on_end(self, result: Any) -> None:
        self.flush()

    def flush(self) -> None:
        points, self._points = self._points, []
        self._last_flush = time.monotonic()
        if points:
            self.manager.store.add_metrics(
                [(p.run_id, p.series, p.step, p.epoch, p.time, p.value) for p in points]
            )
            self.manager.emit(P.RunMetrics(points=points))


class RunManager:
    """Starts, controls, resumes and describes training runs."""

    def __init__(
        self,
        home: Home,
        store: Store,
        submit: Callable[..., Any],
        emit: Callable[[P.Event], None],
        build: Callable[[RunConfig, str, bool, Any, RunCallbacks], Any],
    ) -> None:
        self.home = home
        self.store = store
        self.submit = submit  # JobManager.submit
        self.emit = emit  # thread-safe broadcast
        self.build = build  # runs the training itself (engine.train_job)
        self.runs_dir = home.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.controls: dict[str, Any] = {}
        self._info: dict[str, P.RunInfo] = {}
        self._lock = threading.Lock()
        interrupted = store.mark_interrupted()
        if interrupted:
            log.info("runs interrupted by the last engine's end: %s", ", ".join(interrupted))

    # ------------------------------------------------------------- describing

    def info(self, run_id: str) -> P.RunInfo:
        with self._lock:
            live = self._info.get(run_id)
        if live is not None:
            return live
        row = self.store.run(run_id)
        if row is None:
            names = [r["run_id"] for r in self.store.runs()][-10:]
            raise DataError(
                f"no run '{run_id}'",
                hint="runs are: " + ", ".join(names)
                if names
                else "start one with workbench train CONFIG.toml",
                code="not_found",
            )
        info = row["info"]
        return P.RunInfo(
            run_id=row["run_id"],
            name=row["name"],
            arch=row["arch"],
            dataset=row["dataset"],
            state=row["state"],
            created=row["created"],
            **{
                k: v
                for k, v in info.items()
                if k in P.RunInfo.__struct_fields__
                and k not in ("run_id", "name", "arch", "dataset", "state", "created")
            },
        )

    def list(self) -> list[P.RunInfo]:
        return [self.info(r["run_id"]) for r in self.store.runs()]

    def history(self, run_id: str, max_points: int = 0) -> P.RunHistory:
        info = self.info(run_id)
        series = self.store.metrics(run_id)
        if max_points > 0:
            series = {k: v[:: max(1, len(v) // max_points)] for k, v in series.items()}
        evals = [P.EvalReport(**e) for e in self.store.evals(run_id)]
        row = self.store.run(run_id)
        return P.RunHistory(
            run=info, series=series, evals=evals, config_toml=row["config"] if row else ""
        )

    # ------------------------------------------------------------- state

    def _set(self, run_id: str, **changes: Any) -> P.RunInfo:
        info = self.info(run_id)
        for k, v in changes.items():
            setattr(info, k, v)
        with self._lock:
            self._info[run_id] = info
        state_fields = {f: getattr(info, f) for f in P.RunInfo.__struct_fields__}
        self.store.update_run(run_id, info.state, state_fields)
        self.emit(P.RunUpdate(run=info))
        return info

    def progress(self, run_id: str, step: int, epoch: float, total: int = 0) -> None:
        with self._lock:
            info = self._info.get(run_id)
            if info is not None:
                info.step, info.epoch = step, epoch
                info.total_steps = total or info.total_steps
        if step % 20 == 0:  # clients see step and epoch move between evaluations
            self.emit(P.RunUpdate(run=self.info(run_id)))

    def note(self, run_id: str, text: str) -> None:
        self._set(run_id, message=text)

    def evaluated(self, run_id: str, step: int, epoch: float, data: dict[str, Any]) -> None:
        """Store and announce one evaluation; track the best value of the run's metric."""
        per_class = data.get("per_class") or []
        metrics = {
            k: float(v)
            for k in ("loss", "accuracy", "macro_f1", "perplexity")
            if isinstance(v := data.get(k), float | int) and not isinstance(v, bool)
        }
        report = P.EvalReport(
            step=step,
            epoch=float(epoch),
            metrics=metrics,
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
        self.emit(P.RunEval(run_id=run_id, report=report))
        info = self.info(run_id)
        value = report.metrics.get(info.metric)
        if value is not None:
            lower = info.metric in ("loss", "perplexity")
            if info.best is None or (value < info.best if lower else value > info.best):
                self._set(run_id, best=value)

    # ------------------------------------------------------------- starting

    def start(self, config_toml: str, name: str | None = None) -> P.RunInfo:
        cfg = RunConfig.from_toml(config_toml, name)
        self.build.check(cfg)  # type: ignore[attr-defined]  # refused before any run exists
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(config_toml, encoding="utf-8")
        self.store.add_run(run_id, cfg.name, cfg.arch, cfg.dataset, config_toml, str(folder))
        self._set(run_id, metric=str(cfg.train.get("metric", "loss")))
        return self._launch(run_id, cfg, resume=False)

    def _launch(self, run_id: str, cfg: RunConfig, resume: bool) -> P.RunInfo:
        folder = self.runs_dir / run_id

        def work(job: Any) -> P.Result | None:
            callbacks = RunCallbacks(self, run_id)
            self._set(run_id, state="running", started=time.time(), message="")
            try:
                outcome = self.build(cfg, run_id, resume, job, callbacks)
            except DataError as exc:
                callbacks.flush()
                self._set(run_id, state="failed", ended=time.time(), message=exc.message)
                raise
            except Exception as exc:
                callbacks.flush()
                self._set(
                    run_id,
                    state="failed",
                    ended=time.time(),
                    message=f"{type(exc).__name__}: {exc}",
                )
                raise
            callbacks.flush()
            state, message = outcome
            info = self._set(run_id, state=state, ended=time.time(), message=message)
            return P.RunResult(run=info)

        # queued before submitting: a job that starts at once must not be set back to queued
        self._set(run_id, state="queued", message=str(folder))
        job = self.submit("train", f"train {cfg.name}", work, lane="device")
        return self._set(run_id, job_id=job.id)

    def resume(self, run_id: str) -> P.RunInfo:
        info = self.info(run_id)
        if info.state in ("running", "queued", "paused"):
            raise DataError(
                f"run {run_id} is {info.state}; only stopped, failed or interrupted runs resume"
            )
        from engine.train.checkpoint import list_checkpoints

        if not list_checkpoints(self.runs_dir / run_id / "checkpoints"):  # complete ones only
            raise DataError(
                f"run {run_id} has no checkpoint to resume from", hint="start it again instead"
            )
        row = self.store.run(run_id)
        assert row is not None
        return self._launch(run_id, RunConfig.from_toml(row["config"], row["name"]), resume=True)

    def export(self, run_id: str, path: str) -> str:
        row = self.store.run(run_id)
        if row is None:
            self.info(run_id)  # raises not_found with the choices
        assert row is not None
        cfg = RunConfig.from_toml(row["config"], row["name"])
        return str(self.build.export(cfg, self.runs_dir / run_id, path))  # type: ignore[attr-defined]

    def embedding_table(self, run_id: str) -> tuple[list[str], Any, str]:
        """A trained run's embedding layer: (tokens, matrix, a description of where from)."""
        row = self.store.run(run_id)
        if row is None:
            self.info(run_id)
        assert row is not None
        cfg = RunConfig.from_toml(row["config"], row["name"])
        words, matrix = self.build.embedding_table(cfg, self.runs_dir / run_id)  # type: ignore[attr-defined]
        return words, matrix, f"run {run_id} ({cfg.arch} on {cfg.dataset})"

    def delete(self, run_id: str) -> None:
        self.info(run_id)
        shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)
