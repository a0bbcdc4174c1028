"""Dataset calls: list, open, rows, stats, preview, import (a job), split, report, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import protocol as P
from engine.jobs import Job

if TYPE_CHECKING:
    from engine.server import Engine, EngineHandler


async def _dataset_list(engine: Engine, _: P.DatasetList) -> P.Result:
    return P.DatasetListResult(datasets=await engine.in_pool(engine.datasets.list))


async def _dataset_show(engine: Engine, call: P.DatasetShow) -> P.Result:
    return P.DatasetResult(dataset=await engine.in_pool(engine.datasets.info, call.name))


async def _dataset_open(engine: Engine, call: P.DatasetOpen) -> P.Result:
    def run() -> P.DatasetInfo:
        engine.datasets.get(call.name)
        return engine.datasets.info(call.name)

    built_before = engine.store.dataset(call.name) is not None
    info = await engine.in_pool(run)
    if not built_before:
        engine.broadcast(P.DatasetsChanged(name=call.name, change="updated"))
    return P.DatasetResult(dataset=info)


async def _dataset_rows(engine: Engine, call: P.DatasetRows) -> P.Result:
    return await engine.in_pool(lambda: engine.datasets.get(call.name).rows(call))


async def _dataset_row(engine: Engine, call: P.DatasetRow) -> P.Result:
    return P.RowResult(
        row=await engine.in_pool(lambda: engine.datasets.get(call.name).row(call.index))
    )


async def _dataset_stats(engine: Engine, call: P.DatasetStats) -> P.Result:
    return await engine.in_pool(lambda: engine.datasets.get(call.name).stats(call.split, call.bins))


async def _dataset_preview(engine: Engine, call: P.DatasetPreview) -> P.Result:
    from engine.data.importer import preview

    info = await engine.in_pool(preview, call.source, call.format, call.rows)
    return P.PreviewResult(preview=info)


async def _dataset_import(engine: Engine, call: P.DatasetImport) -> P.Result:
    await engine.in_pool(engine.datasets.check_new_name, call.name)

    def run(job: Job) -> P.Result | None:
        return engine.datasets.import_(call, job)

    def done(job: Job) -> None:
        if job.state == "done":
            engine.call_soon(engine.broadcast, P.DatasetsChanged(name=call.name, change="added"))

    job = engine.jobs.submit("import", f"import {call.name}", run, lane="io", on_done=done)
    return P.JobStarted(job_id=job.id)


async def _dataset_split(engine: Engine, call: P.DatasetSplit) -> P.Result:
    result = await engine.in_pool(engine.datasets.split, call)
    engine.tokenizers.forget_dataset(call.name)  # cached token counts follow the old split
    engine.broadcast(P.DatasetsChanged(name=call.name, change="updated"))
    return result


async def _dataset_report(engine: Engine, call: P.DatasetReport) -> P.Result:
    return await engine.in_pool(lambda: engine.datasets.get(call.name).report(call.limit))


async def _dataset_delete(engine: Engine, call: P.DatasetDelete) -> P.Result:
    await engine.in_pool(engine.datasets.delete, call.name)
    engine.tokenizers.forget_dataset(call.name)
    engine.broadcast(P.DatasetsChanged(name=call.name, change="deleted"))
    return P.Ok(message=f"deleted dataset '{call.name}'")


def handlers() -> dict[type, EngineHandler]:
    return {
        P.DatasetList: _dataset_list,
        P.DatasetShow: _dataset_show,
        P.DatasetOpen: _dataset_open,
        P.DatasetRows: _dataset_rows,
        P.DatasetRow: _dataset_row,
        P.DatasetStats: _dataset_stats,
        P.DatasetPreview: _dataset_preview,
        P.DatasetImport: _dataset_import,
        P.DatasetSplit: _dataset_split,
        P.DatasetReport: _dataset_report,
        P.DatasetDelete: _dataset_delete,
    }
