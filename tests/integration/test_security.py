"""Nobody else gets in: the home is private (folders 0700, files 0600, old homes closed on start),
the socket lives in a folder of the user's own, and each side checks the other's uid.

The second user is `nobody`: a forked child of the test drops to it (root only; skipped
otherwise), so no account is created or left behind."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import protocol as P
from engine.paths import resolve_home
from tests.helpers.engine import ROOT, RunningEngine, start_engine, stop_engine
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import at_socket

ROOT_ONLY = pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as a second user")


def nobody() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user to act as a second local user")
    return entry.pw_uid, entry.pw_gid


def as_other_user(action: Callable[[], int]) -> int:
    """Run action in a forked child that is `nobody`; its exit code (99 if it raised)."""
    uid, gid = nobody()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, act, leave without running pytest's teardown
        code = 99
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            code = action()
        except BaseException as exc:  # say why on stderr: the exit code alone says little
            os.write(2, f"as {uid}: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp folder every user may enter (pytest's own is closed to others), so that what
    stops the second user is the workbench's permissions and nothing above them."""
    path = Path(tempfile.mkdtemp(prefix="wb-sec-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def open_engine(open_tmp: Path) -> Iterator[RunningEngine]:
    home = resolve_home(open_tmp / "home")
    proc = start_engine(home)
    try:
        yield RunningEngine(home, proc)
    finally:
        stop_engine(proc)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def _import(client: EngineClient, csv: Path, name: str) -> None:
    done = asyncio.Event()
    client.subscribe(
        lambda evs, _: done.set() if any(isinstance(e, P.JobEnded) for e in evs) else None
    )
    await client.ask(
        P.DatasetImport(source=str(csv), name=name, text_column="text", label_column="label")
    )
    await asyncio.wait_for(done.wait(), 120)


async def test_the_home_is_private(
    client: EngineClient, engine: RunningEngine, tmp_path: Path
) -> None:
    csv = tmp_path / "open.csv"
    csv.write_text("text,label\n" + "".join(f"t {i},{'ab'[i % 2]}\n" for i in range(30)))
    os.chmod(csv, 0o644)  # a file anyone may read becomes the user's alone once imported
    await _import(client, csv, "mine")
    home = engine.home
    folders = [home.data_dir, home.runtime_dir, home.datasets_dir, home.datasets_dir / "mine"]
    assert {str(f): mode(f) for f in folders} == {str(f): 0o700 for f in folders}
    files = [home.db, home.log, *(home.datasets_dir / "mine").iterdir()]
    wal = home.db.with_name(home.db.name + "-wal")
    files += [wal] if wal.exists() else []
    assert {str(f): mode(f) for f in files} == {str(f): 0o600 for f in files}
    assert mode(home.socket) == 0o600


def test_an_old_home_is_closed_on_start(tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "home")
    old = home.data_dir / "vectors" / "old"  # a vector source from an older workbench
    old.mkdir(parents=True)
    (old / "vectors.npy").write_bytes(b"x")
    for folder in (home.data_dir, old.parent, old):
        os.chmod(folder, 0o755)
    os.chmod(old / "vectors.npy", 0o644)
    proc = start_engine(home)
    try:
        assert mode(home.data_dir) == mode(old.parent) == mode(old) == 0o700
        assert mode(old / "vectors.npy") == 0o600
        # the data folder is closed when it is checked; the walk closes the other three
        assert "closed 3 files and folders" in home.log.read_text()
    finally:
        stop_engine(proc)


def _engine_start(
    home_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", "--home", str(home_dir)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@ROOT_ONLY
def test_a_runtime_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    uid, gid = nobody()
    home = resolve_home(tmp_path / "home")
    home.runtime_dir.mkdir(parents=True)
    os.chown(home.runtime_dir, uid, gid)
    out = _engine_start(tmp_path / "home")
    assert out.returncode == 4
    assert f"belongs to uid {uid}, not to you" in out.stderr and "WORKBENCH_HOME" in out.stderr
    with pytest.raises(EngineError) as err:
        asyncio.run(EngineClient(home).connect(start=False, timeout=5))
    assert err.value.code == "untrusted_home"


def test_a_file_where_the_socket_folder_goes_is_refused(tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "home")
    home.data_dir.mkdir(parents=True)
    home.runtime_dir.write_text("not a folder")
    out = _engine_start(tmp_path / "home")
    assert out.returncode == 4 and "is not a folder" in out.stderr


@ROOT_ONLY
def test_the_short_socket_folder_of_a_deep_home_is_checked(tmp_path: Path) -> None:
    """A home too deep for a socket path puts its socket in TMPDIR/wb-UID: a folder another
    user made there first is refused, not used."""
    uid, gid = nobody()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "home"
    taken = tmp / f"wb-{os.getuid()}"
    taken.mkdir()
    os.chown(taken, uid, gid)
    out = _engine_start(deep, {"TMPDIR": str(tmp)})
    assert out.returncode == 4 and f"{taken} belongs to uid {uid}" in out.stderr


@ROOT_ONLY
def test_another_user_can_neither_reach_nor_read_the_engine(open_engine: RunningEngine) -> None:
    home = open_engine.home
    os.chmod(home.data_dir.parent, 0o755)

    def reach() -> int:
        try:
            socket.socket(socket.AF_UNIX).connect(str(home.socket))
        except PermissionError:
            return 13
        return 0

    def read() -> int:
        try:
            os.listdir(home.data_dir)
            home.db.read_bytes()
        except PermissionError:
            return 13
        return 0

    assert as_other_user(reach) == 13
    assert as_other_user(read) == 13


@ROOT_ONLY
def test_the_engine_refuses_a_client_of_another_uid(open_engine: RunningEngine) -> None:
    """Even with the folders opened by mistake, the engine checks who is calling."""
    home = open_engine.home
    os.chmod(home.data_dir, 0o711)
    os.chmod(home.runtime_dir, 0o711)
    os.chmod(home.socket, 0o666)

    def hello() -> int:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(home.socket))
        try:
            s.sendall(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION)))
        except BrokenPipeError:  # the engine may refuse before the hello is written
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:  # the engine hung up after its goodbye
            pass
        msgs = P.FrameDecoder(P.EngineFrame).feed(data)
        refused = len(msgs) == 1 and isinstance(msgs[0], P.Goodbye) and "refused" in msgs[0].reason
        return 7 if refused else 1

    try:
        assert as_other_user(hello) == 7
    finally:
        os.chmod(home.data_dir, 0o700)
        os.chmod(home.runtime_dir, 0o700)
        os.chmod(home.socket, 0o600)
    assert "refused client" in home.log.read_text()


@ROOT_ONLY
def test_the_client_refuses_an_engine_of_another_uid(open_tmp: Path) -> None:
    """Someone else listening where the client looks gets nothing: not even the Hello."""
    uid, gid = nobody()
    shared = open_tmp / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    sock = shared / "engine.sock"
    got = shared / "got"
    pid = os.fork()
    if pid == 0:  # a fake engine of another user: records whatever it is sent
        code = 99
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            server = socket.socket(socket.AF_UNIX)
            server.bind(str(sock))
            os.chmod(sock, 0o777)
            server.listen(1)
            conn, _ = server.accept()
            conn.settimeout(5)
            try:
                got.write_bytes(conn.recv(65536))
            except OSError:
                got.write_bytes(b"")
            code = 0
        finally:
            os._exit(code)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        with pytest.raises(EngineError) as err:
            asyncio.run(EngineClient(at_socket(sock)).connect(start=False, timeout=5))
        assert err.value.code == "untrusted_engine"
        assert f"runs as uid {uid}, not as you" in err.value.message
        os.waitpid(pid, 0)
        assert got.read_bytes() == b""  # no Hello, no request, no text reached it
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
