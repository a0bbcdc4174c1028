"""`workbench predict --run RUN TEXT...`: classify texts with a trained run, as the engine's
model sees them (its best checkpoint, or a training run's latest complete one)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text

from engine import protocol as P
from workbench.cli.common import emit_json, fail, out, run, table, with_json
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


def _show(res: P.RunPredictResult, texts: list[str]) -> None:
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


def cmd_predict(args: argparse.Namespace) -> int:
    texts: list[str] = list(args.texts)
    if not texts:
        return fail(args, "bad_input", "give a text to classify", 'e.g. "a fine film"')

    async def go(client: EngineClient) -> int:
        res = await client.ask(P.RunPredict(run_id=args.run, texts=texts))
        if args.json:
            emit_json(res)
        else:
            _show(res, texts)
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    pr = with_json(
        sub.add_parser("predict", help="classify texts with a trained run (label, probabilities)")
    )
    pr.add_argument("--run", required=True, help="the run's id (workbench runs list)")
    pr.add_argument("texts", nargs="*", metavar="TEXT", help="one or more texts to classify")
    pr.set_defaults(handler=cmd_predict)
