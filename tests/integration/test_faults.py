"""Faults injected into a real engine: SIGKILL during an import and during a checkpoint write, and
a full disk. Each ends with the database sound, nothing half-registered or left behind, and the
engine (or the next one) answering as before."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.paths import Home, resolve_home
from engine.training.checkpoint import list_checkpoints, load_checkpoint
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY


def sound(home: Home) -> None:
    with sqlite3.connect(home.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def big_csv(path: Path, megabytes: int) -> Path:
    line = "a fairly long review text that repeats to make the file large " * 3
    with open(path, "w") as f:
        f.write("text,label\n")
        for i in range(megabytes * 1024 * 1024 // (len(line) + 8)):
            f.write(f"{line} {i},{'ab'[i % 2]}\n")
    return path


def test_sigkill_during_an_import_leaves_nothing_half_registered(
    home: Home, tmp_path: Path
) -> None:
    source = big_csv(tmp_path / "big.csv", 60)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        out = subprocess.Popen(  # the CLI follows the import; the engine dies under it
            [*wb_args(engine), "datasets", "import", str(source), "--name", "big", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(home.datasets_dir.glob(".tmp-*/*")):
            time.sleep(0.02)
        assert list(home.datasets_dir.glob(".tmp-*")), "the import never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            out.wait(30)
        if out.returncode is None:
            out.kill()
    finally:
        stop_engine(proc)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        sound(home)
        assert "big" not in [d["name"] for d in wb_json(engine, "datasets", "list")]
        assert list(home.datasets_dir.glob(".tmp-*")) == []  # swept at start, and said so
        assert "removing an unfinished dataset folder" in home.log.read_text()
    finally:
        stop_engine(proc)


def wb_args(engine: RunningEngine) -> list[str]:
    return [sys.executable, "-m", "workbench", "--home", engine.home.root]


def test_sigkill_during_a_checkpoint_write_keeps_every_checkpoint_whole(
    home: Home, tmp_path: Path
) -> None:
    config = tmp_path / "big.toml"
    # a wide embedding table: each checkpoint is tens of MB, so a write takes a while
    config.write_text(TINY.format(steps=400, every=2).replace("embed_dim = 16", "embed_dim = 256"))
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        run_id = wb_json(engine, "train", str(config))["run_id"]
        folder = home.data_dir / "runs" / run_id / "checkpoints"
        deadline = time.monotonic() + 120
        caught = False
        while time.monotonic() < deadline:
            if folder.is_dir() and any(p.name.endswith(".tmp") for p in os.scandir(folder)):
                if list_checkpoints(folder):  # at least one whole one before it
                    os.kill(proc.pid, signal.SIGKILL)
                    caught = True
                    break
            time.sleep(0.002)
        assert caught, "no checkpoint write was caught in the act"
        proc.wait(10)
    finally:
        stop_engine(proc)
    from engine.models import service as models

    for _, ckpt in list_checkpoints(folder):  # every complete one loads
        model = models.build_model(
            "embedding-bag",
            models.config_from_dict("embedding-bag", {"embed_dim": 256}),
            vocab_size=30522,
            num_classes=8,
            pad_id=0,
        )
        assert "step" in load_checkpoint(ckpt, model, restore_rng=False)
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        sound(home)
        assert wb_json(engine, "runs", "show", run_id)["run"]["state"] == "interrupted"
        out = wb(engine, "runs", "stop", run_id)  # not training: a clear refusal
        assert out.returncode == 1 and "not training" in out.stderr
    finally:
        stop_engine(proc)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs to hold a home (root only)."""
    if os.getuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine cannot mount a tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_import_cleanly(small_disk: Path, tmp_path: Path) -> None:
    home = resolve_home(small_disk / "home")
    source = tmp_path / "big.csv"
    source.write_text("text,label\n")
    with open(source, "a") as f:
        line = "a review long enough to fill a small disk quickly with its many words " * 4
        for i in range(200_000):
            f.write(f"{line} {i},{'ab'[i % 2]}\n")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        out = wb(engine, "datasets", "import", str(source), "--name", "big", "--json")
        assert out.returncode == 1
        assert '"code":"disk_full"' in out.stdout.replace(" ", ""), out.stdout + out.stderr
        assert "MiB are free" in out.stdout
        assert [d["name"] for d in wb_json(engine, "datasets", "list")] == [
            "rotten-tomatoes",
            "20-newsgroups",
            "reuters-r8",
        ]
        assert list(home.datasets_dir.glob(".tmp-*")) == []
        small = tmp_path / "small.csv"
        small.write_text("text,label\n" + "".join(f"t {i},{'ab'[i % 2]}\n" for i in range(40)))
        ok = wb_json(engine, "datasets", "import", str(small), "--name", "small")
        assert ok["rows"] == 40  # the engine goes on once there is room
        sound(home)
    finally:
        stop_engine(proc)
