"""The `workbench` command: the TUI by default, every capability as a subcommand.

Each subcommand talks to the same engine as the app (starting a local one if needed) and prints
a table, or JSON with --json. One module per domain: system (the engine itself), datasets,
tokenizers, embeddings, training, predict, generate (generate and score), attack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn


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
    from workbench.cli import (
        attack,
        datasets,
        embeddings,
        generate,
        predict,
        system,
        tokenizers,
        training,
    )

    for module in (system, datasets, tokenizers, embeddings, training, predict, generate, attack):
        module.add_parser(sub)
    return parser


def _app_home(argv: list[str]) -> tuple[bool, str | None]:
    """(True, home) when argv only opens the app (nothing, or --home DIR): the app then starts
    without building every subcommand's parser, which would import every CLI module."""
    if not argv:
        return True, None
    if len(argv) == 1 and argv[0].startswith("--home=") and len(argv[0]) > 7:
        return True, argv[0][7:]
    if len(argv) == 2 and argv[0] == "--home" and not argv[1].startswith("-"):
        return True, argv[1]
    return False, None


def main(argv: list[str] | None = None) -> None:
    app_only, home = _app_home(sys.argv[1:] if argv is None else argv)
    if not app_only:
        args = build_parser().parse_args(argv)
        home = args.home
    if home:
        os.environ["WORKBENCH_HOME"] = home  # the app and any engine it starts agree
    if app_only or args.command is None:
        from workbench.app import run_app
        from workbench.engine.endpoint import endpoint_for

        sys.exit(run_app(endpoint_for(home)))
    sys.exit(args.handler(args))
