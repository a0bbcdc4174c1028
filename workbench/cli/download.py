"""Folders the engine makes, brought to the user's machine when the engine runs on another one.

`runs export RUN PATH` against an engine elsewhere (its Welcome names another host, or
WORKBENCH_UPLOAD=always): the engine exports into a private staging folder of its own
(training.export_staged), every file of it is fetched in chunks (system.download) with a
progress bar and checked against the size and SHA-256 the engine listed, and the whole folder
appears at PATH at once. Ctrl-C, or any failure, leaves nothing at PATH; the engine deletes its
staged copy in every case (a release, or after a while with no chunk asked).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from engine import protocol as P
from engine.paths import absolute_path
from workbench.cli.upload import engine_host, transfer_bar
from workbench.engine.client import EngineClient, EngineError

CHUNK = 4 * 2**20


async def export_here(client: EngineClient, run_id: str, path: str, quiet: bool = False) -> str:
    """Export run_id on the engine's machine and fetch the folder to path on this one; what
    the export said, naming path."""
    local = Path(absolute_path(path))
    await asyncio.to_thread(_check_free, local)
    ready = await client.ask(P.RunExportStaged(run_id=run_id))
    try:
        await fetch(client, ready, local, quiet)
    finally:
        try:
            await client.ask(P.FileDownload(download_id=ready.download_id, release=True), 10)
        except EngineError:
            pass  # gone already: the engine deletes it after a while anyway
    return ready.message.replace(ready.folder, str(local))


def _check_free(local: Path) -> None:
    """Refuse a folder that holds something (as the engine's export does), or a file."""
    if local.is_dir():
        if any(local.iterdir()):
            raise EngineError(
                "bad_input", f"{local} exists and is not empty", "choose a new folder"
            )
    elif local.exists() or local.is_symlink():
        raise EngineError("bad_input", f"{local} exists and is not a folder", "choose a new folder")


def _local_name(base: Path, name: str) -> Path:
    """Where a listed file goes under base; a name that would leave it is refused."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise EngineError("protocol", f"the engine listed a file named '{name[:80]}'")
    return base.joinpath(*parts)


async def fetch(
    client: EngineClient, ready: P.DownloadReady, local: Path, quiet: bool = False
) -> None:
    """Every file of a staged download into local (a new or empty folder), all or nothing."""
    missing = next((p for p in [*reversed(local.parents), local] if not p.exists()), None)
    local.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f".{local.name}.part-", dir=local.parent))
    progress = transfer_bar(f"fetching {local.name} from {engine_host(client)}", quiet)
    try:
        with progress:
            bar = progress.add_task("fetch", total=ready.total)
            done = 0
            for staged in ready.files:
                target = _local_name(part, staged.name)
                await asyncio.to_thread(target.parent.mkdir, 0o700, True, True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    digest = hashlib.sha256()
                    offset = 0
                    while offset < staged.size:
                        chunk = await client.ask(
                            P.FileDownload(
                                download_id=ready.download_id,
                                name=staged.name,
                                offset=offset,
                                size=min(CHUNK, staged.size - offset),
                            ),
                            timeout=120,
                        )
                        if chunk.offset != offset or not chunk.data:
                            raise EngineError(
                                "protocol",
                                f"{staged.name}: asked for byte {offset:,}, got "
                                f"{len(chunk.data):,} bytes at {chunk.offset:,}",
                            )
                        await asyncio.to_thread(fh.write, chunk.data)
                        digest.update(chunk.data)
                        offset += len(chunk.data)
                        progress.update(bar, completed=done + offset)
                done += staged.size
                if offset != staged.size or digest.hexdigest() != staged.sha256:
                    raise EngineError(
                        "protocol",
                        f"{staged.name} arrived different from the engine's copy",
                        "export it again",
                    )
        os.rename(part, local)  # onto a missing or empty folder: the whole folder at once
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        if missing is not None and missing != local:
            shutil.rmtree(missing, ignore_errors=True)  # the folders made for it
        raise
