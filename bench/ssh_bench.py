"""A request's round trip through an SSH-forwarded socket, beside the same engine's own socket.

The front's tunnel (workbench/engine/ssh.py: `ssh -N -L local.sock:engine.sock HOST`) runs
through a throwaway sshd on 127.0.0.1 (tests/helpers/sshd.py: its own host and user keys);
the same client asks Ping through both sockets, alternately, and the bench prints p50 and
p99 of each and the ratio. Loopback has no network latency: what is measured is what ssh's
encryption and its two extra socket hops add, the floor of a remote engine. Needs Debian's
openssh-server and root, as the test does.

    python -m bench --only ssh
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from bench.common import pct, row
from bench.protocol_bench import _ours, settled
from engine.paths import Home
from workbench.engine.client import EngineClient
from workbench.engine.endpoint import at_socket


async def _compare(home: Home, forwarded: Path, rounds: int, n: int) -> tuple[list, list]:  # type: ignore[type-arg]
    direct = EngineClient(home, name="bench")
    tunnel = EngineClient(at_socket(forwarded), name="bench")
    await direct.connect(start=False)
    await tunnel.connect(start=False)
    await settled(direct)
    ours: list[float] = []
    theirs: list[float] = []
    await _ours(direct, 100)  # warm up both
    await _ours(tunnel, 100)
    for _ in range(rounds):  # alternate: the machine is shared
        theirs += await _ours(direct, n)
        ours += await _ours(tunnel, n)
    await direct.close()
    await tunnel.close()
    return ours, theirs


def ssh_bench(home: Home, rounds: int = 5, n: int = 400) -> list[dict[str, str]]:
    if not os.path.exists("/usr/sbin/sshd") or shutil.which("ssh") is None or os.geteuid():
        return [row("ssh round trip", "skipped: needs openssh-server and root")]
    from tests.helpers.sshd import ALIAS, running_sshd
    from workbench.engine.ssh import SshTunnel

    with (
        tempfile.TemporaryDirectory(prefix="wb-ssh-bench-") as tmp,
        running_sshd(Path(tmp) / "sshd") as sshd,
    ):
        tunnel = SshTunnel(ALIAS, str(home.socket), ["-F", str(sshd.config)])
        local = tunnel.start()
        try:
            ours, theirs = asyncio.run(_compare(home, local, rounds, n))
        finally:
            tunnel.stop()
    rows = []
    for q in (50, 99):
        a, b = pct(ours, q) * 1e6, pct(theirs, q) * 1e6
        rows.append(
            row(
                f"request round trip p{q} through ssh -L (loopback sshd)",
                f"{a:.0f} us",
                "report",
                f"{b:.0f} us on the engine's own socket",
                f"{a / b:.2f}x",
            )
        )
    return rows
