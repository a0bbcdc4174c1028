"""The engine assembled: every domain's service built with what it needs, its handlers bound,
the server and the device report. The one module that knows every domain.

    store, bus, jobs  ->  datasets -> tokenizers -> embeddings, training -> lm, attacks
                      ->  Dispatch -> Server
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine import protocol as P
from engine.attack import handlers as attack_calls
from engine.attack.service import AttackService
from engine.core import downloads, system
from engine.core.calls import Dispatch
from engine.core.catalog import Changes
from engine.core.device import DeviceMonitor
from engine.core.events import EventBus
from engine.core.jobs import Job, JobManager
from engine.core.server import Server, job_ended
from engine.core.store import Store
from engine.datasets import handlers as dataset_calls
from engine.datasets.service import DatasetService
from engine.embeddings import handlers as embedding_calls
from engine.embeddings.service import EmbeddingService
from engine.lm import handlers as lm_calls
from engine.lm.service import LanguageModels
from engine.paths import Home
from engine.tokenizers import handlers as tokenizer_calls
from engine.tokenizers.service import TokenizerService
from engine.training import handlers as training_calls
from engine.training.checks import ConfigChecks
from engine.training.service import Submit, TrainingService

log = logging.getLogger("engine")
DEVICE_INTERVAL = 0.5  # device report refresh while a client is attached


@dataclass
class Services:
    """Every domain's service, built once per engine."""

    datasets: DatasetService
    tokenizers: TokenizerService
    embeddings: EmbeddingService
    training: TrainingService
    lm: LanguageModels
    attacks: AttackService


def build_services(
    home: Home,
    store: Store,
    bus: EventBus,
    submit: Submit,
    cancel: Callable[[str], object] = lambda job_id: None,
    need: Callable[[int], int] = lambda asked: max(1, asked),
) -> Services:
    """Each service gets what it uses through its constructor; submit starts a job and cancel
    cancels one (JobManager's); need says how many devices a run asking for N takes."""
    publish = bus.publish
    datasets = DatasetService(home, store, Changes("datasets", publish))
    tokenizers = TokenizerService(home, store, datasets.texts, Changes("tokenizers", publish))
    bus.listen(P.CatalogChanged, _forget_changed_datasets(tokenizers))
    embeddings = EmbeddingService(home, Changes("vectors", publish))
    checks = ConfigChecks(datasets, tokenizers, embeddings.table)
    training = TrainingService(
        home, store, submit, publish, checks, tokenizers, embeddings.add_table, cancel, need
    )
    lm = LanguageModels(training.book, training.runs_dir, training.trained_run, publish)
    bus.listen(P.CatalogChanged, _forget_deleted_runs(lm))
    attacks = AttackService(
        training.predictions.classifier, training.predictions.config_of, datasets
    )
    return Services(datasets, tokenizers, embeddings, training, lm, attacks)


def _forget_changed_datasets(tokenizers: TokenizerService) -> Callable[[P.CatalogChanged], None]:
    def forget(event: P.CatalogChanged) -> None:
        if event.kind == "datasets":  # token counts and vocabularies follow the old texts
            tokenizers.forget_dataset(event.name)

    return forget


def _forget_deleted_runs(lm: LanguageModels) -> Callable[[P.CatalogChanged], None]:
    def forget(event: P.CatalogChanged) -> None:
        if event.kind == "runs" and event.change == "deleted":  # its model is let go
            lm.forget(event.name)

    return forget


def mount(dispatch: Dispatch, services: Services) -> None:
    dispatch.mount(dataset_calls.calls, services.datasets)
    dispatch.mount(tokenizer_calls.calls, services.tokenizers)
    dispatch.mount(embedding_calls.calls, services.embeddings)
    dispatch.mount(training_calls.calls, services.training)
    dispatch.mount(lm_calls.calls, services.lm)
    dispatch.mount(attack_calls.calls, services.attacks)


class Engine:
    """One engine for one home: build it inside the running event loop, then serve()."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.session_id = uuid.uuid4().hex
        self.bus = EventBus()
        self.store = Store(home.db)
        self.jobs = JobManager(on_end=self._job_ended, data_dir=home.data_dir)
        self.device = DeviceMonitor()
        self.services = build_services(
            home, self.store, self.bus, self.jobs.submit, self.jobs.cancel, self.jobs.devices.need
        )
        self.dispatch = Dispatch()
        pool = ThreadPoolExecutor(2, thread_name_prefix="query")
        self.server = Server(home, self.session_id, self.dispatch, self.bus, self.jobs, pool)
        self.server.describe_device = self._describe_device
        self.system = system.SystemService(
            home,
            self.session_id,
            time.time(),
            self.device,
            self.jobs,
            clients=lambda: len(self.server.clients),
            stop=self.server.stop,
        )
        self.dispatch.mount(system.calls, self.system)
        mount(self.dispatch, self.services)
        exports = downloads.StagedExports(self.system.downloads, self.services.training.export)
        self.dispatch.mount(downloads.calls, exports)

    async def serve(self) -> None:
        reporter = asyncio.create_task(self._device_loop(), name="device")
        try:
            await self.server.serve(on_listening=self._when_listening)
        finally:
            reporter.cancel()
            self.store.close()
            log.info("engine stopped")

    def _when_listening(self) -> None:
        """Staged downloads a stopped engine left, then in the background: torch and the
        device, then the training workers' forkserver."""
        gone = self.system.downloads.sweep()  # before any client's call: none is ours yet
        if gone:
            log.info("deleted %d staged downloads an earlier engine left", gone)

        def start() -> None:
            self.device.detect()
            from engine.training.worker import warm

            warm()

        threading.Thread(target=start, name="device-detect", daemon=True).start()

    def _describe_device(self) -> tuple[str, str, list[str]]:
        """(kind, name, features) once torch has loaded in the engine; ("", "", []) before."""
        device = self.device
        if not device.ready.is_set():
            return "", "", []
        return device.kind, device.name, list(device.features)

    def stop(self) -> None:
        self.server.stop()

    def _job_ended(self, job: Job) -> None:
        """In the job's thread: the logs it left, then its end, in order."""
        for log_event in job.take_logs():
            self.bus.publish(log_event)
        self.bus.publish(job_ended(job))

    async def _device_loop(self) -> None:
        while True:
            await asyncio.sleep(DEVICE_INTERVAL)
            if self.server.clients:
                running = sum(1 for j in self.jobs.active() if j.state == "running")
                self.bus.publish(P.DeviceUpdate(device=self.device.sample(), jobs_running=running))
