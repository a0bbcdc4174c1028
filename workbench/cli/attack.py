"""`workbench attack`: attack a trained classifier with a recipe, on texts or on N examples of a
split, and print TextAttack's summary table and the examples (or all of it as JSON, with the
same fields as the CSV export); `workbench attack recipes` lists the recipes and settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from engine import protocol as P
from workbench import attack_report
from workbench.cli.common import emit_json, err, fail, out, run, run_job, table, with_json
from workbench.engine.client import EngineClient

SHOWN = 8  # examples printed after the table


def _value(text: str) -> P.SettingValue:
    """A --set value as the type it reads as: true/false, an int, a float, else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)  # type: ignore[no-any-return]
        except ValueError:
            pass
    return text


def settings_of(pairs: list[str]) -> dict[str, P.SettingValue]:
    """NAME=VALUE pairs as settings; ValueError for one without '='."""
    out_: dict[str, P.SettingValue] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(pair)
        out_[name.strip()] = _value(value)
    return out_


def marked(text: str, changes: list[P.TextChange], new: bool) -> str:
    """text as rich markup with the changed spans marked: [old] struck and red in the
    original, {new} bold and green in the perturbed text (brackets, so not by colour alone)."""
    pieces, at = [], 0
    for c in changes:
        start, end = (c.new_start, c.new_end) if new else (c.start, c.end)
        if end <= start:
            continue
        pieces.append(escape(text[at:start]))
        word = escape(text[start:end])
        pieces.append(f"[bold green]{{{word}}}[/]" if new else f"[strike red]\\[{word}][/]")
        at = end
    pieces.append(escape(text[at:]))
    return "".join(pieces)


def _show(res: P.AttackResult) -> None:
    where = f" on {res.dataset}'s {res.split} split" if res.dataset else ""
    goal = f", targeted at {res.target}" if res.target else ""
    out.print(f"{res.recipe} against {res.description}{where}{goal}", highlight=False)
    rows = [[name, value] for name, value in attack_report.summary_rows(res.summary)]
    out.print(table("attack results", ["", ""], rows))
    won = [e for e in res.examples if e.result_type == "Successful"]
    for e in won[:SHOWN]:
        before = e.original_probabilities[res.labels.index(e.original_output)]
        after = e.perturbed_probabilities[res.labels.index(e.perturbed_output)]
        out.print(
            f"[dim]row {e.row}[/] {escape(e.original_output)} {before:.2f} -> "
            f"{escape(e.perturbed_output)} {after:.2f} · {e.num_queries} queries",
            highlight=False,
        )
        out.print("  " + marked(e.original_text[:400], e.changes, new=False), highlight=False)
        out.print("  " + marked(e.perturbed_text[:400], e.changes, new=True), highlight=False)
    if len(won) > SHOWN:
        out.print(f"[dim]… {len(won) - SHOWN} more successful; --csv FILE writes them all[/]")


def _side_by_side(a: P.AttackResult, b: P.AttackResult) -> None:
    out.print(f"{a.recipe}: A is {a.description}; B is {b.description}", highlight=False)
    rows = [list(r) for r in attack_report.side_by_side(a.summary, b.summary)]
    out.print(table("attack results, side by side", ["", "A", "B"], rows))


def _call(args: argparse.Namespace, run_id: str, settings: dict[str, P.SettingValue]) -> Any:
    return P.AttackRun(
        run_id=run_id,
        recipe=args.recipe,
        texts=list(args.texts),
        labels=[args.label] * len(args.texts) if args.label and args.texts else [],
        dataset=args.dataset or "",
        split=args.split,
        n=args.n,
        seed=args.seed,
        target=args.target or "",
        budget=args.budget,
        settings=settings,
        trace=args.trace,
        ensemble=[_model_name(r) for r in args.ensemble or []],
    )


def _model_name(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.absolute()) if "/" in name or path.is_dir() else name


def _recipes(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.AttackRecipes())
        if args.json:
            emit_json(res)
            return 0
        for r in res.recipes:
            out.print(f"[bold]{r.name}[/] · {r.kind} · {escape(r.title)}", highlight=False)
            out.print(f"  {escape(r.description)}", highlight=False)
            rows = [[s.name, s.type, str(s.default), _bounds(s), s.help] for s in r.settings]
            out.print(table("", ["setting", "type", "default", "range", "what"], rows))
        return 0

    return run(args, go)


def _bounds(s: P.RecipeSetting) -> str:
    if s.choices:
        return "|".join(s.choices)
    if s.low is not None or s.high is not None:
        return f"{s.low:g}..{s.high:g}" if s.low is not None and s.high is not None else ""
    return ""


def cmd_attack(args: argparse.Namespace) -> int:
    if args.texts == ["recipes"] and not args.run:
        return _recipes(args)
    if not args.run or not args.recipe:
        return fail(
            args,
            "usage",
            "give the model (--run) and the recipe (--recipe)",
            "workbench attack --run RUN --recipe charedit --n 100; workbench attack recipes",
        )
    try:
        settings = settings_of(args.set or [])
    except ValueError as exc:
        return fail(args, "usage", f"--set takes NAME=VALUE, got '{exc}'", "e.g. --set epsilon=0.5")
    run_id = _model_name(args.run)
    csv_path = Path(args.csv).expanduser().absolute() if args.csv else None
    if csv_path is not None and (csv_path.exists() or not csv_path.parent.is_dir()):
        why = "is there already" if csv_path.exists() else "is in a folder that is not there"
        return fail(args, "bad_input", f"the CSV file {csv_path} {why}", "name a new file")

    async def go(client: EngineClient) -> int:
        title = f"{args.recipe} against {args.run}"
        res = await run_job(client, _call(args, run_id, settings), not args.json, title)
        other = None
        if args.against:
            call = _call(args, _model_name(args.against), settings)
            other = await run_job(client, call, not args.json, f"{args.recipe} against B")
        if csv_path is not None:
            attack_report.write_csv(res, csv_path)
            if other is not None:
                b_path = csv_path.with_name(csv_path.stem + "-b" + csv_path.suffix)
                attack_report.write_csv(other, b_path)
            err.print(f"wrote {len(res.examples)} examples to {csv_path}", highlight=False)
        if args.json:
            emit_json(res if other is None else {"a": res, "b": other})
        elif other is not None:
            _side_by_side(res, other)
        else:
            _show(res)
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    pa = with_json(
        sub.add_parser(
            "attack",
            help="attack a classifier (fgsm, pgd, cw, hotflip, wordsub, charedit); "
            "`attack recipes` lists them",
        )
    )
    pa.add_argument(
        "texts", nargs="*", metavar="TEXT", help="texts to attack (default: --n of a split)"
    )
    pa.add_argument("--run", help="the run's id, or a model folder")
    pa.add_argument("--recipe", help="the attack: workbench attack recipes lists them")
    pa.add_argument("--n", type=int, default=100, help="examples of the split (default 100)")
    pa.add_argument("--dataset", help="the dataset (default: the run's own)")
    pa.add_argument("--split", default="test", help="the split (default: test)")
    pa.add_argument("--seed", type=int, default=0, help="which examples are drawn (default 0)")
    pa.add_argument("--label", help="the texts' true class (default: what the model predicts)")
    pa.add_argument("--target", help="a class to reach (default: any but the true one)")
    pa.add_argument("--budget", type=int, help="model queries per example (default: the recipe's)")
    pa.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="a recipe setting (repeatable)"
    )
    pa.add_argument("--trace", action="store_true", help="keep each step (embedding attacks)")
    pa.add_argument("--ensemble", nargs="+", metavar="RUN", help="more runs that vote with --run")
    pa.add_argument(
        "--against", metavar="RUN_B", help="the same attack on another run, side by side"
    )
    pa.add_argument("--csv", help="write every example in TextAttack's log columns to this file")
    pa.set_defaults(handler=cmd_attack)
