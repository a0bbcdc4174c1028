"""The front's side of the engine against a real one: where it connects (only a local home
spawns), many subscribers per event type, and a catalog that follows registry changes."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from engine import protocol as P
from engine.paths import resolve_home
from tests.helpers.engine import RunningEngine
from workbench.engine.catalog import Catalog
from workbench.engine.client import EngineClient, EngineGone
from workbench.engine.endpoint import SOCKET_ENV, at_socket, endpoint_for, local
from workbench.engine.link import EngineLink


async def test_an_engine_at_a_socket_is_never_started_here(tmp_path: Path) -> None:
    sock = tmp_path / "forwarded.sock"
    client = EngineClient(at_socket(sock), name="test")
    with pytest.raises(EngineGone, match="never started here"):
        await client.connect(start=True, timeout=5)
    assert not sock.exists()  # nothing listens there, and no engine was spawned for it


def test_the_endpoint_comes_from_the_home_or_the_socket_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = resolve_home(tmp_path / "home")
    assert endpoint_for(home) == local(home) and local(home).spawns
    monkeypatch.setenv(SOCKET_ENV, str(tmp_path / "remote.sock"))
    remote = endpoint_for()
    assert remote.socket == tmp_path / "remote.sock" and not remote.spawns
    assert endpoint_for(str(tmp_path / "home")).spawns  # a home named on the command line wins


async def test_every_subscriber_of_an_event_type_hears_it(engine: RunningEngine) -> None:
    ready = asyncio.Event()
    link = EngineLink(local(engine.home), on_ready=lambda _: ready.set(), on_lost=lambda _: None)
    first: list[P.JobEnded] = []
    second: list[P.JobEnded] = []
    link.subscribe(P.JobEnded, first.append)
    unsubscribe = link.subscribe(P.JobEnded, second.append)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(ready.wait(), 30)
        job = await link.ask(P.StreamEvents(rate=100, seconds=0.05))
        for _ in range(200):
            if first and second:
                break
            await asyncio.sleep(0.05)
        assert [e.job.job_id for e in first] == [e.job.job_id for e in second] == [job.job_id]
        unsubscribe()
        await link.ask(P.StreamEvents(rate=100, seconds=0.05))
        for _ in range(200):
            if len(first) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(first) == 2 and len(second) == 1
        assert link.state.jobs[job.job_id].state == "done"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.client.close()


async def test_the_catalog_follows_registry_changes(engine: RunningEngine, tmp_path: Path) -> None:
    ready = asyncio.Event()
    link = EngineLink(local(engine.home), on_ready=lambda _: ready.set(), on_lost=lambda _: None)
    catalog = Catalog(link.ask)
    link.subscribe(P.CatalogChanged, catalog.changed)
    refreshed: list[str] = []
    catalog.listen(refreshed.append)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(ready.wait(), 30)
        await catalog.refresh()
        assert {"datasets", "tokenizers", "vectors", "runs"} <= catalog.loaded
        assert "mine" not in catalog.dataset_names()
        csv = tmp_path / "mine.csv"
        csv.write_text("text,label\n" + "".join(f"t {i},{'ab'[i % 2]}\n" for i in range(20)))
        refreshed.clear()
        await link.ask(
            P.DatasetImport(source=str(csv), name="mine", text_column="text", label_column="label")
        )
        for _ in range(400):
            if "mine" in catalog.dataset_names():
                break
            await asyncio.sleep(0.05)
        assert "mine" in catalog.dataset_names() and refreshed == ["datasets"]
        await link.ask(P.DatasetDelete(name="mine"))
        for _ in range(400):
            if "mine" not in catalog.dataset_names():
                break
            await asyncio.sleep(0.05)
        assert "mine" not in catalog.dataset_names()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.client.close()
