"""`workbench neighbours|similarity|project|vectors ...`: static and contextual vectors."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from engine import protocol as P
from workbench.cli.common import (
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

Action = Callable[[EngineClient], Awaitable[int]]


def _bar(score: float, width: int = 30) -> str:
    filled = max(0, round(width * score))
    return "█" * filled + "·" * (width - filled)


def cmd_neighbours(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        call = P.Neighbours(query=" ".join(args.query), source=args.source, k=args.k)
        res = await client.ask(call)
        if args.json:
            emit_json(res)
            return 0
        rows = [
            [i + 1, n.word, f"{n.score:.3f}", _bar(n.score)] for i, n in enumerate(res.neighbours)
        ]
        out.print(
            table(f"nearest to {res.query!r} in {res.source}", ["#", "word", "cosine", ""], rows)
        )
        return 0

    return run(args, go)


def _matrix(title: str, labels: list[str], matrix: list[list[float]]) -> Any:
    rows = [[lab, *[f"{v:.3f}" for v in r]] for lab, r in zip(labels, matrix, strict=True)]
    return table(title, ["", *[str(i) for i in range(len(labels))]], rows)


def cmd_similarity(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        if args.word:
            call = P.ContextSimilarity(word=args.word, sentences=args.sentences, source=args.source)
            res = await client.ask(call)
            if args.json:
                emit_json(res)
                return 0
            labels = [
                f"{i}: {s[:50]}" + ("" if found else "  (word not found)")
                for i, (s, found) in enumerate(zip(res.sentences, res.found, strict=True))
            ]
            out.print(_matrix(f"'{res.word}' in context ({res.source})", labels, res.similarity))
            static = "1.000 (one vector, whatever the sentence)" if res.static_known else "unknown"
            out.print(f"{res.static_source}: {static}")
            for i, pieces in enumerate(res.pieces):
                if pieces:
                    out.print(f"sentence {i}: pieces averaged {' '.join(pieces)}")
            return 0
        sim = P.SentenceSimilarity(sentences=args.sentences, source=args.source)
        mat = await client.ask(sim)
        if args.json:
            emit_json(mat)
            return 0
        labels = [f"{i}: {s[:50]}" for i, s in enumerate(mat.sentences)]
        out.print(_matrix(f"sentence similarity ({mat.source})", labels, mat.matrix))
        return 0

    return run(args, go)


def _groups(specs: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, words = spec.partition("=")
        if not sep or not words.strip():
            raise EngineError("bad_input", f"--group {spec!r}: expected NAME=word,word,...")
        groups[name.strip()] = [w.strip() for w in words.split(",") if w.strip()]
    return groups


def cmd_project(args: argparse.Namespace) -> int:
    async def go(client: EngineClient) -> int:
        call = P.Project(
            words=args.words,
            groups=_groups(args.group or []),
            neighbours_of=args.neighbours_of,
            k=args.k,
            source=args.source,
            method=args.method,
            perplexity=args.perplexity,
            seed=args.seed,
        )
        result = await run_job(client, call, show=not args.json, title=args.method)
        res = result
        if args.json:
            emit_json(res)
            return 0
        rows = [[p.word, p.group, f"{p.x:.3f}", f"{p.y:.3f}"] for p in res.points]
        title = f"{res.method} of {len(res.points)} words ({res.source}, {res.seconds:.2f} s)"
        out.print(table(title, ["word", "group", "x", "y"], rows))
        if res.explained:
            out.print("explained variance: " + ", ".join(f"{v:.1%}" for v in res.explained))
        if res.unknown:
            out.print(f"not in the vocabulary: {', '.join(res.unknown)}")
        return 0

    return run(args, go)


def cmd_vectors(args: argparse.Namespace) -> int:
    def row(s: P.VectorSourceInfo) -> list[Any]:
        words = f"{s.vocab_size:,}" if s.vocab_size else "-"
        return [s.name, s.kind, s.dim, words, source_or_hint(s)]

    async def listing(client: EngineClient) -> int:
        return await list_items(
            client,
            P.VectorSources(),
            lambda res: res.sources,
            args.json,
            "vector sources",
            ["name", "kind", "dim", "words", "source"],
            row,
        )

    async def add(client: EngineClient) -> int:
        call = P.VectorAdd(
            name=args.name,
            path=await engine_path(client, args.path, quiet=args.json),
            words_path=await engine_path(client, args.words, quiet=args.json)
            if args.words
            else None,
        )
        result = await run_job(client, call, show=not args.json, title=f"loading {args.name}")
        if args.json:
            emit_json(result.source)
        else:
            src = result.source
            out.print(f"added [bold]{src.name}[/]: {src.vocab_size:,} words x {src.dim}")
        return 0

    async def delete(client: EngineClient) -> int:
        return await delete_item(client, P.VectorDelete(name=args.name), args.name, args.json)

    async def from_run(client: EngineClient) -> int:
        res = await client.ask(P.VectorFromRun(run_id=args.run_id, name=args.name))
        if args.json:
            emit_json(res.source)
        else:
            out.print(
                f"added [bold]{res.source.name}[/]: {res.source.vocab_size:,} tokens x "
                f"{res.source.dim} from {res.source.source}"
            )
        return 0

    actions = {"list": listing, "add": add, "delete": delete, "from-run": from_run}
    return run(args, actions[args.action])


def add_parser(sub: Any) -> None:
    nb = with_json(sub.add_parser("neighbours", help="nearest words, or `king - man + woman`"))
    nb.add_argument("query", nargs="+", help="a word or an expression")
    nb.add_argument("--source", default="glove-6b-50d")
    nb.add_argument("--k", type=int, default=10)
    nb.set_defaults(handler=cmd_neighbours)

    sim = with_json(sub.add_parser("similarity", help="a word in context, or sentence similarity"))
    sim.add_argument("sentences", nargs="+", metavar="SENTENCE")
    sim.add_argument("--word", help="compare this word's contextual vectors across sentences")
    sim.add_argument("--source", default="minilm")
    sim.set_defaults(handler=cmd_similarity)

    pj = with_json(sub.add_parser("project", help="words in 2D with PCA or t-SNE"))
    pj.add_argument("words", nargs="*")
    pj.add_argument("--method", choices=["pca", "tsne"], default="pca")
    pj.add_argument("--source", default="glove-6b-50d")
    pj.add_argument("--group", action="append", metavar="NAME=w1,w2", help="a coloured group")
    pj.add_argument("--neighbours-of", help="add this word's nearest words")
    pj.add_argument("--k", type=int, default=20)
    pj.add_argument("--perplexity", type=float, default=30.0)
    pj.add_argument("--seed", type=int, default=13)
    pj.set_defaults(handler=cmd_project)

    vec = sub.add_parser("vectors", help="list vector sources or add a vector file")
    vsub = vec.add_subparsers(dest="action", required=True)
    with_json(vsub.add_parser("list"))
    va = with_json(vsub.add_parser("add", help="GloVe/word2vec text, or .npy with --words"))
    va.add_argument("name")
    va.add_argument("path")
    va.add_argument("--words", help="for .npy: a file with one word a line")
    with_json(vsub.add_parser("delete", help="delete an added source")).add_argument("name")
    fr = with_json(vsub.add_parser("from-run", help="a trained run's embedding layer as a source"))
    fr.add_argument("run_id")
    fr.add_argument("name")
    vec.set_defaults(handler=cmd_vectors)
