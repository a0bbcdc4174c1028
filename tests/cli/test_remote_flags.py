"""The global options for an engine elsewhere: --socket (attach to any socket, never start an
engine there), --ssh's keepalive and ssh command lines, the usage errors, and `engine where`
(the socket a user elsewhere forwards). No sshd needed: tests/integration/test_ssh.py has it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.paths import resolve_home
from tests.helpers.engine import ROOT, RunningEngine
from workbench.cli import _app_home, main
from workbench.engine import ssh
from workbench.engine.endpoint import SOCKET_ENV


def wb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv) in this process: its exit code, stdout and stderr."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["workbench", *argv])  # usage errors read it for --json
        with pytest.raises(SystemExit) as exited:
            main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_the_app_alone_starts_without_the_subcommand_parsers() -> None:
    assert _app_home([]) == (True, None, None)
    assert _app_home(["--home", "h"]) == (True, "h", None)
    assert _app_home(["--home=h"]) == (True, "h", None)
    assert _app_home(["--socket", "/s.sock"]) == (True, None, "/s.sock")
    assert _app_home(["--socket=/s.sock"]) == (True, None, "/s.sock")
    assert _app_home(["--socket="]) == (False, None, None)
    assert _app_home(["--socket", "/s", "jobs"])[0] is False
    assert _app_home(["--home", "h", "--socket", "/s"])[0] is False  # the parser says no


def test_home_and_socket_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "--home", "h", "--socket", "/s.sock", "engine", "status")
    assert code == 2 and "--socket: not allowed with argument --home" in err
    code, _, err = run_main(capsys, "--ssh", "host", "--socket", "/s.sock", "jobs")
    assert code == 2 and "not allowed with" in err
    code, _, err = run_main(capsys, "--remote-home", "r", "jobs")
    assert code == 2 and "go with --ssh HOST" in err
    code, out, _ = run_main(capsys, "--home", "h", "--socket", "/s", "engine", "status", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "usage"


def test_a_missing_socket_says_where_it_looked_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "forwarded.sock"
    code, out, _ = run_main(capsys, "--socket", str(missing), "engine", "status", "--json")
    error = json.loads(out)["error"]
    assert code == 1 and error["code"] == "no_engine" and str(missing) in error["message"]
    assert "ssh -N -L" in error["hint"] and "--ssh HOST" in error["hint"]
    code, _, err = run_main(capsys, f"--socket={missing}")  # the app, on its fast path
    assert code == 1 and str(missing) in err and "never started here" in err
    assert not missing.exists()


def test_socket_attaches_to_the_engine_of_another_home_and_where_names_it(
    engine: RunningEngine, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    env["WORKBENCH_HOME"] = str(other)
    done = wb("--socket", str(engine.home.socket), "engine", "status", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    st: dict[str, Any] = json.loads(done.stdout)
    assert st["pid"] == engine.pid and st["home"] == engine.home.root
    assert not other.exists()  # the other home's engine was never started
    done = wb("--socket", str(engine.home.socket), "engine", "logs", "--json", env=env)
    assert done.returncode == 1 and json.loads(done.stdout)["error"]["code"] == "remote"

    # `engine where`: the socket a user elsewhere forwards, and whether an engine answers
    done = wb("--home", engine.home.root, "engine", "where", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    where = json.loads(done.stdout)
    assert where["socket"] == str(engine.home.socket) and where["home"] == engine.home.root
    assert where["running"] and where["pid"] == engine.pid
    idle = resolve_home(tmp_path / "idle")
    done = wb("--home", idle.root, "engine", "where")
    assert done.returncode == 0 and done.stdout.splitlines()[0] == str(idle.socket)
    assert "no engine answers there" in done.stdout and "ssh -N -L" in done.stderr
    assert not idle.socket.exists()  # asking where never starts one


def test_keepalive_only_when_the_users_config_sets_none(tmp_path: Path) -> None:
    assert ssh.needs_keepalive("user root\nserveraliveinterval 0\nserveralivecountmax 3\n")
    assert not ssh.needs_keepalive("serveraliveinterval 30\n")
    assert ssh.needs_keepalive("")
    config = tmp_path / "ssh_config"
    config.write_text("Host chatty\n  ServerAliveInterval 20\nHost quiet\n  Port 2222\n")
    args = ["-F", str(config)]
    assert ssh.keepalive_options("chatty", args) == []
    assert ssh.keepalive_options("quiet", args) == ssh.KEEPALIVE
    assert ssh.keepalive_options("quiet", [*args, "-o", "ServerAliveInterval=5"]) == []


def test_the_ssh_command_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ssh.SSH_ARGS_ENV, "-F '/tmp/my config'")
    args = ssh.ssh_args(["ConnectTimeout=5"])
    assert args == ["-F", "/tmp/my config", "-o", "ConnectTimeout=5"]
    monkeypatch.delenv(ssh.REMOTE_CMD_ENV, raising=False)
    assert ssh.remote_command(None, "engine", "start") == "workbench engine start"
    monkeypatch.setenv(ssh.REMOTE_CMD_ENV, "/opt/wb/bin/python -m workbench")
    assert (
        ssh.remote_command("/data/my home", "engine", "start", "--json")
        == "/opt/wb/bin/python -m workbench --home '/data/my home' engine start --json"
    )
    tunnel = ssh.SshTunnel("gpu1", "/run/wb/engine.sock", args, keepalive=ssh.KEEPALIVE)
    try:
        cmd = tunnel.command()
        assert cmd[: len(args) + 2] == ["ssh", *args, "-N"] and cmd[-1] == "gpu1"
        assert "ExitOnForwardFailure=yes" in cmd and "StreamLocalBindUnlink=yes" in cmd
        assert cmd[cmd.index("-L") + 1] == f"{tunnel.local_socket}:/run/wb/engine.sock"
        assert "ServerAliveInterval=15" in cmd and "BatchMode=yes" not in cmd
        assert "BatchMode=yes" in tunnel.command(batch=True)  # restarts never ask a password
        assert tunnel.folder.stat().st_mode & 0o777 == 0o700
    finally:
        tunnel.stop()
    assert not tunnel.folder.exists()


def test_an_unreachable_host_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(  # port 9 on loopback: nothing listens, refused at once
        "Host nowhere\n  HostName 127.0.0.1\n  Port 9\n  BatchMode yes\n  ConnectTimeout 5\n"
    )
    monkeypatch.setenv(ssh.SSH_ARGS_ENV, f"-F {config}")
    monkeypatch.delenv(SOCKET_ENV, raising=False)
    tunnel = ssh.SshTunnel("nowhere", "/run/wb/engine.sock", ssh.ssh_args())
    with pytest.raises(ssh.SshError, match=r"exited with code 255.*refused"):
        tunnel.start()
    assert tunnel.pid is None and not tunnel.folder.exists()
    code, out, _ = run_main(capsys, "--ssh", "nowhere", "engine", "status", "--json")
    error = json.loads(out)["error"]
    assert code == 1 and error["code"] == "ssh" and "nowhere" in error["message"]
    assert "refused" in error["message"]
