"""`workbench serve`: the app in a browser, through textual-serve.

Each browser tab that opens the page gets its own `workbench` process (the app, driven over a
websocket), on the same engine as this command: the same --home, WORKBENCH_HOME or
WORKBENCH_SOCKET. There is no authentication: anyone who reaches the port gets the app and
with it the engine's data, so it binds loopback by default and is meant to be reached through
an SSH port forward.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import shlex
import socket
import sys
from typing import TYPE_CHECKING, Any

from workbench.cli.common import err, out
from workbench.engine.endpoint import endpoint_for

if TYPE_CHECKING:
    from textual_serve.server import Server

DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    """Whether host (an address or a name) reaches only this machine: every address it resolves
    to is a loopback one. A name that does not resolve counts as not loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def free_port(host: str, port: int) -> int:
    """The port to serve on: port itself when it can be bound on host, any free one for 0.
    OSError (with the reason) when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds it
        s.bind((host.strip("[]"), port))
        return int(s.getsockname()[1])


def public_url_for(host: str, port: int) -> str:
    """The URL the page is reached at when nothing else is said: http://host:port."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def app_command(home: str | None) -> str:
    """The shell command textual-serve runs for each browser: this Python's `workbench`, with
    the home given explicitly when one was (it takes precedence over WORKBENCH_SOCKET there as
    here); WORKBENCH_HOME and WORKBENCH_SOCKET pass through the environment."""
    words = [sys.executable, "-m", "workbench"]
    if home:
        words += ["--home", os.path.abspath(os.path.expanduser(home))]
    return shlex.join(words)


def warning(host: str, port: int, url: str) -> tuple[str, bool]:
    """What to say before serving: the no-authentication warning, louder when host is not a
    loopback address; (text, loud)."""
    if is_loopback(host):
        return (
            f"No authentication: anyone who can reach {url} gets the app, and with it the "
            "engine's data and its jobs. It listens on this machine only; from elsewhere, "
            f"forward the port over SSH (ssh -L {port}:127.0.0.1:{port} HOST) rather than "
            "binding another address.",
            False,
        )
    return (
        f"WARNING: serving on {host}, which is not a loopback address, with NO AUTHENTICATION. "
        "Anyone on the network who reaches this port gets the app, and with it the engine's "
        "data, its models and its jobs. Prefer the default --host 127.0.0.1 and an SSH port "
        f"forward (ssh -L {port}:127.0.0.1:{port} HOST).",
        True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    host: str = args.host
    try:
        port = free_port(host, args.port)
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        err.print(
            f"[bold red]error:[/] cannot listen on {host}:{args.port}: "
            + ("the port is already in use" if taken else (exc.strerror or str(exc))),
            markup=True,
            highlight=False,
        )
        err.print(
            "  pick another with --port N, or --port 0 for any free one"
            if taken
            else "  check --host: it must be an address of this machine",
            markup=False,
            highlight=False,
        )
        return 1
    url = args.public_url or public_url_for(host, port)
    text, loud = warning(host, port, url)
    if loud:
        err.print(text, style="bold red", markup=False, highlight=False)
        if args.public_url is None and host in ("0.0.0.0", "::"):
            err.print(
                f"  the page points its websocket at {url}, which other machines cannot "
                "reach: pass --public-url http://THIS-HOST:PORT",
                markup=False,
                highlight=False,
            )
    else:
        err.print(text, style="yellow", markup=False, highlight=False)
    command = app_command(args.home)
    out.print(
        f"serving the workbench on {url} (engine {endpoint_for(args.home).describe()})",
        markup=False,
        highlight=False,
    )
    out.print("press Ctrl+C to stop", markup=False, highlight=False)
    server = make_server(command, host, port, url)
    try:
        server.serve()
    except OSError as exc:  # lost the port between the check and the bind
        err.print(f"error: cannot listen on {host}:{port}: {exc}", markup=False)
        return 1
    except KeyboardInterrupt:
        pass
    out.print("stopped", markup=False, highlight=False)
    return 0


def make_server(command: str, host: str, port: int, public_url: str) -> Server:
    """A textual-serve Server for command, without its banner (cmd_serve says what matters)."""
    from textual_serve.server import Server

    class WorkbenchServer(Server):
        async def on_startup(self, app: Any) -> None:
            return None

    return WorkbenchServer(command, host=host, port=port, title="workbench", public_url=public_url)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the app in a browser (no authentication: loopback by default)",
        description="Serve the app to a web browser with textual-serve: every page opened gets "
        "its own app on this command's engine. There is NO authentication: anyone who reaches "
        "the port gets the app and the engine's data. It binds 127.0.0.1 by default; reach it "
        "from another machine with `ssh -L 8000:127.0.0.1:8000 HOST` and open "
        "http://127.0.0.1:8000 there.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT}; 0 for any free one)",
    )
    p.add_argument(
        "--public-url",
        help="the URL browsers reach the server at, when not http://HOST:PORT (behind a "
        "forward to another port, or a proxy)",
    )
    p.set_defaults(handler=cmd_serve)
