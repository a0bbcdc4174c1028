"""Paths a careless or hostile user gives: relative ones, FIFOs, huge files, loader names. Each
gets a clear, typed error at once; the engine never blocks or reads a file whole."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from engine import protocol as P
from tests.helpers.cli import wb_in
from tests.helpers.engine import RunningEngine
from workbench.engine.client import EngineClient, EngineError


async def refused(client: EngineClient, call: P.Returns[object], *words: str) -> EngineError:
    t0 = time.perf_counter()
    with pytest.raises(EngineError) as err:
        await client.ask(call, timeout=30)
    assert time.perf_counter() - t0 < 10
    assert err.value.code != "internal", err.value
    for word in words:
        assert word in str(err.value), err.value
    return err.value


async def job_failure(client: EngineClient, call: P.StartsJob[object]) -> P.ErrorInfo:
    ended: list[P.JobEnded] = []
    client.subscribe(lambda evs, _: ended.extend(e for e in evs if isinstance(e, P.JobEnded)))
    started = await client.ask(call)
    for _ in range(400):
        done = [e for e in ended if e.job.job_id == started.job_id]
        if done:
            assert done[0].error is not None and done[0].error.code != "internal"
            return done[0].error
        await asyncio.sleep(0.05)
    raise AssertionError("the job never ended")


async def test_relative_paths_are_refused_everywhere(client: EngineClient) -> None:
    await refused(client, P.DatasetPreview(source="data.csv"), "relative", "full path")
    await refused(
        client, P.DatasetImport(source="./data.csv", name="d", text_column="text"), "relative"
    )
    await refused(client, P.TokenizerAdd(name="t", path="tokenizer.json"), "relative")
    error = await job_failure(client, P.VectorAdd(name="v", path="vectors.txt"))
    assert "relative" in error.message


@pytest.mark.parametrize("name", ["csv", "text", "json", "parquet"])
async def test_loader_names_are_not_hub_datasets(client: EngineClient, name: str) -> None:
    await refused(client, P.DatasetPreview(source=name), "loaders", "full path")


async def test_fifos_are_refused_without_blocking(client: EngineClient, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    await refused(client, P.TokenizerAdd(name="t", path=str(fifo)), "FIFO")
    await refused(client, P.DatasetPreview(source=str(fifo)), "FIFO")
    error = await job_failure(client, P.VectorAdd(name="v", path=str(fifo)))
    assert "FIFO" in error.message
    assert isinstance(await client.ask(P.Ping(), timeout=5), P.Pong)  # nothing is stuck


async def test_huge_files_are_refused_with_the_numbers(
    client: EngineClient, tmp_path: Path
) -> None:
    huge = tmp_path / "tokenizer.json"
    huge.touch()
    os.truncate(huge, 600 * 1024 * 1024)  # sparse: takes no disk, reads as 600 MB of zeros
    error = await refused(client, P.TokenizerAdd(name="t", path=str(huge)), "629,145,600 bytes")
    assert error.code == "too_large"


async def test_an_export_folder_must_be_absolute(client: EngineClient) -> None:
    await refused(client, P.RunExport(run_id="nope", path="out"), "relative")


def test_the_cli_sends_absolute_paths(engine: RunningEngine, tmp_path: Path) -> None:
    """Run from another folder, `datasets import data.csv` imports that folder's data.csv."""
    (tmp_path / "data.csv").write_text(
        "text,label\n" + "".join(f"here {i},{'ab'[i % 2]}\n" for i in range(20))
    )
    out = wb_in(tmp_path, engine, "datasets", "import", "data.csv", "--name", "here", "--json")
    assert out.returncode == 0, out.stderr
    rows = wb_in(tmp_path, engine, "datasets", "rows", "here", "--json")
    assert "here 0" in rows.stdout
