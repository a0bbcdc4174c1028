"""Where the engine is, and whether the front may start one there.

Only a local home spawns: the front starts an engine for its own home when none answers. An
engine reached through a socket someone else provides (WORKBENCH_SOCKET, a forwarded socket)
is never started here: a missing one is an error, not a silent local CPU engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.paths import Home, resolve_home

SOCKET_ENV = "WORKBENCH_SOCKET"


@dataclass(frozen=True)
class Endpoint:
    """A socket to connect to; home is set when it is this machine's engine for that home, via
    says where the socket leads when it is forwarded ("gpu1 over ssh")."""

    socket: Path
    home: Home | None = None
    via: str = ""

    @property
    def spawns(self) -> bool:
        """Whether the front may start the engine when none answers."""
        return self.home is not None

    def describe(self) -> str:
        """Where, in words: "for home /path" or "at /path/engine.sock"."""
        if self.home is not None:
            return f"for home {self.home.root}"
        if self.via:
            return f"on {self.via} (forwarded to {self.socket})"
        return f"at {self.socket}"


def local(home: Home) -> Endpoint:
    """This machine's engine for a home (started when none runs)."""
    return Endpoint(home.socket, home)


def at_socket(path: str | os.PathLike[str], via: str = "") -> Endpoint:
    """An engine at a socket someone else runs (never started here)."""
    return Endpoint(Path(path).expanduser(), via=via)


def endpoint_for(home: str | os.PathLike[str] | Home | None = None) -> Endpoint:
    """A given home, else WORKBENCH_SOCKET, else the default home (WORKBENCH_HOME or the
    platform dirs)."""
    if isinstance(home, Home):
        return local(home)
    if home is None and os.environ.get(SOCKET_ENV):
        return at_socket(os.environ[SOCKET_ENV])
    return local(resolve_home(home))
