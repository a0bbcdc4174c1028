"""Training calls: start, list, show (whole history), control, resume, export, a run's
embeddings as vectors, the builder's schema and plan, and classifying texts with a run."""

from __future__ import annotations

from engine import protocol as P
from engine.core.calls import CallTable, JobWork
from engine.training.service import TrainingService

calls: CallTable[TrainingService] = CallTable("training")


@calls.on(P.RunStart)
def start(training: TrainingService, call: P.RunStart) -> P.RunResult:
    return P.RunResult(run=training.start(call.config_toml, call.name))


@calls.on(P.RunList)
def list_(training: TrainingService, _: P.RunList) -> P.RunListResult:
    return P.RunListResult(runs=training.list())


@calls.on(P.RunShow)
def show(training: TrainingService, call: P.RunShow) -> P.RunHistory:
    return training.history(call.run_id, call.max_points)


@calls.on(P.RunControl, run="loop")  # a flag for the training thread: never waits
def control(training: TrainingService, call: P.RunControl) -> P.RunResult:
    return P.RunResult(run=training.control(call))


@calls.on(P.RunResume)
def resume(training: TrainingService, call: P.RunResume) -> P.RunResult:
    return P.RunResult(run=training.resume(call.run_id, call.devices))


@calls.on(P.RunExport)
def export(training: TrainingService, call: P.RunExport) -> P.Ok:
    return P.Ok(message=training.export(call.run_id, call.path))


@calls.on(P.VectorFromRun)
def to_vectors(training: TrainingService, call: P.VectorFromRun) -> P.VectorSourceResult:
    return P.VectorSourceResult(source=training.to_vectors(call.run_id, call.name))


@calls.on(P.RunSchema)
def schema(training: TrainingService, _: P.RunSchema) -> P.RunSchemaResult:
    return training.schema()


@calls.on(P.RunPlan)
def plan(training: TrainingService, call: P.RunPlan) -> P.RunPlanResult:
    return training.plan(call.config_toml)


@calls.on(P.RunRename)
def rename(training: TrainingService, call: P.RunRename) -> P.RunResult:
    return P.RunResult(run=training.rename(call.run_id, call.name))


@calls.on(P.RunDelete)
def delete(training: TrainingService, call: P.RunDelete) -> P.Ok:
    return P.Ok(message=training.delete(call.run_id))


@calls.on(P.RunPredict)
def predict(training: TrainingService, call: P.RunPredict) -> P.RunPredictResult:
    return training.predictions.predict(call)


@calls.job(P.RunPredictBatch, kind="predict", title=lambda c: f"predict with {c.run_id}")
def predict_batch(training: TrainingService, call: P.RunPredictBatch) -> JobWork:
    training.predictions.check_batch(call)
    return lambda job: training.predictions.predict_batch(call, job)


@calls.job(P.RunDisagree, kind="predict", title=lambda c: f"compare {c.run_a} with {c.run_b}")
def disagree(training: TrainingService, call: P.RunDisagree) -> JobWork:
    training.predictions.check_disagree(call)
    return lambda job: training.predictions.disagree(call, job)


@calls.on(P.RunExamples)
def examples(training: TrainingService, call: P.RunExamples) -> P.RunExamplesResult:
    return training.examples(call)
