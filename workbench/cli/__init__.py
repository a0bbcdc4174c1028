"""The `workbench` command: the TUI by default, every capability as a subcommand.

Each subcommand talks to the same engine as the app (starting a local one if needed) and prints
a table, or JSON with --json. One module per domain: system (the engine itself), datasets,
tokenizers, embeddings, training, predict, generate (generate and score), attack.

Where the engine is: this machine's for a home (--home, started when none runs), or one that
runs elsewhere, never started here: at a socket (--socket, e.g. one `ssh -L` forwards), or on
another machine through ssh (--ssh HOST, which starts it there and forwards its socket).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from workbench.engine.endpoint import Endpoint


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
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--home", help="data and runtime dir (default: WORKBENCH_HOME or platform dirs)"
    )
    where.add_argument(
        "--socket",
        metavar="PATH",
        help="attach to the engine listening on this Unix socket (e.g. one `ssh -L` forwards); "
        "it is never started here",
    )
    where.add_argument(
        "--ssh",
        metavar="HOST",
        help="the engine on HOST: started there over ssh when none runs, its socket forwarded",
    )
    parser.add_argument(
        "--remote-home", metavar="DIR", help="with --ssh: the home on HOST (default: its own)"
    )
    parser.add_argument(
        "--ssh-option",
        metavar="OPT",
        action="append",
        default=[],
        help="with --ssh: an ssh option (`-o OPT`), repeatable",
    )
    sub = parser.add_subparsers(dest="command")
    from workbench.cli import (
        attack,
        datasets,
        doctor,
        embeddings,
        generate,
        join,
        predict,
        serve,
        system,
        tokenizers,
        training,
    )

    for module in (
        system,
        doctor,
        datasets,
        tokenizers,
        embeddings,
        training,
        predict,
        generate,
        attack,
        serve,
        join,
    ):
        module.add_parser(sub)
    return parser


def _only(argv: list[str], option: str) -> str | None:
    """The value when argv is just `OPTION VALUE` or `OPTION=VALUE`, else None."""
    if len(argv) == 1 and argv[0].startswith(option + "=") and len(argv[0]) > len(option) + 1:
        return argv[0][len(option) + 1 :]
    if len(argv) == 2 and argv[0] == option and not argv[1].startswith("-"):
        return argv[1]
    return None


def _app_home(argv: list[str]) -> tuple[bool, str | None, str | None]:
    """(True, home, socket) when argv only opens the app (nothing, --home DIR or --socket
    PATH): the app then starts without building every subcommand's parser, which would import
    every CLI module."""
    if not argv:
        return True, None, None
    home, socket = _only(argv, "--home"), _only(argv, "--socket")
    if home is not None or socket is not None:
        return True, home, socket
    return False, None, None


def _fail(argv: list[str], code: str, message: str, hint: str) -> NoReturn:
    """Exit 1 with the error said the way every subcommand says it (JSON with --json)."""
    if "--json" in argv:
        error = {"error": {"code": code, "message": message, "hint": hint}}
        sys.stdout.write(json.dumps(error) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n  {hint}\n")
    sys.exit(1)


def _attach_socket(argv: list[str], socket: str) -> str:
    """The socket as an absolute path, for this process and all it runs (WORKBENCH_SOCKET);
    exits with what to do when nothing is there (an engine there is never started here)."""
    from workbench.engine.endpoint import SOCKET_ENV

    path = os.path.abspath(os.path.expanduser(socket))
    if not os.path.exists(path):
        _fail(
            argv,
            "no_engine",
            f"no engine socket at {path} (an engine there is never started here)",
            "start the engine where it runs (`workbench engine start`) and forward its socket "
            f"here (`ssh -N -L {path}:REMOTE_SOCKET HOST`, where `workbench engine where` on "
            "HOST names REMOTE_SOCKET), or let the workbench do both: `workbench --ssh HOST`",
        )
    os.environ[SOCKET_ENV] = path
    return path


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    app_only, home, socket = _app_home(argv)
    endpoint: Endpoint | None = None
    if not app_only:
        parser = build_parser()
        args = parser.parse_args(argv)
        home, socket = args.home, args.socket
        if not args.ssh and (args.remote_home or args.ssh_option):
            parser.error("--remote-home and --ssh-option go with --ssh HOST")
    if home:
        os.environ["WORKBENCH_HOME"] = home  # the app and any engine it starts agree
    if socket:
        _attach_socket(argv, socket)
    if not app_only and args.ssh:
        from workbench.engine.endpoint import SOCKET_ENV
        from workbench.engine.ssh import SshError, ssh_endpoint

        if args.command is None:
            sys.stderr.write(f"reaching the engine on {args.ssh} over ssh…\n")
        try:  # the tunnel lives as long as this process, stopped at exit
            endpoint, _tunnel = ssh_endpoint(args.ssh, args.remote_home, args.ssh_option)
        except SshError as exc:
            _fail(argv, "ssh", exc.message, exc.hint)
        os.environ[SOCKET_ENV] = str(endpoint.socket)
    if app_only or args.command is None:
        from workbench.app import run_app
        from workbench.engine.endpoint import endpoint_for

        sys.exit(run_app(endpoint or endpoint_for(home)))
    sys.exit(args.handler(args))
