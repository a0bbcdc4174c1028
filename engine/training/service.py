"""Training runs: a TOML configuration becomes a job on the device lane, every metric a row.

A run's folder holds its config.toml, what rebuilds its model (tokenizer.json, labels.json) and
its checkpoints; the store holds its state, every metric point and every evaluation, so any
client can replay its history. Runs a dead engine left running are marked interrupted at start
and resume from their last checkpoint.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import protocol as P
from engine.core.catalog import Changes, sweep_orphans
from engine.core.device import best_device
from engine.core.errors import EngineError
from engine.core.jobs import Job, Lane
from engine.core.store import Store
from engine.models import service as models
from engine.paths import Home
from engine.tokenizers.service import TokenizerService
from engine.training.checkpoint import (
    best_or_last,
    checkpoint_step,
    list_checkpoints,
    resolve_checkpoint,
)
from engine.training.checks import ConfigChecks
from engine.training.config import MAX_DEVICES, RunConfig, device_precisions, train_specs
from engine.training.job import TOKENIZER_FILE, TrainingWork, read_labels
from engine.training.plan import Planner
from engine.training.predicting import Predictions
from engine.training.recorder import RunRecorder
from engine.training.runs import RunBook
from engine.training.worker import run_in_worker, wanted_devices

log = logging.getLogger("engine.training")
Submit = Callable[..., Job]  # JobManager.submit(kind, title, fn, lane=...)
AddVectors = Callable[[str, list[str], Any, str], P.VectorSourceInfo]  # name, words, matrix, from


class TrainingService:
    """Starts, controls, resumes, describes and exports training runs."""

    def __init__(
        self,
        home: Home,
        store: Store,
        submit: Submit,
        publish: Callable[[P.Event], None],
        checks: ConfigChecks,
        tokenizers: TokenizerService,
        add_vectors: AddVectors,
        cancel: Callable[[str], object],
        need: Callable[[int], int] = lambda asked: max(1, asked),
    ) -> None:
        self.runs_dir = home.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        sweep_orphans(self.runs_dir, {Path(r["folder"]).name for r in store.runs()}, "run")
        self.submit = submit
        self.checks = checks
        self.tokenizers = tokenizers
        self.add_vectors = add_vectors
        self.cancel = cancel  # JobManager.cancel(job_id)
        self.need = need  # DevicePool.need: the devices a run asking for N takes (or refused)
        self.book = RunBook(store, publish, Changes("runs", publish))
        self.models = Changes("models", publish)
        self.work = TrainingWork(checks.datasets, tokenizers, checks.vectors, self.book)
        self.planner = Planner(checks)
        self.datasets = checks.datasets
        self._predicted: dict[str, tuple[tuple[str, str], Any]] = {}  # run -> (key, probabilities)
        self.predictions = Predictions(
            self.datasets, self.book, self._config, self.trained_run, self.checkpoint_of
        )

    # ------------------------------------------------------------- describing

    def info(self, run_id: str) -> P.RunInfo:
        return self.book.info(run_id)

    def list(self) -> list[P.RunInfo]:
        return self.book.all()

    def history(self, run_id: str, max_points: int = 0) -> P.RunHistory:
        return self.book.history(run_id, max_points)

    def schema(self) -> P.RunSchemaResult:
        """Every architecture's settings and the training settings, for a form."""
        device = best_device().type
        return P.RunSchemaResult(
            architectures=models.architecture_infos(),
            train=train_specs(),
            device=device,
            precisions=device_precisions(device),
        )

    def plan(self, config_toml: str) -> P.RunPlanResult:
        return self.planner.plan(config_toml)

    # ------------------------------------------------------------- starting

    def start(self, config_toml: str, name: str | None = None) -> P.RunInfo:
        cfg = RunConfig.from_toml(config_toml, name)
        self.checks.check(cfg)  # refused before any run exists
        self.planner.plan(config_toml, raise_too_big=True)  # and one that cannot fit
        devices = self.need(wanted_devices(cfg))  # and more devices than there are
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(config_toml, encoding="utf-8")
        self.book.add(run_id, cfg.name, cfg.arch, cfg.dataset, config_toml, str(folder))
        metric = "accuracy" if models.get_spec(cfg.arch).trained_by == "fit" else "loss"
        self.book.update(run_id, metric=str(cfg.train.get("metric", metric)), summary=cfg.summary())
        return self._launch(run_id, cfg, resume=False, devices=devices)

    def _launch(self, run_id: str, cfg: RunConfig, resume: bool, devices: int) -> P.RunInfo:
        """Queue the run's job; it starts once `devices` of the engine's devices are free."""
        folder = self.runs_dir / run_id
        book = self.book

        def work(job: Job) -> P.Result | None:
            recorder = RunRecorder(book, run_id)
            now = time.time()
            first = book.info(run_id).started or now  # wall time counts from the first start
            book.update(run_id, state="running", started=first, resumed=now, message="")
            try:
                state, message = run_in_worker(
                    self.work, cfg, run_id, folder, resume, job, recorder
                )
            except EngineError as exc:
                recorder.flush()
                book.update(
                    run_id,
                    state="failed",
                    ended=time.time(),
                    active=recorder.active,
                    message=exc.message,
                )
                raise
            except Exception as exc:
                recorder.flush()
                message = f"{type(exc).__name__}: {exc}"
                book.update(
                    run_id,
                    state="failed",
                    ended=time.time(),
                    active=recorder.active,
                    message=message,
                )
                raise
            recorder.flush()
            info = book.update(
                run_id, state=state, ended=time.time(), active=recorder.active, message=message
            )
            if list_checkpoints(folder / "checkpoints"):
                self.models.updated(run_id)  # a trained model to predict with, export, attack
            return P.RunResult(run=info)

        def ended(job: Job) -> None:
            if job.state == "cancelled" and book.info(run_id).state == "queued":
                book.update(
                    run_id, state="stopped", ended=time.time(), message="stopped while queued"
                )

        # queued before submitting: a job that starts at once must not be set back to queued
        book.update(run_id, state="queued", message=str(folder))
        lane: Lane = "device"

        def waiting(message: str) -> None:  # the run's header says why it has not started
            if book.info(run_id).state == "queued":
                book.update(run_id, message=message)

        job = self.submit(
            "train",
            f"train {cfg.name}",
            work,
            lane=lane,
            on_done=ended,
            devices=devices,
            on_wait=waiting,
        )
        return book.update(run_id, job_id=job.id)

    def resume(self, run_id: str, devices: int | None = None) -> P.RunInfo:
        info = self.book.info(run_id)
        if info.state in ("running", "queued", "paused"):
            raise EngineError(
                f"run {run_id} is {info.state}; only stopped, failed or interrupted runs resume"
            )
        checkpoints = self.runs_dir / run_id / "checkpoints"
        if not list_checkpoints(checkpoints):  # complete ones only
            raise EngineError(
                f"run {run_id} has no checkpoint to resume from", hint="start it again instead"
            )
        cfg = self._config(run_id)
        if devices is not None:  # a checkpoint resumes on any number of devices
            if isinstance(devices, bool) or not 0 <= devices <= MAX_DEVICES:
                raise EngineError(
                    f"devices must be from 0 (every GPU) to {MAX_DEVICES}, got {devices}"
                )
            cfg.train = {**cfg.train, "devices": devices}
        taken = self.need(wanted_devices(cfg))
        self.book.rewind(run_id, checkpoint_step(resolve_checkpoint(checkpoints, "last")))
        return self._launch(run_id, cfg, resume=True, devices=taken)

    # ------------------------------------------------------------- controls

    def control(self, call: P.RunControl) -> P.RunInfo:
        """Pause, resume, stop, checkpoint now or set the learning rate of a training run."""
        info = self.book.info(call.run_id)
        control = self.book.control(call.run_id)
        if control is None and info.state == "queued" and call.action == "stop":
            self.cancel(info.job_id)  # it has not started: it never will
            return self.book.update(call.run_id, message="stopping: it will not start")
        if control is None:
            raise EngineError(
                f"run {call.run_id} is {info.state}, not training",
                hint="an interrupted or stopped run continues with: workbench runs resume ID",
            )
        run_id = call.run_id
        if call.action == "pause":
            control.pause()
            return self.book.update(run_id, state="paused")
        if call.action == "resume":
            control.resume()
            return self.book.update(run_id, state="running")
        if call.action == "stop":
            control.stop()
            return self.book.update(run_id, message="stopping after this batch")
        if call.action == "checkpoint":
            control.checkpoint_now()
            return self.book.update(run_id, message="checkpoint after this batch")
        if call.lr is None or not (call.lr > 0 and math.isfinite(call.lr)):
            raise EngineError(
                f"a learning rate must be a finite number above 0, not {call.lr}",
                hint="e.g. 1e-3",
            )
        control.set_lr(call.lr)
        return self.book.update(run_id, message=f"learning rate set to {call.lr:g}")

    def rename(self, run_id: str, name: str) -> P.RunInfo:
        name = name.strip()
        if not name or len(name) > 200 or any(c in name for c in "\n\r\t"):
            raise EngineError(
                f"a run name must be 1 to 200 characters on one line, not {name[:40]!r}"
            )
        return self.book.rename(run_id, name)

    def delete(self, run_id: str) -> str:
        """Delete a run that is not training: its row, metric points and folder."""
        info = self.book.info(run_id)
        if info.state in ("running", "queued", "paused"):
            raise EngineError(
                f"run {run_id} is {info.state}", hint=f"stop it first: workbench runs stop {run_id}"
            )
        self.book.delete(run_id)
        shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)
        self._predicted.pop(run_id, None)
        self.predictions.forget(run_id)
        self.models.deleted(run_id)
        return f"deleted run {run_id} ({info.name}): its checkpoints and {info.step:,} steps"

    def examples(self, call: P.RunExamples) -> P.RunExamplesResult:
        """A confusion cell's examples: the rows of a split with a true and a predicted label,
        as the best checkpoint predicts them (predictions kept until the checkpoint changes),
        most confident mistakes first."""
        if not 1 <= call.limit <= 1000 or not 1 <= call.max_chars <= 20_000:
            raise EngineError("limit must be 1 to 1000 and max_chars 1 to 20000")
        cfg = self._config(call.run_id)
        if models.get_spec(cfg.arch).task != "classify":
            raise EngineError(f"run {call.run_id} is a language model: it predicts no labels")
        if self.datasets.split_rows(cfg.dataset, call.split) == 0:
            raise EngineError(f"dataset '{cfg.dataset}' has no rows in split '{call.split}'")
        trained = self.trained(call.run_id)
        key = (call.split, str(trained.checkpoint))
        cached = self._predicted.get(call.run_id)
        if cached is None or cached[0] != key:
            texts = self.datasets.texts(cfg.dataset, call.split)
            proba = models.class_probabilities(trained, texts, cfg.max_length)
            cached = (key, proba)
            self._predicted[call.run_id] = cached
        proba = cached[1]
        names = trained.run.labels
        for given in (call.label, call.predicted):
            if given is not None and given not in names:
                raise EngineError(
                    f"'{given}' is not one of the run's labels", hint=", ".join(names)
                )
        texts = self.datasets.texts(cfg.dataset, call.split)
        labels = self.datasets.labels(cfg.dataset, call.split)
        rows = self.datasets.split_indices(cfg.dataset, call.split)
        index = {name: i for i, name in enumerate(names)}
        picked = []
        for i, label in enumerate(labels):
            if label not in index:
                continue
            predicted = int(proba[i].argmax())
            if call.label is not None and label != call.label:
                continue
            if call.predicted is not None and names[predicted] != call.predicted:
                continue
            picked.append((float(proba[i, predicted]), i, predicted, index[label]))
        picked.sort(key=lambda p: (p[2] == p[3], -p[0]))  # mistakes first, surest first
        out = [
            P.ExampleRow(
                index=rows[i],
                text=texts[i][: call.max_chars],
                label=names[true],
                predicted=names[predicted],
                probability=sure,
                true_probability=float(proba[i, true]),
            )
            for sure, i, predicted, true in picked[: call.limit]
        ]
        return P.RunExamplesResult(
            run_id=call.run_id,
            split=call.split,
            step=trained.step,
            total=len(picked),
            examples=out,
        )

    # ------------------------------------------------------------- trained models

    def _config(self, run_id: str) -> RunConfig:
        info = self.book.info(run_id)
        return RunConfig.from_toml(self.book.config_toml(run_id), info.name)

    def checkpoint_of(self, run_id: str, which: str = "best") -> Path:
        """The checkpoint folder a run predicts with: its best (else last), or with which
        "latest" its last complete one. Cheap (a pointer file): predictions ask it per call."""
        folder = self.runs_dir / run_id
        try:
            if which == "latest":
                return resolve_checkpoint(folder / "checkpoints", "last")
            return best_or_last(folder / "checkpoints")
        except EngineError:
            name = self.book.info(run_id).name  # an unknown run: not_found, as it should
            raise EngineError(
                f"run {run_id} ({name}) has no checkpoint yet",
                hint="a run saves one every train.checkpoint_every steps and at its end",
                code="not_found",
            ) from None

    def trained_run(self, run_id: str, which: str = "best") -> models.TrainedRun:
        """What rebuilds a run's model from its best (else last) checkpoint, or with which
        "latest" from its last complete one."""
        cfg = self._config(run_id)
        folder = self.runs_dir / run_id
        checkpoint = self.checkpoint_of(run_id, which)
        saved = folder / TOKENIZER_FILE
        if saved.is_file():
            from tokenizers import Tokenizer

            tokenizer: Any = Tokenizer.from_file(str(saved))
            pad_id = self.tokenizers.pad_id_of(tokenizer)
        else:  # a run from before its tokenizer was kept in its folder
            tokenizer = self.tokenizers.get(cfg.tokenizer)
            pad_id = self.tokenizers.pad_id(cfg.tokenizer)
        labels = read_labels(folder)
        if labels is None:
            labels = []
            if models.get_spec(cfg.arch).task == "classify":
                _, _, labels = self.work.labelled(cfg, cfg.train_split, None)
        return models.TrainedRun(
            run_id=run_id,
            folder=folder,
            checkpoint=checkpoint,
            arch=cfg.arch,
            params=cfg.model,
            tokenizer=tokenizer,
            pad_id=pad_id,
            labels=labels,
            description=f"run {run_id} ({cfg.arch} on {cfg.dataset})",
            truncation=None if cfg.truncation.how == "head" else cfg.truncation,
        )

    def trained(self, run_id: str) -> models.TrainedModel:
        return models.load_trained(self.trained_run(run_id))

    def export(self, run_id: str, path: str) -> str:
        if not Path(path).expanduser().is_absolute():
            raise EngineError(
                f"the export folder '{path}' is relative, and the engine does not run in your "
                "folder",
                hint="give the full path of the folder to write",
            )
        return models.export_trained(self.trained(run_id), path)

    def to_vectors(self, run_id: str, name: str) -> P.VectorSourceInfo:
        """A trained run's embedding layer (its best checkpoint) as a static vector source."""
        trained = self.trained(run_id)
        words, matrix = models.embedding_table(trained)
        return self.add_vectors(name, words, matrix, trained.run.description)
