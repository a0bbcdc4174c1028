"""`workbench predict --run RUN TEXT...`: classify texts with a trained run, as the engine's
model sees them (its best checkpoint, or a training run's latest complete one); with --file or
--dataset and --out, every text of a file or split as a job, into a CSV or JSONL file, scored
when the texts have labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.text import Text

from engine import protocol as P
from engine.paths import absolute_source
from workbench.attribution import completeness_line, explanation_text, top_tokens
from workbench.cli.common import emit_json, fail, out, run, run_job, table, with_json
from workbench.engine.client import EngineClient

BAR = 20  # cells of a probability bar


def probability_bar(p: float, width: int = BAR) -> str:
    """A bar of width cells filled in eighths: p = 0.5 fills half."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width, "·")


def cut_note(pred: P.Prediction, max_length: int) -> str:
    """How much of a text the model did not read, in tokens ('' when it read it all)."""
    if not pred.truncated:
        return ""
    read = len(pred.tokens)
    return (
        f"cut to {read:,} of its {pred.token_count:,} tokens (max_length {max_length:,}): "
        f"the last {pred.token_count - read:,} were not read"
    )


def _show(res: P.RunPredictResult, texts: list[str], by_word: bool = False) -> None:
    if res.checkpoint == "folder":
        out.print(f"the folder {res.run_id}")
    else:
        where = "latest complete checkpoint" if res.checkpoint == "latest" else "best checkpoint"
        out.print(f"run {res.run_id}, {where} (step {res.step:,})")
    for n, (text, pred) in enumerate(zip(texts, res.predictions, strict=True), start=1):
        sure = max(pred.probabilities)
        head = Text(f"{n}. ", style="bold")
        head.append(pred.label, style="bold green")
        head.append(f" {sure:.3f}  ")
        head.append(" ".join(text.split())[:200], style="dim")
        out.print(head)
        order = sorted(range(len(res.labels)), key=lambda i: -pred.probabilities[i])
        rows = [
            [res.labels[i], f"{pred.probabilities[i]:.4f}", probability_bar(pred.probabilities[i])]
            for i in order
        ]
        out.print(table("", ["label", "p", "probability"], rows))
        shown = " ".join(pred.tokens[:60]) + (" …" if len(pred.tokens) > 60 else "")
        out.print(Text(f"tokens read ({len(pred.tokens):,}): {shown}", style="dim"))
        note = cut_note(pred, res.max_length)
        if note:
            out.print(Text(note, style="yellow"))
        if pred.explanation is not None:
            _show_explanation(text, pred, by_word)


def _show_explanation(text: str, pred: P.Prediction, by_word: bool) -> None:
    ex = pred.explanation
    assert ex is not None
    out.print(Text(f"{ex.method} for {ex.target} (green for it, red against):", style="bold"))
    out.print(explanation_text(text, pred, by_word))
    rows = [[token, f"{score:+.4f}"] for token, score in top_tokens(pred)]
    if rows:
        out.print(table("", ["token", "score"], rows))
    line = completeness_line(ex)
    if line:
        out.print(Text(line, style="dim"))
    if ex.note:
        out.print(Text(ex.note, style="yellow"))


def _show_batch(res: P.BatchPredictResult) -> None:
    out.print(f"{res.rows:,} texts predicted by run {res.run_id} (step {res.step:,}): {res.out}")
    if not res.metrics:
        if res.unknown_labels:
            out.print(f"not scored: the {res.unknown_labels:,} labels are not the run's")
        return
    out.print(
        f"accuracy {res.metrics['accuracy']:.4f} · macro-F1 {res.metrics['macro_f1']:.4f} "
        f"on {res.scored:,} labelled texts"
        + (
            f" ({res.unknown_labels:,} with labels the run does not know)"
            if res.unknown_labels
            else ""
        )
    )
    rows = [
        [label, *(f"{n:,}" for n in row)]
        for label, row in zip(res.labels, res.confusion, strict=True)
    ]
    out.print(table("confusion (rows true, columns predicted)", ["true", *res.labels], rows))
    if res.mistakes:
        shown = [
            [f"{m.index:,}", m.label, m.predicted, f"{m.probability:.3f}", " ".join(m.text.split())]
            for m in res.mistakes[:10]
        ]
        out.print(table("the surest mistakes", ["row", "label", "predicted", "p", "text"], shown))


def _batch(args: argparse.Namespace) -> int:
    if args.texts:
        return fail(args, "usage", "give texts, or --file/--dataset with --out, not both")
    if not args.out:
        return fail(args, "usage", "--file and --dataset need --out FILE (.csv or .jsonl)")
    call = P.RunPredictBatch(
        run_id=args.run,
        out=str(Path(args.out).expanduser().absolute()),
        source=absolute_source(args.file) if args.file else "",
        dataset=args.dataset or "",
        split=args.split,
        text_column=args.text_column,
        label_column=args.label_column,
        format=args.format,
    )

    async def go(client: EngineClient) -> int:
        res = await run_job(client, call, show=not args.json, title=f"predict with {args.run}")
        emit_json(res) if args.json else _show_batch(res)
        return 0

    return run(args, go)


def _show_disagreements(res: P.DisagreeResult) -> None:
    out.print(
        f"runs {res.run_a} (A) and {res.run_b} (B) on {res.dataset}'s {res.split} split: "
        f"agree on {res.agreed:,} of {res.rows:,} texts ({res.agreed / max(res.rows, 1):.1%})"
    )
    if res.a_accuracy is not None and res.b_accuracy is not None:
        out.print(f"accuracy A {res.a_accuracy:.4f} · B {res.b_accuracy:.4f}")
    rows = [
        [
            f"{d.index:,}",
            d.label or "",
            f"{d.a_label} {d.a_probability:.2f}",
            f"{d.b_label} {d.b_probability:.2f}",
            " ".join(d.text.split())[:70],
        ]
        for d in res.disagreements[:20]
    ]
    if rows:
        out.print(table("the surest disagreements", ["row", "label", "A", "B", "text"], rows))


def _disagree(args: argparse.Namespace) -> int:
    if args.texts or args.file or args.out:
        return fail(
            args, "usage", "--against compares over a dataset split: no texts, --file or --out"
        )
    call = P.RunDisagree(
        run_a=args.run, run_b=args.against, dataset=args.dataset or "", split=args.split
    )

    async def go(client: EngineClient) -> int:
        title = f"compare {args.run} with {args.against}"
        res = await run_job(client, call, show=not args.json, title=title)
        emit_json(res) if args.json else _show_disagreements(res)
        return 0

    return run(args, go)


def _model_name(name: str) -> str:
    """A run id as it is; a model folder (it names one that is there, or has a slash) as its
    absolute path, which is how the engine tells the two apart."""
    path = Path(name).expanduser()
    return str(path.absolute()) if "/" in name or path.is_dir() else name


def cmd_predict(args: argparse.Namespace) -> int:
    args.run = _model_name(args.run)
    if args.against:
        args.against = _model_name(args.against)
        return _disagree(args)
    if args.file or args.dataset:
        return _batch(args)
    texts: list[str] = list(args.texts)
    if not texts:
        return fail(args, "bad_input", "give a text to classify", 'e.g. "a fine film"')

    async def go(client: EngineClient) -> int:
        call = P.RunPredict(
            run_id=args.run,
            texts=texts,
            explain=args.explain or "",
            target=args.target or "",
            steps=args.steps,
        )
        res = await client.ask(call)
        if args.json:
            emit_json(res)
        else:
            _show(res, texts, args.words)
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    pr = with_json(
        sub.add_parser("predict", help="classify texts with a trained run (label, probabilities)")
    )
    pr.add_argument(
        "--run",
        required=True,
        help="the run's id (workbench runs list), or a model folder (runs export, or a Hugging "
        "Face sequence-classification folder)",
    )
    pr.add_argument("texts", nargs="*", metavar="TEXT", help="one or more texts to classify")
    pr.add_argument(
        "--explain",
        choices=["ig", "ixg", "occlusion", "attention"],
        help="explain each prediction: integrated gradients, input x gradient, occlusion, "
        "attention",
    )
    pr.add_argument("--target", help="the class to explain (default: the predicted one)")
    pr.add_argument(
        "--steps", type=int, default=0, help="integrated gradients' steps (default 300)"
    )
    pr.add_argument("--words", action="store_true", help="colour whole words (subwords summed)")
    pr.add_argument(
        "--against",
        metavar="RUN_B",
        help="where another run labels a split differently (--dataset, default: the run's own)",
    )
    pr.add_argument("--file", help="every text of a file (CSV, TSV, JSONL, Parquet) instead")
    pr.add_argument("--dataset", help="every text of a dataset's split instead (see --split)")
    pr.add_argument("--split", default="test", help="the dataset's split (default: test)")
    pr.add_argument("--out", help="the CSV or JSONL file to write (with --file or --dataset)")
    pr.add_argument("--text-column", default="text", help="the file's text column")
    pr.add_argument("--label-column", help="the file's label column: scores the predictions")
    pr.add_argument("--format", help="the file's format when its name does not say")
    pr.set_defaults(handler=cmd_predict)
