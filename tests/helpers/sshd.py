"""A throwaway sshd on loopback for the remote-engine tests: its own host key, user key and
config in a temp folder, root's login by that key only, and a client config (`ssh -F`) whose
Host `wbtest` reaches it without touching ~/.ssh. Skips unless /usr/sbin/sshd exists and the
tests run as root; sshd and every ssh session it started are killed in teardown."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
ALIAS = "wbtest"


@dataclass
class Sshd:
    folder: Path
    port: int
    config: Path  # the client's: `ssh -F config wbtest`
    proc: subprocess.Popen[bytes]

    @property
    def ssh_args(self) -> str:
        """WORKBENCH_SSH_ARGS for the tunnel: this client config only."""
        return f"-F {self.config}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def _children(pid: int) -> list[int]:
    """Every descendant of pid (sshd forks one process per session), deepest last."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                found += kids
                todo += kids
    return found


@contextlib.contextmanager
def running_sshd(folder: Path) -> Iterator[Sshd]:
    if not os.path.exists(SSHD) or shutil.which("ssh") is None:
        pytest.skip("openssh-server is not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("the loopback sshd logs in as root: run the tests as root")
    folder.mkdir(parents=True, exist_ok=True)
    host_key, user_key = folder / "host_key", folder / "user_key"
    _keygen(host_key)
    _keygen(user_key)
    authorized = folder / "authorized_keys"
    authorized.write_text((folder / "user_key.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    server = folder / "sshd_config"
    server.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "AllowStreamLocalForwarding yes\n"
        "StreamLocalBindUnlink yes\n"
        "LogLevel ERROR\n"
    )
    client = folder / "ssh_config"
    client.write_text(
        f"Host {ALIAS}\n"
        "  HostName 127.0.0.1\n"
        f"  Port {port}\n"
        "  User root\n"
        f"  IdentityFile {user_key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {folder / 'known_hosts'}\n"
        "  StrictHostKeyChecking accept-new\n"
        "  BatchMode yes\n"
        "  LogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    subprocess.run([SSHD, "-t", "-f", str(server)], check=True, capture_output=True)
    with open(folder / "sshd.log", "wb") as log:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(server)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
            time.sleep(0.05)
        yield Sshd(folder, port, client, proc)
    finally:
        for pid in [proc.pid, *_children(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(5)
