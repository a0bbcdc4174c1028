"""Files the user names on this machine, for an engine that may run on another one.

A path in a call means the engine's machine. When the engine is elsewhere (its Welcome names
another host, or WORKBENCH_UPLOAD=always), a local file is sent over the protocol in chunks
(system.upload) with a progress bar, and the call gets the path the engine answered with;
Ctrl-C discards the part sent. A folder cannot be sent: the error says to copy it there.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from engine import protocol as P
from engine.paths import absolute_path
from workbench.cli.common import err
from workbench.engine.client import EngineClient, EngineError

CHUNK = 4 * 2**20
UPLOAD_ENV = "WORKBENCH_UPLOAD"  # "always": send files even to an engine on this machine


def engine_is_remote(client: EngineClient) -> bool:
    """Whether the engine runs on another machine than this one (or uploads are forced)."""
    if os.environ.get(UPLOAD_ENV, "") == "always":
        return True
    welcome = client.welcome
    return bool(welcome and welcome.host and welcome.host != socket.gethostname())


async def engine_path(
    client: EngineClient,
    path: str,
    resolve: Callable[[str], str] = absolute_path,
    quiet: bool = False,
) -> str:
    """The path the engine should read for the user's path: resolve(path) (made absolute here)
    when the engine is on this machine or the path names nothing here (a hub name, a path on
    the engine's machine), else the path of the copy uploaded there."""
    local = _here(path)
    if local is None or not engine_is_remote(client):
        return resolve(path)
    if local.is_dir():
        raise EngineError(
            "usage",
            f"{local} is a folder, and the engine runs on {engine_host(client)}: only files are sent",
            "copy the folder to the engine's machine (scp -r) and give its path there",
        )
    return await upload(client, local, quiet)


def _here(path: str) -> Path | None:
    """The file or folder a path names on this machine, or None."""
    local = Path(path.strip()).expanduser()
    return local if path.strip() and local.exists() else None


def _chunk(path: Path, offset: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(CHUNK)


def engine_host(client: EngineClient) -> str:
    """The engine's host as its Welcome names it, for messages."""
    return (client.welcome.host if client.welcome else "") or "another machine"


async def upload(client: EngineClient, local: Path, quiet: bool = False) -> str:
    """Send one file in chunks; the engine-side path. Any failure or Ctrl-C discards it."""
    total = (await asyncio.to_thread(local.stat)).st_size
    started = await client.ask(P.FileUpload(name=local.name, total=total, final=total == 0))
    if started.path:
        return started.path
    upload_id = started.upload_id
    progress = transfer_bar(f"sending {local.name} to {engine_host(client)}", quiet)
    try:
        with progress:
            bar = progress.add_task("send", total=total)
            offset = 0
            while True:
                data = await asyncio.to_thread(_chunk, local, offset)
                final = offset + len(data) >= total
                res = await client.ask(
                    P.FileUpload(upload_id=upload_id, offset=offset, data=data, final=final),
                    timeout=120,
                )
                offset = res.received
                progress.update(bar, completed=offset)
                if final:
                    return res.path
    except BaseException:
        try:
            await client.ask(P.FileUpload(upload_id=upload_id, discard=True), timeout=10)
        except EngineError:
            pass
        raise


def transfer_bar(title: str, quiet: bool) -> Progress:
    """A bytes-moved bar on stderr (none when quiet: --json keeps stdout and stderr clean)."""
    return Progress(
        TextColumn(title),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
