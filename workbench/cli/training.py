"""`workbench train CONFIG.toml [--follow]` and `workbench runs list|show|stop|pause|continue|
checkpoint|resume|rename|delete|examples|export`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec
from rich.live import Live
from rich.table import Table

from engine import protocol as P
from engine.paths import absolute_path
from workbench.cli.common import Watch, complete, emit_json, err, fail, out, run, table, with_json
from workbench.cli.download import export_here
from workbench.cli.upload import engine_is_remote
from workbench.engine.client import EngineClient, EngineError
from workbench.files import FileProblem, read_text_file

FINAL = ("finished", "failed", "stopped", "interrupted")
METRIC_LINE = "training.metric"  # the type of a metric point's JSON line
MAX_CONFIG = 1024 * 1024


RUN_COLUMNS = ["id", "name", "state", "step", "best val", "test", "trained", "arch", "dataset"]
# dropped from the right when narrow: the name usually says them, `runs show` and --json do
OPTIONAL = ("trained", "arch", "dataset")
SHORT_METRIC = {
    "accuracy": "acc",
    "macro_f1": "F1",
    "perplexity": "ppl",
    "loss": "loss",
    "token_accuracy": "tok",
    "exact_match": "EM",
    "bleu": "BLEU",
}


def duration(seconds: float) -> str:
    """12 s, 4 m 05 s, 2 h 03 m."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} m"


def _run_row(r: P.RunInfo) -> list[Any]:
    metric = SHORT_METRIC.get(r.metric, r.metric)
    best = f"{metric} {r.best:.4f}" if r.best is not None else "-"
    test = f"{metric} {r.test[r.metric]:.4f}" if r.metric in r.test else "-"
    return [
        r.run_id,
        r.name,
        r.state,
        f"{r.step:,}/{r.total_steps:,}",
        best,
        test,
        duration(r.active) if r.active else "-",
        r.arch,
        r.dataset,
    ]


async def follow(client: EngineClient, run_id: str, as_json: bool) -> P.RunInfo:
    """Print a run's progress until it ends: a live table, or JSON lines (each with a "type":
    training.metric, training.update, training.eval) of what happens to it."""
    done: asyncio.Future[P.RunInfo] = asyncio.get_running_loop().create_future()
    latest: dict[str, float] = {}
    state: dict[str, P.RunInfo] = {}
    printed: dict[str, bytes] = {}  # the last update line: an identical one is not repeated

    def line(value: Any) -> None:
        sys.stdout.write(msgspec.json.encode(complete(value)).decode() + "\n")

    def on_events(events: list[P.Event], _: int) -> None:
        for ev in events:
            if isinstance(ev, P.RunMetrics):
                for p in ev.points:
                    if p.run_id == run_id:
                        latest[p.series] = p.value
                        if as_json:
                            line({"type": METRIC_LINE, **msgspec.to_builtins(p)})
            elif isinstance(ev, P.RunEval) and ev.run_id == run_id:
                if as_json:
                    line(ev)
            elif isinstance(ev, P.RunUpdate) and ev.run.run_id == run_id:
                state["run"] = ev.run
                encoded = msgspec.json.encode(ev)
                if as_json and printed.get("update") != encoded:
                    printed["update"] = encoded
                    line(ev)
                if ev.run.state in FINAL and not done.done():
                    done.set_result(ev.run)
        if as_json:
            sys.stdout.flush()

    unsubscribe = client.subscribe(on_events)
    watch = Watch(client, f"run {run_id}", f"workbench runs show {run_id} --follow")
    try:
        return await _until_done(client, run_id, as_json, done, state, latest, watch)
    finally:
        watch.close()
        unsubscribe()


async def _until_done(
    client: EngineClient,
    run_id: str,
    as_json: bool,
    done: asyncio.Future[P.RunInfo],
    state: dict[str, P.RunInfo],
    latest: dict[str, float],
    watch: Watch,
) -> P.RunInfo:
    first = await client.ask(P.RunShow(run_id=run_id, max_points=1))
    state["run"] = first.run
    if first.run.state in FINAL:
        return first.run
    if as_json:
        await watch.wait(done)
        return done.result()

    def render() -> Table:
        r = state["run"]
        t = Table(title=f"{r.name} ({r.run_id}) {r.state}", title_justify="left", box=None)
        t.add_column("")
        t.add_column("")
        t.add_row("step", f"{r.step:,}/{r.total_steps:,}  epoch {r.epoch:.2f}")
        for key in (
            "train_loss",
            "val_loss",
            "val_accuracy",
            "val_macro_f1",
            "val_exact_match",
            "val_bleu",
            "lr",
            "tokens_per_s",
        ):
            if key in latest:
                t.add_row(key, f"{latest[key]:.4g}")
        if r.message:
            t.add_row("note", r.message)
        return t

    with Live(render(), console=err, refresh_per_second=4, transient=False) as live:
        while not done.done():
            await watch.wait(done, timeout=0.25)
            live.update(render())
    if not err.is_terminal:
        err.line()  # piped, the last frame ends without one: what follows would join it
    return done.result()


def cmd_train(args: argparse.Namespace) -> int:
    try:  # read before the engine is involved
        text = read_text_file(args.config, MAX_CONFIG, "run configuration (TOML)")
    except FileProblem as exc:
        code = "too_large" if "over" in str(exc) else "bad_input"
        if "cannot read" in str(exc):
            code = "not_found"
        return fail(args, code, str(exc), "see examples/ for run configurations")

    async def go(client: EngineClient) -> int:
        res = await client.ask(P.RunStart(config_toml=text, name=args.name))
        if not args.follow:
            emit_json(res.run) if args.json else out.print(
                f"started run [bold]{res.run.run_id}[/] ({res.run.name}); follow it with "
                f"`workbench runs show {res.run.run_id}` or in the app (5)"
            )
            return 0
        end = await follow(client, res.run.run_id, args.json)
        if not args.json:
            out.print(
                table(
                    "run",
                    RUN_COLUMNS,
                    [_run_row(end)],
                    OPTIONAL,
                )
            )
        return 0 if end.state == "finished" else 1

    return run(args, go)


def cmd_runs(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        if args.action == "list":
            res = await client.ask(P.RunList())
            if args.json:
                emit_json(res.runs)
            else:
                out.print(table("runs", RUN_COLUMNS, [_run_row(r) for r in res.runs], OPTIONAL))
            return 0
        if args.action == "show":
            hist = await client.ask(P.RunShow(run_id=args.run_id))
            if args.json:
                emit_json(hist)
                return 0
            r = hist.run
            out.print(table("run", RUN_COLUMNS, [_run_row(r)], OPTIONAL))
            if r.summary:
                out.print(f"settings: {r.summary}")
            if r.started:
                wall = (r.ended or r.resumed) - r.started
                out.print(f"trained {duration(r.active)} of {duration(max(wall, 0))} wall time")
            for name, pts in sorted(hist.series.items()):
                if pts and name != "epoch":
                    out.print(
                        f"{name}: {len(pts)} points, last {pts[-1][1]:.4g} at step {pts[-1][0]:,}"
                    )
            validation = [e for e in hist.evals if e.split != "test"]
            if validation:
                last = validation[-1]
                out.print(
                    f"last evaluation (step {last.step:,}): "
                    + ", ".join(f"{k} {v:.4f}" for k, v in last.metrics.items())
                )
            if r.test:
                out.print(
                    f"test (best checkpoint, step {r.test_step:,}): "
                    + ", ".join(f"{k} {v:.4f}" for k, v in r.test.items())
                )
            if args.follow:
                await follow(client, args.run_id, False)
            return 0
        if args.action == "examples":
            cell = await client.ask(
                P.RunExamples(
                    run_id=args.run_id,
                    split=args.split,
                    label=args.label,
                    predicted=args.predicted,
                    limit=args.limit,
                )
            )
            if args.json:
                emit_json(cell)
                return 0
            rows = [
                [e.index, e.label, e.predicted, f"{e.probability:.3f}", e.text.replace("\n", " ")]
                for e in cell.examples
            ]
            title = f"{cell.total:,} examples of {cell.split} (checkpoint at step {cell.step:,})"
            out.print(table(title, ["row", "label", "predicted", "p", "text"], rows))
            return 0
        if args.action == "rename":
            renamed = await client.ask(P.RunRename(run_id=args.run_id, name=args.name))
            res = P.Ok(message=f"run {renamed.run.run_id} is now '{renamed.run.name}'")
        elif args.action == "delete":
            res = await client.ask(P.RunDelete(run_id=args.run_id))
        elif args.action == "export":
            if engine_is_remote(client):  # exported there, then fetched here
                res = P.Ok(message=await export_here(client, args.run_id, args.path, args.json))
            else:
                res = await client.ask(
                    P.RunExport(run_id=args.run_id, path=absolute_path(args.path))
                )
        elif args.action == "resume":
            started = await client.ask(
                P.RunResume(run_id=args.run_id, devices=getattr(args, "devices", None))
            )
            if args.follow:
                end = await follow(client, args.run_id, args.json)
                if end.state != "finished":
                    raise EngineError(
                        "run_" + end.state, f"run {end.run_id} {end.state}: {end.message}"
                    )
            res = P.Ok(message=f"resuming {started.run.name} from its last checkpoint")
        else:
            action = {
                "stop": "stop",
                "pause": "pause",
                "continue": "resume",
                "checkpoint": "checkpoint",
            }[args.action]
            ran = await client.ask(P.RunControl(run_id=args.run_id, action=action))
            res = P.Ok(message=f"{args.action}: run {ran.run.run_id} is {ran.run.state}")
        emit_json({"ok": res.message}) if args.json else out.print(res.message)
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    tr = with_json(sub.add_parser("train", help="start a training run from a TOML config"))
    tr.add_argument("config", help="a TOML file (see examples/)")
    tr.add_argument("--name", help="a name for the run (default: from the file)")
    tr.add_argument("--follow", action="store_true", help="print progress until the run ends")
    tr.set_defaults(handler=cmd_train)
    rs = sub.add_parser(
        "runs", help="list, show, control, resume, rename, delete or export training runs"
    )
    rsub = rs.add_subparsers(dest="action", required=True)
    with_json(rsub.add_parser("list"))
    for action in ("show", "stop", "pause", "continue", "checkpoint", "resume"):
        p = with_json(rsub.add_parser(action))
        p.add_argument("run_id")
        if action in ("show", "resume"):
            p.add_argument("--follow", action="store_true")
        if action == "resume":
            p.add_argument(
                "--devices", type=int, help="train on this many devices from here (0: every GPU)"
            )
    rn = with_json(rsub.add_parser("rename", help="give a run a new name"))
    rn.add_argument("run_id")
    rn.add_argument("name")
    dl = with_json(rsub.add_parser("delete", help="delete a run, its checkpoints and history"))
    dl.add_argument("run_id")
    eg = with_json(
        rsub.add_parser("examples", help="a split's examples by true and predicted label")
    )
    eg.add_argument("run_id")
    eg.add_argument("--split", default="validation")
    eg.add_argument("--label", help="the true label (default: any)")
    eg.add_argument("--predicted", help="the predicted label (default: any)")
    eg.add_argument("--limit", type=int, default=20)
    ex = with_json(rsub.add_parser("export", help="a Hugging Face folder, usable with pipeline()"))
    ex.add_argument("run_id")
    ex.add_argument(
        "path",
        help="a new or empty folder; on this machine (an engine elsewhere writes it there, and "
        "it is fetched here)",
    )
    rs.set_defaults(handler=cmd_runs)
