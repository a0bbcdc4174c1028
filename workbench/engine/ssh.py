"""An engine on another machine, reached through ssh: `workbench --ssh HOST`.

The remote is asked over ssh for its engine's socket (`workbench engine start --json` there,
which starts the engine when none runs); then `ssh -N -L local.sock:remote.sock HOST` forwards
that socket to one in a private temp folder here, and the front connects to it like to any
socket someone else provides (never starting an engine here). A supervisor thread starts ssh
again, with backoff, whenever it exits while the front still runs, so the client's own
reconnecting finds the socket again; the ssh child is stopped on exit, SIGHUP and SIGTERM.

WORKBENCH_REMOTE_CMD is the command that runs the workbench on the remote (default
`workbench`, a shell fragment); WORKBENCH_SSH_ARGS are extra ssh arguments (`-F file`) for
every ssh this module runs.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from workbench.engine.endpoint import Endpoint, at_socket

REMOTE_CMD_ENV = "WORKBENCH_REMOTE_CMD"
SSH_ARGS_ENV = "WORKBENCH_SSH_ARGS"
KEEPALIVE = ["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]


class SshError(Exception):
    """ssh could not reach the remote engine: a message a person can act on, and a hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def ssh_args(options: Sequence[str] = ()) -> list[str]:
    """The arguments every ssh here gets before the host: WORKBENCH_SSH_ARGS, then each
    option as `-o OPT`."""
    args = shlex.split(os.environ.get(SSH_ARGS_ENV, ""))
    for opt in options:
        args += ["-o", opt]
    return args


def needs_keepalive(effective_config: str) -> bool:
    """Whether to add our keepalive, given `ssh -G HOST`'s output: only when the user's config
    sets no ServerAliveInterval for the host (ssh -G says 0 then)."""
    for line in effective_config.splitlines():
        key, _, value = line.strip().partition(" ")
        if key.lower() == "serveraliveinterval":
            return value.strip() in ("", "0")
    return True


def keepalive_options(host: str, args: Sequence[str] = ()) -> list[str]:
    """KEEPALIVE unless the user's ssh config already sets ServerAliveInterval for host."""
    try:
        done = subprocess.run(
            ["ssh", *args, "-G", host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return list(KEEPALIVE)
    if done.returncode != 0:
        return list(KEEPALIVE)
    return list(KEEPALIVE) if needs_keepalive(done.stdout) else []


def remote_command(remote_home: str | None, *words: str) -> str:
    """The shell command that runs `workbench [--home DIR] WORDS` on the remote."""
    cmd = os.environ.get(REMOTE_CMD_ENV, "").strip() or "workbench"
    home = ["--home", remote_home] if remote_home else []
    return " ".join([cmd, *(shlex.quote(w) for w in [*home, *words])])


def remote_socket(
    host: str, remote_home: str | None = None, args: Sequence[str] = (), timeout: float = 120.0
) -> str:
    """The remote engine's socket path, starting that engine when none runs there."""
    cmd = ["ssh", *args, host, "--", remote_command(remote_home, "engine", "start", "--json")]
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise SshError("ssh is not installed here", "install the OpenSSH client") from None
    except subprocess.TimeoutExpired:
        raise SshError(
            f"the engine on {host} did not answer within {timeout:.0f} s",
            f"try `ssh {host} workbench engine start` there",
        ) from None
    answer: Any = None
    for line in reversed(done.stdout.splitlines()):
        with contextlib.suppress(ValueError):
            answer = json.loads(line)
            break
    if isinstance(answer, dict) and isinstance(answer.get("socket"), str) and answer["socket"]:
        return str(answer["socket"])
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        raise SshError(
            f"the engine on {host} could not start: {error.get('message', '')}",
            str(error.get("hint", "")),
        )
    said = (done.stderr.strip() or done.stdout.strip())[-2000:]
    raise SshError(
        f"could not ask {host} for its engine (ssh exited {done.returncode}): {said}",
        f"check `ssh {host} workbench engine start --json` works; set {REMOTE_CMD_ENV} when "
        "workbench is not on the remote PATH",
    )


def _die_with_parent() -> Any:
    """A preexec_fn that has the child get SIGTERM when the thread that started it ends
    (Linux; the one way a SIGKILLed front leaves no ssh behind), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def preexec() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG

    return preexec


class SshTunnel:
    """`ssh -N -L local:remote HOST`, kept running until stop(): started again with backoff
    whenever it exits while the front runs. local_socket is in a private (0700) temp folder."""

    def __init__(
        self,
        host: str,
        remote_socket: str,
        args: Sequence[str] = (),
        keepalive: Sequence[str] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.remote_socket = remote_socket
        self.args = list(args)
        self.keepalive = list(keepalive) if keepalive is not None else None
        self.ready_timeout = ready_timeout
        self.folder = Path(tempfile.mkdtemp(prefix="wb-ssh-"))  # 0700, ours
        self.local_socket = self.folder / "engine.sock"
        self.restarts = 0  # times ssh was started again after it exited
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr = self.folder / "ssh.err"
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._first: threading.Event = threading.Event()
        self._error: SshError | None = None
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running ssh's pid (None between restarts)."""
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def command(self, batch: bool = False) -> list[str]:
        """The ssh command line; batch (for restarts) never asks for a password."""
        keepalive = self.keepalive if self.keepalive is not None else list(KEEPALIVE)
        return [
            "ssh",
            *self.args,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "StreamLocalBindUnlink=yes",
            *(["-o", "BatchMode=yes"] if batch else []),
            *keepalive,
            "-L",
            f"{self.local_socket}:{self.remote_socket}",
            self.host,
        ]

    def start(self) -> Path:
        """Start ssh and wait until the local socket is there; SshError (with what ssh said)
        when it does not come. The local socket's path."""
        if self.keepalive is None:
            self.keepalive = keepalive_options(self.host, self.args)
        _register(self)
        self._thread = threading.Thread(target=self._supervise, name="ssh-tunnel", daemon=True)
        self._thread.start()
        self._first.wait()
        if self._error is not None:
            self.stop()
            raise self._error
        return self.local_socket

    def stop(self) -> None:
        """Stop ssh (and its restarting) for good; remove the private folder."""
        self._stopping.set()
        with self._lock:
            proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(3)
        _unregister(self)
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------- supervising

    def _spawn(self, batch: bool) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            with contextlib.suppress(FileNotFoundError):
                self.local_socket.unlink()  # so "the socket appeared" means this ssh bound it
            with open(self._stderr, "wb") as err:
                self.proc = subprocess.Popen(
                    self.command(batch),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    process_group=0,  # Ctrl-C in the terminal is the front's, not ssh's
                    preexec_fn=_die_with_parent(),
                )
            return self.proc

    def _said(self) -> str:
        try:
            return self._stderr.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> SshError | None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return SshError(
                    f"ssh to {self.host} exited with code {proc.returncode} before forwarding "
                    f"the engine's socket: {self._said() or 'it said nothing'}",
                    f"check `ssh {self.host}` works and the engine there listens on "
                    f"{self.remote_socket}",
                )
            if self.local_socket.exists():
                time.sleep(0.05)  # bound: listening a moment later
                return None
            if self._stopping.wait(0.02):
                return None
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        return SshError(
            f"ssh to {self.host} did not forward the engine's socket within "
            f"{self.ready_timeout:.0f} s: {self._said() or 'it said nothing'}",
            "check the host answers, and that no password is asked (use a key or an agent)",
        )

    def _supervise(self) -> None:
        delay = 0.5
        first = True
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                proc = self._spawn(batch=not first)
            except OSError as exc:
                proc = None
                error: SshError | None = SshError(f"could not run ssh: {exc}", "install OpenSSH")
            else:
                error = None if proc is None else self._wait_ready(proc)
            if first:
                self._error = error
                self._first.set()
                if error is not None or proc is None:
                    return
                first = False
            if proc is not None and error is None:
                while proc.poll() is None and not self._stopping.wait(0.2):
                    pass
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 30:
                delay = 0.5  # it ran a good while: this drop is news, retry soon
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 10.0)
            self.restarts += 1


# ------------------------------------------------------------------ cleanup

_live: list[SshTunnel] = []
_previous: dict[int, Any] = {}
_installed = False


def _register(tunnel: SshTunnel) -> None:
    global _installed
    _live.append(tunnel)
    if _installed:
        return
    _installed = True
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGHUP, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            _previous[sig] = signal.signal(sig, _on_signal)


def _unregister(tunnel: SshTunnel) -> None:
    with contextlib.suppress(ValueError):
        _live.remove(tunnel)


def stop_all() -> None:
    """Stop every tunnel of this process (atexit, SIGHUP, SIGTERM)."""
    for tunnel in list(_live):
        tunnel.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    stop_all()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:  # the default: die of the signal, as without us
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def ssh_endpoint(
    host: str, remote_home: str | None = None, options: Sequence[str] = ()
) -> tuple[Endpoint, SshTunnel]:
    """The engine on host (its home remote_home, else its default), started there when none
    runs, as an Endpoint at a forwarded socket (never started here), with its running tunnel.
    SshError when ssh cannot reach it."""
    args = ssh_args(options)
    tunnel = SshTunnel(host, remote_socket(host, remote_home, args), args)
    tunnel.start()
    return at_socket(tunnel.local_socket, via=f"{host} over ssh"), tunnel
