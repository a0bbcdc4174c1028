"""Files from the client's machine reach an engine on another one (system.upload): chunks
checked before a byte is written, private files under the engine's data dir, and the CLI's
imports, tokenizers and vectors going through it when the engine is elsewhere (forced here
with WORKBENCH_UPLOAD=always: the test's engine runs on this machine)."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest

from engine import protocol as P
from engine.core import uploads
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from workbench.engine.client import EngineClient, EngineError


async def test_a_file_sent_in_chunks_arrives_whole_and_private(
    client: EngineClient, engine: RunningEngine
) -> None:
    data = bytes(range(256)) * 1000
    first = await client.ask(P.FileUpload(name="reviews.csv", total=len(data)))
    assert first.received == 0 and not first.path
    uid = first.upload_id
    mid = await client.ask(P.FileUpload(upload_id=uid, offset=0, data=data[:100_000]))
    assert mid.received == 100_000 and not mid.path
    with pytest.raises(EngineError, match="holds 100,000 bytes; this chunk starts at 0"):
        await client.ask(P.FileUpload(upload_id=uid, offset=0, data=data[:10]))  # a retry
    with pytest.raises(EngineError, match="ends at"):
        await client.ask(P.FileUpload(upload_id=uid, offset=100_000, data=b"x", final=True))
    end = await client.ask(
        P.FileUpload(upload_id=uid, offset=100_001, data=data[100_001:], final=True)
    )
    path = Path(end.path)
    body, file_mode, folder_mode = _look(path)
    assert body[:100_000] == data[:100_000] and body[100_000] == ord("x")
    assert len(body) == len(data) and path.name == "reviews.csv"
    assert path.is_relative_to(engine.home.data_dir / "uploads")
    assert (file_mode, folder_mode) == (0o600, 0o700)
    with pytest.raises(EngineError, match="no upload"):  # closed: no more chunks
        await client.ask(P.FileUpload(upload_id=uid, offset=len(data), data=b"y"))
    gone = await client.ask(P.FileUpload(upload_id=uid, discard=True))
    assert gone.upload_id == uid and not _exists(path)


def _look(path: Path) -> tuple[bytes, int, int]:
    """(its bytes, its mode, its folder's mode)."""
    return (
        path.read_bytes(),
        stat.S_IMODE(path.stat().st_mode),
        stat.S_IMODE(path.parent.stat().st_mode),
    )


def _exists(path: Path) -> bool:
    return path.exists()


BAD = [
    (P.FileUpload(name="../../etc/passwd", total=1), "not a file name"),
    (P.FileUpload(name="a/b.csv", total=1), "not a file name"),
    (P.FileUpload(name="", total=1), "not a file name"),
    (P.FileUpload(name="..", total=1), "not a file name"),
    (P.FileUpload(name="x" * 300, total=1), "not a file name"),
    (P.FileUpload(name="big.csv", total=uploads.TOTAL_MAX + 1), "at most"),
    (P.FileUpload(name="neg.csv", total=-5), "at most"),
    (P.FileUpload(upload_id="nope", offset=0, data=b"x"), "no upload"),
    (P.FileUpload(upload_id="../..", discard=True), "discard"),
    (P.FileUpload(name="a.csv", total=1, data=b"x" * (uploads.CHUNK_MAX + 1)), "chunk is at most"),
]


async def test_bad_uploads_are_refused_with_a_reason(
    client: EngineClient, engine: RunningEngine
) -> None:
    for call, message in BAD:
        with pytest.raises(EngineError, match=message):
            await client.ask(call)
    assert await client.ask(P.Ping(payload=b"still here"))  # the engine goes on
    assert _found(engine.home.data_dir.parent, "passwd") == []
    free = await asyncio.to_thread(shutil.disk_usage, engine.home.data_dir)
    if free.free < uploads.TOTAL_MAX:  # a file larger than the disk is refused up front
        with pytest.raises(EngineError, match="GiB free"):
            await client.ask(P.FileUpload(name="fat.csv", total=uploads.TOTAL_MAX))


def _found(folder: Path, name: str) -> list[Path]:
    return list(folder.rglob(name))


def test_the_cli_sends_files_to_an_engine_elsewhere(
    engine: RunningEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_UPLOAD", "always")
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\n" + "".join(f"review {i} ok,{'pos' if i % 2 else 'neg'}\n"
                                            for i in range(40)))  # fmt: skip
    made = wb_json(engine, "datasets", "import", str(csv), "--name", "sent")
    assert made["rows"] == 40
    assert "/uploads/" in made["source"] and made["source"].endswith("mine.csv")
    vec = tmp_path / "tiny.txt"
    vec.write_text("alpha 1 0 0\nbeta 0.9 0.1 0\ngamma 0 0 1\n")
    added = wb_json(engine, "vectors", "add", "tiny", str(vec))
    assert added["vocab_size"] == 3 and "/uploads/" in added["source"]
    sent = sorted(p.name for p in (engine.home.data_dir / "uploads").rglob("*") if p.is_file())
    assert sent == ["mine.csv", "tiny.txt"]
    folder = tmp_path / "saved"
    folder.mkdir()
    refused = wb(engine, "datasets", "import", str(folder), "--name", "nope", "--json")
    assert refused.returncode == 1 and "only files are sent" in refused.stdout
    hub = wb(engine, "datasets", "import", "owner/not-here", "--name", "hub", "--json")
    assert hub.returncode == 1 and "only files" not in hub.stdout  # not a file here: as before
