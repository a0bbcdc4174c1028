"""The `workbench` command: the TUI by default, every capability as a subcommand.

Each subcommand talks to the same engine as the app (starting a local one if needed) and prints
a table, or JSON with --json. One module per domain: system (the engine itself), datasets,
tokenizers, embeddings, training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn

from workbench.cli import datasets, embeddings, system, tokenizers, training


class Parser(argparse.ArgumentParser):
    """Usage errors as {"error": {...}} when --json is asked for, like every other failure."""

    def error(self, message: str) -> NoReturn:
        if "--json" in sys.argv[1:]:
            text = json.dumps(
                {
                    "error": {
                        "code": "usage",
                        "message": message,
                        "hint": self.format_usage().strip(),
                    }
                }
            )
            sys.stdout.write(text + "\n")
            sys.exit(2)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="workbench",
        description="A terminal workbench for deep learning on text. "
        "With no command, opens the app.",
    )
    parser.add_argument(
        "--home", help="data and runtime dir (default: WORKBENCH_HOME or platform dirs)"
    )
    sub = parser.add_subparsers(dest="command")
    for module in (system, datasets, tokenizers, embeddings, training):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.home:
        os.environ["WORKBENCH_HOME"] = args.home  # the app and any engine it starts agree
    if args.command is None:
        from workbench.app import run_app
        from workbench.engine.endpoint import endpoint_for

        sys.exit(run_app(endpoint_for(args.home)))
    sys.exit(args.handler(args))
