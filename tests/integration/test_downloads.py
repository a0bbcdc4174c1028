"""Folders made on the engine's machine reach the client's (training.export_staged, then
system.download): `runs export` against an engine elsewhere (forced here with
WORKBENCH_UPLOAD=always: the test's engine runs on this machine) writes the same bytes a local
export does, only listed files of a staged download can be read, and the staged folder is
deleted when the client is done, gives up, or goes quiet."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
import typing
from pathlib import Path

import pytest

from engine import protocol as P
from engine.core import downloads
from engine.core.errors import EngineError as EngineSideError
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from tests.helpers.runs import three_config, three_splits
from workbench.cli import download
from workbench.engine.client import EngineClient, EngineError


def _trained(engine: RunningEngine, tmp: Path) -> str:
    three_splits(engine, tmp)
    assert wb(engine, "train", str(three_config(tmp, epochs=1)), "--follow").returncode == 0
    return str(wb_json(engine, "runs", "list")[-1]["run_id"])


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file under folder: (its bytes, its mode)."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _modes(folder: Path) -> tuple[int, int]:
    """(its mode, its parent's mode)."""
    return stat.S_IMODE(folder.stat().st_mode), stat.S_IMODE(folder.parent.stat().st_mode)


def _log(engine: RunningEngine) -> str:
    return engine.home.log.read_text(encoding="utf-8")


def _staged(engine: RunningEngine) -> list[str]:
    root = engine.home.data_dir / "downloads"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_an_export_from_an_engine_elsewhere_is_fetched_whole(
    engine: RunningEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _trained(engine, tmp_path)
    here = tmp_path / "here"
    wb_json(engine, "runs", "export", run_id, str(here))  # the engine writes it itself
    monkeypatch.setenv("WORKBENCH_UPLOAD", "always")
    fetched = tmp_path / "new" / "deeper" / "fetched"
    done = wb(engine, "runs", "export", run_id, str(fetched), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    said = json.loads(done.stdout)["ok"]  # stdout holds the JSON alone: no progress bar
    assert f"to {fetched} (weights" in said and str(engine.home.data_dir) not in said
    mine, theirs = _tree(fetched), _tree(here)
    assert sorted(mine) == ["config.toml", "labels.txt", "model.safetensors", "tokenizer.json"]
    assert {k: v[0] for k, v in mine.items()} == {k: v[0] for k, v in theirs.items()}
    assert {mode for _, mode in mine.values()} == {0o600}
    assert _staged(engine) == []  # released, and deleted
    assert _log(engine).count("staged: 4 files") == 1 and "released: deleted" in _log(engine)
    assert sorted(p.name for p in fetched.parent.iterdir()) == ["fetched"]  # no part left
    # an empty folder is filled; one that holds something is refused before any export
    empty = tmp_path / "empty"
    empty.mkdir()
    assert wb(engine, "runs", "export", run_id, str(empty)).returncode == 0
    assert _tree(empty).keys() == mine.keys()
    refused = wb(engine, "runs", "export", run_id, str(fetched), "--json")
    assert refused.returncode == 1 and "exists and is not empty" in refused.stdout
    assert _staged(engine) == []
    unknown = wb(engine, "runs", "export", "r-none", str(tmp_path / "none"), "--json")
    assert unknown.returncode == 1 and not (tmp_path / "none").exists()
    assert _staged(engine) == []


class _CtrlC:
    """A client that is interrupted (as asyncio.run cancels on Ctrl-C) after n chunks."""

    def __init__(self, real: EngineClient, n: int) -> None:
        self.real, self.left, self.welcome = real, n, real.welcome

    async def ask(self, call: P.Returns[typing.Any], timeout: float | None = None) -> typing.Any:
        if isinstance(call, P.FileDownload) and not call.release:
            if self.left == 0:
                raise asyncio.CancelledError
            self.left -= 1
        return await self.real.ask(call, timeout)


async def test_only_listed_files_are_read_and_the_staged_folder_goes(
    engine: RunningEngine,
    client: EngineClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = await asyncio.to_thread(_trained, engine, tmp_path)
    ready = await client.ask(P.RunExportStaged(run_id=run_id))
    staged = Path(ready.folder)
    assert staged.is_relative_to(engine.home.data_dir / "downloads")
    assert _modes(staged) == (0o700, 0o700)
    assert ready.total == sum(f.size for f in ready.files) > 100_000
    big = max(ready.files, key=lambda f: f.size)
    did = ready.download_id
    # any offset, any size up to the bound; a chunk past the end is empty
    got = b""
    while len(got) < big.size:
        part = await client.ask(
            P.FileDownload(download_id=did, name=big.name, offset=len(got), size=100_000)
        )
        assert part.size == big.size and part.offset == len(got)
        got += part.data
    assert got == (staged / big.name).read_bytes()
    end = await client.ask(P.FileDownload(download_id=did, name=big.name, offset=big.size + 9))
    assert end.data == b""
    log = str(engine.home.log)
    for call, message in [
        (P.FileDownload(download_id=did, name="../../engine.log"), "not a file of download"),
        (P.FileDownload(download_id=did, name=log), "not a file of download"),
        (P.FileDownload(download_id=did, name=f"./{big.name}"), "not a file of download"),
        (P.FileDownload(download_id=did, name=""), "not a file of download"),
        (P.FileDownload(download_id="nope", name=big.name), "no download 'nope' is open"),
        (P.FileDownload(download_id="../uploads", name=big.name), "no download"),
        (P.FileDownload(download_id="", release=True), "no download"),
        (
            P.FileDownload(download_id=did, name=big.name, size=downloads.CHUNK_MAX + 1),
            "a download chunk is 1 byte to 16 MiB",
        ),
        (P.FileDownload(download_id=did, name=big.name, size=0), "chunk is 1 byte"),
        (P.FileDownload(download_id=did, name=big.name, offset=-1), "offset is 0 or more"),
    ]:
        with pytest.raises(EngineError, match=message):
            await client.ask(call)
    # a listed file swapped for a link on the engine's machine is not followed
    small = next(f for f in ready.files if f.name == "labels.txt")
    (staged / small.name).unlink()
    (staged / small.name).symlink_to(engine.home.log)
    with pytest.raises(EngineError, match="cannot be read"):
        await client.ask(P.FileDownload(download_id=did, name=small.name))
    released = await client.ask(P.FileDownload(download_id=did, release=True))
    assert released.download_id == did and not staged.parent.exists()
    with pytest.raises(EngineError, match="no download"):
        await client.ask(P.FileDownload(download_id=did, name=big.name))
    assert await client.ask(P.Ping(payload=b"still here"))

    # Ctrl-C in the middle: nothing at the path, not even its new parent; the engine's copy goes
    monkeypatch.setattr(download, "CHUNK", 64 * 2**10)
    out = tmp_path / "made" / "cut"
    with pytest.raises(asyncio.CancelledError):
        await download.export_here(typing.cast(EngineClient, _CtrlC(client, 3)), run_id, str(out))
    assert not (tmp_path / "made").exists()
    assert _staged(engine) == []
    # and the same through the CLI's function, whole, in small chunks
    said = await download.export_here(client, run_id, str(out))
    assert str(out) in said and _tree(out).keys() == {f.name for f in ready.files}
    assert _staged(engine) == []


def test_a_staged_folder_is_private_listed_and_deleted_when_idle(tmp_path: Path) -> None:
    def make(out: Path) -> str:
        (out / "sub").mkdir(parents=True)
        (out / "sub" / "b.bin").write_bytes(b"b" * 5000)
        (out / "a.txt").write_text("a")
        os.chmod(out / "a.txt", 0o644)
        return f"made {out}"

    staged = downloads.Downloads(tmp_path, idle=0.2)
    ready = staged.stage(make)
    assert [(f.name, f.size) for f in ready.files] == [("a.txt", 1), ("sub/b.bin", 5000)]
    folder = Path(ready.folder)
    assert stat.S_IMODE((folder / "a.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "sub").stat().st_mode) == 0o700
    chunk = staged.handle(P.FileDownload(download_id=ready.download_id, name="sub/b.bin"))
    assert chunk.data == b"b" * 5000
    for _ in range(100):  # no chunk for 0.2 s: deleted
        if not folder.parent.exists():
            break
        time.sleep(0.05)
    assert not folder.parent.exists()
    with pytest.raises(EngineSideError, match="no download"):
        staged.handle(P.FileDownload(download_id=ready.download_id, name="a.txt"))

    def linked(out: Path) -> str:
        out.mkdir()
        (out / "x").symlink_to("/etc/passwd")
        return "made"

    def broken(out: Path) -> str:
        out.mkdir()
        raise EngineSideError("no checkpoint")

    for bad, message in [(linked, "not a plain file"), (broken, "no checkpoint")]:
        with pytest.raises(EngineSideError, match=message):
            staged.stage(bad)
    assert list(staged.root.iterdir()) == []  # neither left a folder
    # an engine that starts deletes what an earlier one left, not a download it holds
    (staged.root / "0123456789abcdef" / "out").mkdir(parents=True)
    held = downloads.Downloads(tmp_path)
    kept = held.stage(make)
    assert held.sweep() == 1 and [p.name for p in held.root.iterdir()] == [kept.download_id]
