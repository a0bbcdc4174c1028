"""`workbench tokenize ...`, `workbench tokenizers ...` and `workbench encode ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from engine import protocol as P
from workbench.cli.common import (
    Action,
    delete_item,
    emit_json,
    list_items,
    out,
    run,
    run_job,
    source_or_hint,
    table,
    with_json,
)
from workbench.cli.upload import engine_path
from workbench.engine.client import EngineClient, EngineError
from workbench.files import FileProblem, read_text_file

MAX_TEXT_FILE = 16 << 20  # the engine refuses longer texts anyway


def _texts(args: argparse.Namespace) -> list[str]:
    """The texts to tokenize: the arguments, or a whole file (- for standard input) as one."""
    if args.file is None:
        if not args.texts:
            raise EngineError("bad_input", "give a text, or --file PATH (- reads standard input)")
        return list(args.texts)
    if args.texts:
        raise EngineError("bad_input", "give texts or --file, not both")
    if args.file == "-":
        text = sys.stdin.read(MAX_TEXT_FILE + 1)
        if len(text) > MAX_TEXT_FILE:
            raise EngineError("too_large", f"standard input is over {MAX_TEXT_FILE:,} characters")
        return [text]
    try:
        return [read_text_file(args.file, MAX_TEXT_FILE, "text file")]
    except FileProblem as exc:
        code = "not_found" if "cannot read" in str(exc) else "bad_input"
        raise EngineError(code, str(exc)) from None


def cmd_tokenize(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        texts = _texts(args)
        call = P.Tokenize(
            tokenizer=args.tokenizer,
            texts=texts,
            add_special_tokens=not args.no_special,
            padding=args.padding,
            truncation=args.truncation,
            max_length=args.max_length,
            padding_side=args.padding_side,
        )
        res = await client.ask(call)
        if args.json:
            emit_json(res)
            return 0
        for text, enc in zip(texts, res.encodings, strict=True):
            rows = []
            for i, (tok, tid) in enumerate(zip(enc.tokens, enc.ids, strict=True)):
                a, b = enc.offsets[i]
                flag = "special" if enc.special[i] else ("UNKNOWN" if enc.unknown[i] else "")
                rows.append(
                    [
                        i,
                        tok,
                        tid,
                        f"{a}:{b}",
                        repr(text[a:b]) if b > a else "",
                        enc.attention_mask[i],
                        enc.type_ids[i],
                        flag,
                    ]
                )
            note = f", {enc.overflow} cut by truncation" if enc.truncated else ""
            if len(enc.ids) < enc.n_tokens:
                note += f", the first {len(enc.ids):,} shown"
            title = f"{res.tokenizer}: {enc.n_tokens} tokens{note}"
            headers = ["#", "token", "id", "offsets", "text", "mask", "type", ""]
            out.print(table(title, headers, rows))
        return 0

    return run(args, go)


def cmd_encode(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        call = P.Encode(
            dataset=args.dataset,
            text=" ".join(args.text),
            kind=args.kind,
            split=None if args.split == "all" else args.split,
            top=args.top,
        )
        res = await client.ask(call)
        if args.json:
            emit_json(res)
            return 0
        rows = [[t.term, t.index, f"{t.value:.4g}"] for t in res.terms]
        title = (
            f"{res.kind} against {res.dataset} ({res.vocabulary_size:,} terms): "
            f"{res.nonzero} non-zero"
        )
        out.print(table(title, ["term", "index", "value"], rows))
        if res.unknown:
            out.print(f"not in the vocabulary: {', '.join(res.unknown)}")
        return 0

    return run(args, go)


def cmd_tokenizers(args: argparse.Namespace) -> int:
    return run(args, ACTIONS[args.action](args))


def _list(args: argparse.Namespace) -> Action:
    def row(t: P.TokenizerInfo) -> list[Any]:
        vocab = f"{t.vocab_size:,}" if t.available else "-"
        return [t.name, t.kind, vocab, " ".join(t.specials[:6]), source_or_hint(t)]

    return lambda client: list_items(
        client,
        P.TokenizerList(),
        lambda res: res.tokenizers,
        args.json,
        "tokenizers",
        ["name", "kind", "vocab", "specials", "source"],
        row,
    )


def _show(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        res = await client.ask(P.TokenizerShow(name=args.name))
        t = res.tokenizer
        if args.json:
            emit_json(t)
            return 0
        out.print(f"[bold]{t.name}[/] {t.kind}, {t.vocab_size:,} entries, from {t.source}")
        out.print(
            f"specials: {' '.join(t.specials) or '-'}   lowercase: {t.lowercase}   "
            f"template: {t.template}"
        )
        if t.description:
            out.print(t.description)
        return 0

    return go


def _train(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        specials = [s for s in args.specials.split(",") if s] if args.specials else []
        call = P.TokenizerTrain(
            name=args.name,
            kind=args.kind,
            dataset=args.dataset,
            split=None if args.split == "all" else args.split,
            vocab_size=args.vocab_size,
            min_frequency=args.min_frequency,
            specials=specials,
            lowercase=not args.no_lowercase,
            template=args.template,
        )
        result = await run_job(client, call, show=not args.json, title=f"training {args.name}")
        t = result.tokenizer
        if args.json:
            emit_json(t)
        else:
            out.print(f"trained [bold]{t.name}[/]: {t.kind}, {t.vocab_size:,} entries")
        return 0

    return go


def _add(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        path = await engine_path(client, args.path, quiet=args.json)
        res = await client.ask(P.TokenizerAdd(name=args.name, path=path))
        if args.json:
            emit_json(res.tokenizer)
        else:
            out.print(f"added [bold]{args.name}[/]: {res.tokenizer.vocab_size:,} entries")
        return 0

    return go


def _delete(args: argparse.Namespace) -> Action:
    return lambda client: delete_item(
        client, P.TokenizerDelete(name=args.name), args.name, args.json
    )


def _stats(args: argparse.Namespace) -> Action:
    async def go(client: EngineClient) -> int:
        call = P.TokenizerStats(
            tokenizer=args.name,
            dataset=args.dataset,
            split=None if args.split == "all" else args.split,
            batch_size=args.batch_size,
            max_length=args.max_length,
        )
        res = await client.ask(call)
        if args.json:
            emit_json(res)
            return 0
        lens = res.lengths
        out.print(
            f"[bold]{res.tokenizer}[/] on {res.dataset} ({res.split or 'all rows'}): "
            f"{res.rows:,} texts, {res.tokens:,} tokens; length mean {lens.mean:.1f}, "
            f"median {lens.median:.0f}, max {lens.max:.0f}"
        )
        out.print(
            f"unknown tokens {100 * res.unknown_rate:.2f}%  vocabulary used "
            f"{100 * res.vocab_coverage:.1f}%  longer than {res.max_length}: "
            f"{100 * res.truncated_share:.1f}%"
        )
        rows = [
            [
                p.strategy,
                f"{100 * p.padded_share:.1f}%",
                f"{p.real_tokens:,}",
                f"{p.computed_tokens:,}",
            ]
            for p in res.padding
        ]
        out.print(
            table(
                f"padding at batch size {res.batch_size}, max length {res.max_length}",
                ["strategy", "padded", "real tokens", "computed"],
                rows,
            )
        )
        top = ", ".join(f"{t.token} {t.count:,}" for t in res.top_tokens[:15])
        out.print(f"most frequent: {top}")
        return 0

    return go


ACTIONS: dict[str, Callable[[argparse.Namespace], Action]] = {
    "list": _list,
    "show": _show,
    "train": _train,
    "add": _add,
    "delete": _delete,
    "stats": _stats,
}


def add_parser(sub: Any) -> None:
    tk = with_json(sub.add_parser("tokenize", help="what a tokenizer makes of some texts"))
    tk.add_argument("texts", nargs="*", metavar="TEXT")
    tk.add_argument("--file", help="tokenize this file's text as one (- reads standard input)")
    tk.add_argument("--tokenizer", "-t", default="minilm-wordpiece")
    tk.add_argument("--max-length", type=int, default=128)
    tk.add_argument("--padding", choices=["none", "longest", "max_length"], default="none")
    tk.add_argument("--truncation", action="store_true")
    tk.add_argument("--padding-side", choices=["right", "left"], default="right")
    tk.add_argument("--no-special", action="store_true", help="do not add [CLS]/[SEP] etc.")
    tk.set_defaults(handler=cmd_tokenize)

    enc = with_json(sub.add_parser("encode", help="one-hot, bag of words or TF-IDF of a text"))
    enc.add_argument("text", nargs="+")
    enc.add_argument("--dataset", required=True, help="whose vocabulary to use")
    enc.add_argument("--kind", choices=["onehot", "bow", "tfidf"], default="bow")
    enc.add_argument("--split", default="train", help="split to fit on, or 'all'")
    enc.add_argument("--top", type=int, default=50)
    enc.set_defaults(handler=cmd_encode)

    tks = sub.add_parser("tokenizers", help="list, train, add, inspect tokenizers")
    tsub = tks.add_subparsers(dest="action", required=True)
    with_json(tsub.add_parser("list", help="every tokenizer the engine knows"))
    for action, text in [("show", "one tokenizer's settings"), ("delete", "delete a saved one")]:
        with_json(tsub.add_parser(action, help=text)).add_argument("name")
    tr = with_json(tsub.add_parser("train", help="build a tokenizer from a dataset"))
    tr.add_argument("name")
    tr.add_argument(
        "--kind",
        required=True,
        choices=["word", "regex-word", "char", "bpe", "wordpiece", "unigram"],
    )
    tr.add_argument("--dataset", required=True)
    tr.add_argument("--split", default="train", help="a split, or 'all'")
    tr.add_argument("--vocab-size", type=int, default=30000)
    tr.add_argument("--min-frequency", type=int, default=1)
    tr.add_argument(
        "--specials",
        default="<PAD>,<UNK>",
        help="comma-separated, in id order (the first gets id 0)",
    )
    tr.add_argument("--no-lowercase", action="store_true")
    tr.add_argument("--template", choices=["none", "cls-sep", "start-end"], default="none")
    ad = with_json(tsub.add_parser("add", help="register a tokenizer.json or HF folder"))
    ad.add_argument("name")
    ad.add_argument("path")
    st = with_json(tsub.add_parser("stats", help="what a tokenizer makes of a dataset"))
    st.add_argument("name")
    st.add_argument("--dataset", required=True)
    st.add_argument("--split", default="all")
    st.add_argument("--batch-size", type=int, default=32)
    st.add_argument("--max-length", type=int, default=512)
    tks.set_defaults(handler=cmd_tokenizers)
