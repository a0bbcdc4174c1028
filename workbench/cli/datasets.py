"""`workbench datasets ...`: list, show, rows, import, split, stats, report, rename, delete."""

from __future__ import annotations

import argparse
from typing import Any

from engine import protocol as P
from engine.paths import absolute_source
from workbench.cli.common import (
    Action,
    delete_item,
    dist,
    emit_json,
    err,
    list_items,
    out,
    run,
    run_job,
    source_or_hint,
    table,
    with_json,
)
from workbench.cli.upload import engine_path
from workbench.engine.client import EngineClient


def cmd_datasets(args: argparse.Namespace) -> int:
    return run(args, DATASET_ACTIONS[args.action](args))


def _ds_list(args: argparse.Namespace) -> Action:
    def row(d: P.DatasetInfo) -> list[Any]:
        if not d.available:
            return [d.name, "-", "-", "-", source_or_hint(d)]
        if d.rows == 0:
            return [d.name, "-", "-", "-", "built-in, opens on first use"]
        return [d.name, f"{d.rows:,}", d.classes, dist(d.splits), d.source]

    return lambda client: list_items(
        client,
        P.DatasetList(),
        lambda res: res.datasets,
        args.json,
        "datasets",
        ["name", "rows", "classes", "splits", "source"],
        row,
    )


def _ds_show(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.DatasetOpen(name=args.name))
        d = res.dataset
        if args.json:
            emit_json(d)
            return 0
        out.print(f"[bold]{d.name}[/]  {d.rows:,} rows, {d.classes} classes  ({d.source})")
        if d.description:
            out.print(d.description)
        out.print(
            f"text column: {d.text_column}   label column: {d.label_column or '-'}"
            + (f"   target column: {d.target_column}" if d.target_column else "")
        )
        out.print(f"splits: {dist(d.splits)}")
        if d.empty_texts:
            out.print(empty_texts_warning(d))
        if d.empty_targets:
            out.print(empty_targets_warning(d))
        if d.used_by:
            out.print(f"used by runs: {', '.join(d.used_by)}")
        rows = [[k, f"{v:,}", f"{100 * v / max(d.rows, 1):.1f}%"] for k, v in d.labels.items()]
        out.print(table("labels", ["label", "rows", "share"], rows))
        return 0

    return go


def _ds_rows(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        call = P.DatasetRows(
            name=args.name,
            offset=args.offset,
            limit=args.limit,
            search=args.search or "",
            regex=args.regex,
            label=args.label,
            split=args.split,
            max_chars=0 if args.json else 200,
        )
        page = await client.ask(call)
        if args.json:
            emit_json(page)
            return 0
        rows = [[r.index, r.label or "", r.split, r.text] for r in page.rows]
        end = page.offset + len(page.rows)
        title = f"{args.name}: rows {page.offset}-{end} of {page.total:,} matching"
        out.print(table(title, ["#", "label", "split", "text"], rows))
        return 0

    return go


def _ds_import(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        text_col, label_col = args.text_column, args.label_column
        no_label = args.no_label or (args.target is not None and label_col is None)  # pairs
        source = await engine_path(client, args.source, absolute_source, quiet=args.json)
        if text_col is None or (label_col is None and not no_label):
            pv = await client.ask(P.DatasetPreview(source=source, format=args.format))
            text_col = text_col or pv.preview.text_column
            if label_col is None and not no_label:
                label_col = pv.preview.label_column or None
            if not args.json:
                err.print(
                    f"columns: {', '.join(pv.preview.columns)}; using text={text_col!r}, "
                    f"label={label_col!r} (change with --text-column / --label-column)"
                )
        call = P.DatasetImport(
            source=source,
            name=args.name,
            text_column=text_col,
            label_column=None if no_label else label_col,
            format=args.format,
            split_column=args.split_column,
            target_column=args.target,
        )
        result = await run_job(client, call, show=not args.json, title=f"importing {args.name}")
        d = result.dataset
        if args.json:
            emit_json(d)
        else:
            out.print(f"imported [bold]{args.name}[/]: {d.rows:,} rows, {d.classes} classes")
            if d.empty_texts:
                err.print(empty_texts_warning(d))
            if d.empty_targets:
                err.print(empty_targets_warning(d))
        return 0

    return go


def _ds_generate(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        call = P.DatasetGenerate(
            task=args.task,
            name=args.name or "",
            size=args.size,
            seed=args.seed,
            validation=args.validation,
            test=args.test,
        )
        name = args.name or args.task
        result = await run_job(client, call, show=not args.json, title=f"generating {name}")
        d = result.dataset
        if args.json:
            emit_json(d)
        else:
            splits = ", ".join(f"{k} {v:,}" for k, v in d.splits.items())
            out.print(f"generated [bold]{d.name}[/]: {d.rows:,} pairs ({splits})")
        return 0

    return go


def _ds_split(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        call = P.DatasetSplit(
            name=args.name,
            train=args.train,
            validation=args.validation,
            test=args.test,
            seed=args.seed,
            stratify=not args.no_stratify,
            group_column=args.group_column,
            into=args.into,
        )
        res = await client.ask(call)
        if args.json:
            emit_json(res)
            return 0
        how = ("stratified" if res.stratified else "not stratified") + (
            f", grouped by {res.group_column}" if res.group_column else ""
        )
        rows = [[s.split, f"{s.rows:,}", dist(s.labels)] for s in res.splits]
        out.print(
            table(f"{res.name} split (seed {res.seed}, {how})", ["split", "rows", "labels"], rows)
        )
        if res.parent:
            out.print(f"new dataset [bold]{res.name}[/]; {res.parent} keeps its own split")
        elif res.replaced:
            out.print(f"replaced the split it had: {dist(res.replaced)}")
        if res.note:
            out.print(res.note)
        return 0

    return go


def _ds_stats(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.DatasetStats(name=args.name, split=args.split))
        if args.json:
            emit_json(res)
            return 0
        w, c = res.words, res.characters
        out.print(f"[bold]{res.name}[/] {res.rows:,} rows  labels: {dist(res.labels)}")
        out.print(f"words: mean {w.mean:.1f}, median {w.median:.0f}, max {w.max:.0f}")
        out.print(f"characters: mean {c.mean:.1f}, median {c.median:.0f}, max {c.max:.0f}")
        return 0

    return go


def _ds_report(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.DatasetReport(name=args.name))
        if args.json:
            emit_json(res)
            return 0
        out.print(
            f"[bold]{res.name}[/]: {res.duplicate_rows:,} of {res.rows:,} rows repeat an "
            f"earlier text; {res.cross_split_texts:,} texts appear in more than one split"
        )
        if res.empty_texts:
            out.print(empty_texts_warning(res))
        dup = [[g.count, ", ".join(g.splits), g.text[:100]] for g in res.duplicate_groups]
        if dup:
            out.print(table("duplicate texts", ["count", "splits", "text"], dup))
        cross = [[g.count, ", ".join(g.splits), g.text[:100]] for g in res.cross_split_groups]
        if cross:
            out.print(table("texts in two splits", ["count", "splits", "text"], cross))
        return 0

    return go


def _ds_delete(args: argparse.Namespace) -> Action:
    return lambda client: delete_item(client, P.DatasetDelete(name=args.name), args.name, args.json)


def _ds_rename(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.DatasetRename(name=args.old, new_name=args.new))
        if args.json:
            emit_json(res.dataset)
        else:
            out.print(f"renamed dataset '{args.old}' to '{res.dataset.name}'")
        return 0

    return go


def empty_texts_warning(d: P.DatasetInfo | P.ReportResult) -> str:
    """What the CLI says about rows with no text, and how to list them."""
    n = d.empty_texts
    return (
        f"warning: {n:,} {'row has' if n == 1 else 'rows have'} empty text (list them: "
        f"workbench datasets rows {d.name} --regex --search '^\\s*$')"
    )


def empty_targets_warning(d: P.DatasetInfo) -> str:
    """What the CLI says about pair rows with no target: a seq2seq model learns to say nothing
    from them."""
    n = d.empty_targets
    return (
        f"warning: {n:,} {'row has' if n == 1 else 'rows have'} an empty target "
        f"(column {d.target_column!r}); a sequence-to-sequence model learns to output nothing "
        "from them"
    )


DATASET_ACTIONS = {
    "list": _ds_list,
    "show": _ds_show,
    "rows": _ds_rows,
    "import": _ds_import,
    "generate": _ds_generate,
    "split": _ds_split,
    "stats": _ds_stats,
    "report": _ds_report,
    "delete": _ds_delete,
    "rename": _ds_rename,
}


def add_parser(sub: Any) -> None:
    ds = sub.add_parser("datasets", help="list, show, import, split and page datasets")
    dsub = ds.add_subparsers(dest="action", required=True)
    with_json(dsub.add_parser("list", help="datasets with row and class counts"))
    for action, text in [
        ("show", "a dataset's labels and splits"),
        ("report", "duplicate texts and texts in two splits"),
        ("delete", "delete an imported dataset"),
    ]:
        with_json(dsub.add_parser(action, help=text)).add_argument("name")
    rn = with_json(dsub.add_parser("rename", help="rename an imported dataset"))
    rn.add_argument("old")
    rn.add_argument("new")
    st = with_json(dsub.add_parser("stats", help="label counts and text lengths"))
    st.add_argument("name")
    st.add_argument("--split")
    rows = with_json(dsub.add_parser("rows", help="a page of rows, optionally filtered"))
    rows.add_argument("name")
    rows.add_argument("--offset", type=int, default=0)
    rows.add_argument("--limit", type=int, default=20)
    rows.add_argument("--search", help="substring (or regex with --regex) to match")
    rows.add_argument("--regex", action="store_true")
    rows.add_argument("--label")
    rows.add_argument("--split")
    imp = with_json(
        dsub.add_parser(
            "import", help="import CSV, TSV, JSONL, Parquet, a saved HF dataset or a hub name"
        )
    )
    imp.add_argument("source", help="a file, a folder saved with save_to_disk, or a hub name")
    imp.add_argument("--name", required=True)
    imp.add_argument("--text-column")
    imp.add_argument("--label-column")
    imp.add_argument("--no-label", action="store_true", help="import texts only")
    imp.add_argument("--format", choices=["csv", "tsv", "jsonl", "parquet", "hf-disk", "hub"])
    imp.add_argument("--split-column", help="a column holding train/validation/test")
    imp.add_argument(
        "--target", metavar="COLUMN", help="a pair dataset's target column (sequence to sequence)"
    )
    gen = with_json(
        dsub.add_parser("generate", help="a generated pair task, no download: dates, number-words")
    )
    gen.add_argument("task", choices=["dates", "number-words"])
    gen.add_argument("--name", help="the dataset's name (default: the task's)")
    gen.add_argument("--size", type=int, default=10_000, help="pairs to make (10,000)")
    gen.add_argument("--seed", type=int, default=0, help="the same seed makes the same pairs")
    gen.add_argument("--validation", type=float, default=0.1, help="validation share (0.1)")
    gen.add_argument("--test", type=float, default=0.1, help="test share (0.1)")
    sp = with_json(
        dsub.add_parser("split", help="train/validation/test split, stratified and seeded")
    )
    sp.add_argument("name")
    sp.add_argument("--train", type=float, default=0.8)
    sp.add_argument("--validation", type=float, default=0.1)
    sp.add_argument("--test", type=float, default=0.1)
    sp.add_argument("--seed", type=int, default=13)
    sp.add_argument("--no-stratify", action="store_true")
    sp.add_argument("--group-column", help="keep each value of this column in one split")
    sp.add_argument(
        "--into",
        metavar="NAME",
        help="save the split as a new dataset NAME and leave this one as it is "
        "(a built-in's own split is never replaced)",
    )
    ds.set_defaults(handler=cmd_datasets)
