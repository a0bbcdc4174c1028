"""An engine on "another machine" through ssh, against a real sshd on loopback: `--ssh HOST`
starts the remote engine and forwards its socket (no local engine ever), a run goes on when the
link drops, the tunnel comes back and the same front reconnects, and no ssh outlives its front.
The app attached through --ssh shows the drop (reconnecting), reconnects, and its training
monitor then holds the run's whole history, no gap across the outage. The remote is this
machine under another home; skipped without openssh-server or root."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import protocol as P
from engine.paths import Home, resolve_home
from screens.training import TrainingScreen
from tests.helpers.engine import ROOT
from tests.helpers.runs import write
from tests.helpers.screens import shown, wait_for
from tests.helpers.sshd import ALIAS, Sshd, running_sshd
from workbench.app import WorkbenchApp
from workbench.cli.system import stop_by_pidfile
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.link import EngineLink
from workbench.engine.ssh import REMOTE_CMD_ENV, SSH_ARGS_ENV, ssh_endpoint, stop_all

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def remote(sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The remote's home; ssh, the remote command and a local home (never used) set for this
    process and the fronts it runs. The remote engine is stopped afterwards."""
    config = tmp_path / "remote-config"
    config.mkdir()
    monkeypatch.setenv(SSH_ARGS_ENV, sshd.ssh_args)
    monkeypatch.setenv(
        REMOTE_CMD_ENV,
        f"cd {ROOT} && env HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 XDG_CONFIG_HOME={config} "
        f"{sys.executable} -m workbench",
    )
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "local"))
    remote_home = tmp_path / "remote"
    try:
        yield remote_home
    finally:
        stop_all()
        with contextlib.suppress(EngineError):
            stop_by_pidfile(resolve_home(remote_home))
        assert not (tmp_path / "local").exists()  # nothing ever started a local engine


def wb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wb_json(*args: str) -> Any:
    done = wb(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def tunnels_to(remote_socket: Path) -> list[int]:
    """Pids of the ssh processes forwarding remote_socket."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv[0] == b"ssh" and any(a.endswith(b":" + bytes(remote_socket)) for a in argv):
                found.append(int(proc.name))
    return found


def until(test: Callable[[], Any], seconds: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or test}")


def test_the_cli_reaches_and_starts_a_remote_engine_through_ssh(remote: Path) -> None:
    st = wb_json("--ssh", ALIAS, "--remote-home", str(remote), "engine", "status")
    home = resolve_home(remote)
    assert st["home"] == home.root and st["socket"] == str(home.socket)
    again = wb_json("--ssh", ALIAS, "--remote-home", str(remote), "engine", "status")
    assert again["pid"] == st["pid"]  # the running engine, not a second one
    assert tunnels_to(home.socket) == []  # every front stopped its ssh on exit
    began = time.monotonic()
    stopped = wb_json("--ssh", ALIAS, "--remote-home", str(remote), "engine", "stop")
    assert stopped == {"stopped": True, "pid": st["pid"]} and not home.socket.exists()
    assert time.monotonic() - began < 8  # the forwarded socket stays; the closed link tells


def test_a_run_goes_on_when_the_link_drops_and_the_front_reconnects(
    remote: Path, tmp_path: Path
) -> None:
    home = resolve_home(remote)
    follower = subprocess.Popen(  # a front following the run it starts, over its own tunnel
        [sys.executable, "-m", "workbench", "--ssh", ALIAS, "--remote-home", str(remote)]
        + ["train", str(write(tmp_path, 600, 100)), "--follow"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        followers = until(lambda: tunnels_to(home.socket), 60, "the follower's ssh")
        runs = until(lambda: wb_json("--home", str(remote), "runs", "list"), 60, "the run")
        direct = ("--home", str(remote), "runs", "show", runs[-1]["run_id"])  # no ssh
        seen = asyncio.run(_drop_and_reconnect(remote, direct))
        follower.send_signal(signal.SIGTERM)
        # it dies of the signal, as without ssh; or it had followed the run to its end (below)
        assert follower.wait(15) in (0, -signal.SIGTERM)
        until(lambda: not any(Path(f"/proc/{p}").exists() for p in followers), 10, "its ssh")
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(5)
    final = until(
        lambda: (r := wb_json(*direct)["run"])["state"] != "running" and r, 90, "the run's end"
    )
    assert final["state"] == "finished" and final["step"] >= seen, final
    assert tunnels_to(home.socket) == []


async def _drop_and_reconnect(remote: Path, direct: tuple[str, ...]) -> int:
    """A front (the app's link) over ssh: its ssh killed mid-run, the run goes on, the tunnel
    comes back and the link reconnects to the same engine; the run's step at the drop."""
    endpoint, tunnel = ssh_endpoint(ALIAS, str(remote))
    assert not endpoint.spawns and ALIAS in endpoint.describe()
    ready: list[bool] = []
    lost: list[str] = []
    news = asyncio.Event()

    async def until_news(test: Callable[[], bool], seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while not test():
                news.clear()
                await news.wait()

    def on_ready(restarted: bool) -> None:
        ready.append(restarted)
        news.set()

    def on_lost(reason: str) -> None:
        lost.append(reason)
        news.set()

    link = EngineLink(endpoint, on_ready=on_ready, on_lost=on_lost)
    task = asyncio.create_task(link.run())
    try:
        await until_news(lambda: bool(ready), 30)
        session = link.state.session_id
        first = tunnel.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)  # the link drops
        await until_news(lambda: bool(lost), 30)
        shown = (await asyncio.to_thread(wb_json, *direct))["run"]
        assert shown["state"] == "running", shown  # mid-run, and going on
        await until_news(lambda: len(ready) == 2, 60)  # ssh comes back, the link with it
        assert tunnel.restarts >= 1 and tunnel.pid not in (None, first)
        assert ready == [False, False] and link.state.session_id == session  # same engine
        st = await link.ask(P.Status(), timeout=20)
        assert st.home == resolve_home(remote).root
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.client.close()
        tunnel.stop()
    assert tunnel.pid is None and not tunnel.folder.exists()
    return int(shown["step"])


async def _stored_loss(home: Home, run_id: str) -> tuple[str, list[tuple[int, float]]]:
    """The run's state and its whole train_loss series, asked of its engine directly (no ssh)."""
    client = EngineClient(home, name="test")
    await client.connect(start=False)
    try:
        hist = await client.ask(P.RunShow(run_id=run_id))
    finally:
        await client.close()
    return hist.run.state, [(s, v) for s, v in hist.series.get("train_loss", [])]


async def test_the_app_over_ssh_says_it_reconnects_and_its_monitor_shows_the_whole_history(
    remote: Path, tmp_path: Path
) -> None:
    home = resolve_home(remote)
    endpoint, tunnel = await asyncio.to_thread(ssh_endpoint, ALIAS, str(remote))
    # a run with no evaluations that would train for minutes: it is stopped once seen through
    config = write(tmp_path, 10**6, 10**6).read_text().replace("epochs = 1\n", "epochs = 999\n")
    app = WorkbenchApp(endpoint)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.connected, 60)
            session = app.link_state.session_id
            run_id = (await app.ask(P.RunStart(config_toml=config))).run.run_id
            await pilot.press("5")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen
            assert isinstance(screen, TrainingScreen)

            def loss() -> list[tuple[int, float]]:
                return list(screen.history.points(run_id, "train_loss"))

            await wait_for(pilot, lambda: screen.selected == run_id and len(loss()) >= 20, 60)
            first = tunnel.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)  # the link drops mid-run
            await wait_for(pilot, lambda: "reconnecting" in shown(app, "#status-bar"), 10)
            assert not app.connected
            state, at_drop = await _stored_loss(home, run_id)
            assert state == "running", state
            await wait_for(pilot, lambda: app.connected, 60)  # ssh comes back, the link with it
            assert tunnel.restarts >= 1 and tunnel.pid not in (None, first)
            assert app.link_state.session_id == session  # the same engine: nothing restarted
            await wait_for(pilot, lambda: "reconnecting" not in shown(app, "#status-bar"), 10)
            # the run went on through the outage, and live points come again after it
            await wait_for(pilot, lambda: bool(loss()) and loss()[-1][0] > at_drop[-1][0] + 20, 60)
            await app.ask(P.RunControl(run_id=run_id, action="stop"))
            await wait_for(pilot, lambda: screen.runs[run_id].state == "stopped", 60)
            state, stored = await _stored_loss(home, run_id)
            assert state == "stopped", state
            assert [s for s, _ in stored] == list(range(1, len(stored) + 1))  # every step
            with contextlib.suppress(AssertionError):  # the last batch's points may be on the way
                await wait_for(pilot, lambda: loss() == stored, 10)
            held = {s for s, _ in loss()}
            missing = [s for s, _ in stored if s not in held]
            assert loss() == stored, f"the monitor lacks steps {missing[:5]}… ({len(missing)})"
    finally:
        tunnel.stop()
    assert tunnel.pid is None and not tunnel.folder.exists()
