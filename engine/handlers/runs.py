"""Training run calls: start, list, show (whole history), control, resume, export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import protocol as P
from engine.data.errors import DataError

if TYPE_CHECKING:
    from engine.server import Engine, EngineHandler


async def _run_start(engine: Engine, call: P.RunStart) -> P.Result:
    run = await engine.in_pool(engine.runs.start, call.config_toml, call.name)
    return P.RunResult(run=run)


async def _run_list(engine: Engine, _: P.RunList) -> P.Result:
    return P.RunListResult(runs=await engine.in_pool(engine.runs.list))


async def _run_show(engine: Engine, call: P.RunShow) -> P.Result:
    return await engine.in_pool(engine.runs.history, call.run_id, call.max_points)


async def _run_control(engine: Engine, call: P.RunControl) -> P.Result:
    info = engine.runs.info(call.run_id)
    control = engine.runs.controls.get(call.run_id)
    if control is None:
        raise DataError(
            f"run {call.run_id} is {info.state}, not training",
            hint="an interrupted or stopped run continues with: workbench runs resume ID",
        )
    if call.action == "pause":
        control.pause()
        info = engine.runs._set(call.run_id, state="paused")
    elif call.action == "resume":
        control.resume()
        info = engine.runs._set(call.run_id, state="running")
    elif call.action == "stop":
        control.stop()
        info = engine.runs._set(call.run_id, message="stopping after this batch")
    elif call.action == "checkpoint":
        control.checkpoint_now()
        info = engine.runs._set(call.run_id, message="checkpoint after this batch")
    else:
        if call.lr is None or not call.lr > 0:
            raise DataError(f"a learning rate must be above 0, not {call.lr}")
        control.set_lr(call.lr)
        info = engine.runs._set(call.run_id, message=f"learning rate set to {call.lr:g}")
    return P.RunResult(run=info)


async def _run_resume(engine: Engine, call: P.RunResume) -> P.Result:
    return P.RunResult(run=await engine.in_pool(engine.runs.resume, call.run_id))


async def _run_export(engine: Engine, call: P.RunExport) -> P.Result:
    message = await engine.in_pool(engine.runs.export, call.run_id, call.path)
    return P.Ok(message=message)


async def _run_schema(engine: Engine, _: P.RunSchema) -> P.Result:
    from engine.plan import schema

    return await engine.in_pool(schema)


async def _run_plan(engine: Engine, call: P.RunPlan) -> P.Result:
    return await engine.in_pool(engine.planner.plan, call.config_toml)


def handlers() -> dict[type, EngineHandler]:
    return {
        P.RunStart: _run_start,
        P.RunList: _run_list,
        P.RunShow: _run_show,
        P.RunControl: _run_control,
        P.RunResume: _run_resume,
        P.RunExport: _run_export,
        P.RunSchema: _run_schema,
        P.RunPlan: _run_plan,
    }
