"""Dataset calls: list, open, rows, stats, preview, import (a job), split, report, delete,
rename."""

from __future__ import annotations

from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.datasets.formats import check_format, guess_format
from engine.datasets.importer import preview
from engine.datasets.service import DatasetService

calls: CallTable[DatasetService] = CallTable("datasets")


@calls.on(P.DatasetList)
def list_(datasets: DatasetService, _: P.DatasetList) -> P.DatasetListResult:
    return P.DatasetListResult(datasets=datasets.list())


@calls.on(P.DatasetShow)
def show(datasets: DatasetService, call: P.DatasetShow) -> P.DatasetResult:
    return P.DatasetResult(dataset=datasets.info(call.name))


@calls.on(P.DatasetOpen)
def open_(datasets: DatasetService, call: P.DatasetOpen) -> P.DatasetResult:
    datasets.get(call.name)  # builds a built-in on first use
    return P.DatasetResult(dataset=datasets.info(call.name))


@calls.on(P.DatasetRows)
def rows(datasets: DatasetService, call: P.DatasetRows) -> P.RowsPage:
    return datasets.get(call.name).rows(call)


@calls.on(P.DatasetRow)
def row(datasets: DatasetService, call: P.DatasetRow) -> P.RowResult:
    return P.RowResult(row=datasets.get(call.name).row(call.index))


@calls.on(P.DatasetStats)
def stats(datasets: DatasetService, call: P.DatasetStats) -> P.StatsResult:
    return datasets.get(call.name).stats(call.split, call.bins)


@calls.on(P.DatasetPreview)
def preview_(datasets: DatasetService, call: P.DatasetPreview) -> P.PreviewResult:
    return P.PreviewResult(preview=preview(call.source, call.format, call.rows))


@calls.job(P.DatasetImport, kind="import", title=lambda c: f"import {c.name}")
def import_(datasets: DatasetService, call: P.DatasetImport) -> JobWork:
    datasets.check_new_name(call.name)
    check_format(call.format) or guess_format(call.source)  # a bad path is refused at once
    return lambda job: datasets.import_(call, job)


@calls.job(P.DatasetGenerate, kind="import", title=lambda c: f"generate {c.name or c.task}")
def generate(datasets: DatasetService, call: P.DatasetGenerate) -> JobWork:
    datasets.check_generate(call)
    return lambda job: datasets.generate(call, job)


@calls.on(P.DatasetSplit)
def split(datasets: DatasetService, call: P.DatasetSplit) -> P.SplitResult:
    return datasets.split(call)


@calls.on(P.DatasetReport)
def report(datasets: DatasetService, call: P.DatasetReport) -> P.ReportResult:
    return datasets.get(call.name).report(call.limit)


@calls.on(P.DatasetDelete)
def delete(datasets: DatasetService, call: P.DatasetDelete) -> P.Ok:
    datasets.delete(call.name)
    return P.Ok(message=f"deleted dataset '{call.name}'")


@calls.on(P.DatasetRename)
def rename(datasets: DatasetService, call: P.DatasetRename) -> P.DatasetResult:
    return P.DatasetResult(dataset=datasets.rename(call.name, call.new_name))
