"""`workbench generate --model NAME PROMPT`: continue a prompt with a language model (an LM run,
or smollm2), printing each token as it arrives; Ctrl-C cancels the generation and keeps what
was made. `workbench score --model NAME TEXT`: each token's surprisal in bits and the text's
perplexity. `workbench translate --model RUN SOURCE`: a seq2seq run's output and its attention
over the source."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

import msgspec
from rich.text import Text

from engine import protocol as P
from workbench.cli.common import complete, emit_json, out, run, table, with_json
from workbench.engine.client import EngineClient, EngineError, EngineGone

BAR = 12  # cells of a surprisal bar (a full bar is 16 bits or more)


def summary(res: P.GenerateResult) -> str:
    """One line: how many tokens, how fast, and why it stopped."""
    return (
        f"{len(res.tokens):,} tokens · {res.tokens_per_s:,.1f} tokens/s · stopped: "
        f"{res.stop_reason} · {res.description}"
    )


def token_line(index: int, token: P.GeneratedToken) -> dict[str, Any]:
    """A streamed token as one JSON line: its place among the generated tokens and its fields."""
    return {"index": index, **complete(token)}


async def _generate(client: EngineClient, call: P.Generate, as_json: bool) -> int:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[P.JobEnded] = loop.create_future()
    job: dict[str, str] = {}
    early: list[P.Event] = []
    shown = 0  # tokens printed so far

    def show(event: P.GeneratedTokens) -> None:
        nonlocal shown
        for n, token in enumerate(event.tokens, start=event.start):
            if n < shown:
                continue
            if as_json:
                sys.stdout.write(msgspec.json.encode(token_line(n, token)).decode() + "\n")
            else:
                sys.stdout.write(token.text)
            shown = n + 1
        sys.stdout.flush()

    def on_events(events: list[P.Event], _dropped: int) -> None:
        if "id" not in job:
            early.extend(events)
            return
        for ev in events:
            if isinstance(ev, P.GeneratedTokens) and ev.job_id == job["id"]:
                show(ev)
            elif isinstance(ev, P.JobEnded) and ev.job.job_id == job["id"] and not ended.done():
                ended.set_result(ev)

    unsubscribe = client.subscribe(on_events)
    cancels = 0
    asked: set[asyncio.Future[P.Ok]] = set()  # the cancel call in flight (kept referenced)

    def interrupt() -> None:
        nonlocal cancels
        cancels += 1
        if cancels == 1 and "id" in job:  # stop it; the end still brings what was made
            asked.add(asyncio.ensure_future(client.ask(P.Cancel(job_id=job["id"]))))
        elif not ended.done():
            ended.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupt)
    lost = asyncio.ensure_future(client.wait_lost())
    try:
        started = await client.ask(call)
        job["id"] = started.job_id
        if cancels:  # Ctrl-C came before the job's id
            await client.ask(P.Cancel(job_id=started.job_id))
        if not as_json:
            sys.stdout.write(call.prompt)
            sys.stdout.flush()
        on_events(early, 0)
        await asyncio.wait([ended, lost], return_when="FIRST_COMPLETED")
        if not ended.done():
            raise EngineGone(f"lost the engine while generating: {lost.result()}")
    except asyncio.CancelledError:
        if not as_json:
            sys.stdout.write("\n")
        raise KeyboardInterrupt from None
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        lost.cancel()
        unsubscribe()
    if ended.cancelled():
        raise KeyboardInterrupt
    end = ended.result()
    if end.error is not None:
        if not as_json and shown:
            sys.stdout.write("\n")
        raise EngineError.of(end.error)
    res = end.result
    if not isinstance(res, P.GenerateResult):
        raise EngineError("protocol", f"the job ended with {type(res).__name__}")
    if as_json:
        for n, token in enumerate(res.tokens[shown:], start=shown):  # any the events missed
            sys.stdout.write(msgspec.json.encode(token_line(n, token)).decode() + "\n")
        emit_json(res)
    else:
        sys.stdout.write(res.text[len("".join(t.text for t in res.tokens[:shown])) :] + "\n")
        out.print(Text(summary(res), style="dim"))
    return 130 if cancels else 0  # cancelled by Ctrl-C: what was made is printed all the same


def cmd_generate(args: argparse.Namespace) -> int:
    call = P.Generate(
        model=args.model,
        prompt=args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        greedy=args.greedy,
        candidates=args.candidates,
        min_new_tokens=args.min_new_tokens,
    )
    return run(args, lambda client: _generate(client, call, args.json))


def surprisal_bar(bits: float | None, width: int = BAR) -> str:
    """A bar of width cells, full at 16 bits; '' for a token that was not scored."""
    if bits is None:
        return ""
    eighths = round(max(0.0, min(1.0, bits / 16)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width, "·")


def cut_note(res: P.ScoreResult) -> str:
    """How much of a long text was not scored ('' when all of it was)."""
    if not res.truncated:
        return ""
    kept = len(res.tokens)
    return (
        f"cut to the first {kept:,} of its {res.token_count:,} tokens (the model's context): "
        f"the last {res.token_count - kept:,} were not scored"
    )


def _show_score(res: P.ScoreResult) -> None:
    rows = [
        [
            str(n),
            repr(t.text)[1:-1],
            f"{t.span[0]}-{t.span[1]}",
            "-" if t.surprisal_bits is None else f"{t.surprisal_bits:.2f}",
            surprisal_bar(t.surprisal_bits),
        ]
        for n, t in enumerate(res.tokens)
    ]
    out.print(table(f"surprisal under {res.description}", ["#", "token", "span", "bits", ""], rows))
    first = (
        f"the first token scored from {res.first_from}"
        if res.first_from
        else "the first token not scored (no start token)"
    )
    out.print(
        f"perplexity {res.perplexity:,.2f} · mean surprisal {res.mean_surprisal_bits:.2f} bits "
        f"over {res.scored:,} tokens ({first})"
    )
    note = cut_note(res)
    if note:
        out.print(Text(note, style="yellow"))


def cmd_score(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.ScoreText(model=args.model, text=args.text))
        emit_json(res) if args.json else _show_score(res)
        return 0

    return run(args, go)


SHADES = " ░▒▓█"  # attention weight 0 .. 1, readable without colour


def shade(weight: float) -> str:
    """One cell for an attention weight: darker is more."""
    return SHADES[min(len(SHADES) - 1, int(weight * len(SHADES)))]


def _show_translation(res: P.TranslateResult) -> None:
    out.print(Text(res.output or "(empty output)", style="bold"))
    how = "greedy" if res.beam_width == 1 else f"beam {res.beam_width}"
    end = "ended" if res.ended else "cut at max_output"
    out.print(
        f"{len(res.output_tokens)} tokens · {how} · log-probability {res.log_prob:.3f} · {end}"
        f" · {res.description}"
    )
    rows = [
        [
            tok,
            "".join(shade(w) for w in row),
            f"{max(row):.2f}",
            res.source_tokens[row.index(max(row))],
        ]
        for tok, row in zip([*res.output_tokens, "[EOS]"], res.attention, strict=False)
    ]
    src = " ".join(repr(t)[1:-1] for t in res.source_tokens)
    out.print(
        table(f"attention over the source: {src}", ["output", "source ->", "max", "on"], rows)
    )
    for note, show in (
        ("the source was cut to the run's max_length tokens", res.truncated),
        (f"{res.unknown} source token(s) are outside the run's vocabulary", res.unknown > 0),
    ):
        if show:
            out.print(Text(note, style="yellow"))


def cmd_translate(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        call = P.Translate(
            model=args.model, source=args.source, beam_width=args.beam, max_output=args.max_output
        )
        res = await client.ask(call)
        emit_json(res) if args.json else _show_translation(res)
        return 0

    return run(args, go)


def add_parser(sub: Any) -> None:
    model_help = "an LM run's id (workbench runs list) or smollm2 (after make llm)"
    gen = with_json(
        sub.add_parser("generate", help="continue a prompt with a language model, token by token")
    )
    gen.add_argument("--model", required=True, help=model_help)
    gen.add_argument("prompt", metavar="PROMPT", help="the text to continue")
    gen.add_argument("--max-new-tokens", type=int, default=50, help="at most this many (50)")
    gen.add_argument("--temperature", type=float, default=1.0, help="above 0 (1.0)")
    gen.add_argument("--top-k", type=int, default=0, help="draw from the k likeliest (0: all)")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus: in (0, 1] (1: all)")
    gen.add_argument("--seed", type=int, default=0, help="the same seed gives the same text")
    gen.add_argument("--greedy", action="store_true", help="the likeliest token at each step")
    gen.add_argument(
        "--candidates", type=int, default=5, help="likeliest tokens reported per step (5)"
    )
    gen.add_argument(
        "--min-new-tokens", type=int, default=0, help="no end of text before this many (0)"
    )
    gen.set_defaults(handler=cmd_generate)
    sc = with_json(sub.add_parser("score", help="each token's surprisal and a text's perplexity"))
    sc.add_argument("--model", required=True, help=model_help)
    sc.add_argument("text", metavar="TEXT", help="the text to score")
    sc.set_defaults(handler=cmd_score)
    tr = with_json(
        sub.add_parser("translate", help="a seq2seq run's output for a source, with its attention")
    )
    tr.add_argument("--model", required=True, help="a seq2seq run's id (workbench runs list)")
    tr.add_argument("source", metavar="SOURCE", help="the text to translate")
    tr.add_argument("--beam", type=int, default=0, help="beam width (1: greedy; 0: the run's)")
    tr.add_argument(
        "--max-output", type=int, default=0, help="most output tokens (0: the run's max_output)"
    )
    tr.set_defaults(handler=cmd_translate)
