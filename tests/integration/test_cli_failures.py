"""The command line when things go wrong: every command's failure as {"error": {...}} with --json,
a lost engine or Ctrl-C ending a wait at once with a message, and the small tools around them
(jobs, tokenize from a file or stdin, capped tables)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import ROOT, RunningEngine, start_engine, stop_engine
from tests.helpers.runs import TINY

FAILING = [
    ["datasets", "show", "nope"],
    ["datasets", "rows", "nope"],
    ["datasets", "import", "/nope.csv", "--name", "x"],
    ["datasets", "split", "nope"],
    ["datasets", "stats", "nope"],
    ["datasets", "report", "nope"],
    ["datasets", "delete", "nope"],
    ["tokenizers", "show", "nope"],
    ["tokenizers", "delete", "nope"],
    ["tokenizers", "train", "x", "--kind", "char", "--dataset", "nope"],
    ["tokenizers", "add", "x", "/nope/tokenizer.json"],
    ["tokenizers", "stats", "nope", "--dataset", "reuters-r8"],
    ["tokenize", "--tokenizer", "nope", "hello"],
    ["tokenize"],
    ["encode", "--dataset", "nope", "hello"],
    ["neighbours", "zzqxv"],
    ["similarity", "--source", "nope", "one sentence", "another"],
    ["project"],
    ["vectors", "add", "x", "/nope.txt"],
    ["vectors", "delete", "nope"],
    ["vectors", "from-run", "nope", "x"],
    ["train", "/nope.toml"],
    ["train", "/dev/zero"],  # endless: refused as not a regular file, never read
    ["train", "/tmp"],
    ["tokenize", "--file", "/dev/zero"],
    ["runs", "rename", "nope", "x"],
    ["runs", "delete", "nope"],
    ["runs", "examples", "nope"],
    ["runs", "show", "nope"],
    ["runs", "stop", "nope"],
    ["runs", "resume", "nope"],
    ["runs", "export", "nope", "/tmp/nowhere-export"],
    ["jobs", "cancel", "nope"],
    ["jobs", "follow", "nope"],
    ["datasets", "rows"],  # a usage error
]


def json_error(out: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = [x for x in out.stdout.splitlines() if x.strip()]
    assert len(lines) == 1, out.stdout + out.stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] and error["message"] and error["code"] != "internal", error
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", FAILING, ids=lambda c: " ".join(c))
def test_every_failure_is_a_json_error(engine: RunningEngine, command: list[str]) -> None:
    out = wb(engine, *command, "--json")
    assert out.returncode != 0
    json_error(out)


def test_a_binary_config_and_no_engine_are_json_errors(
    engine: RunningEngine, tmp_path: Path
) -> None:
    binary = tmp_path / "run.toml"
    binary.write_bytes(bytes(range(256)) * 8)
    out = wb(engine, "train", str(binary), "--json")
    assert out.returncode == 1 and "not UTF-8 text" in json_error(out)["message"]
    nobody = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "--home",
            str(tmp_path / "none"),
            "engine",
            "status",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert nobody.returncode == 1 and json_error(nobody)["code"] == "engine_gone"


def _cli(engine: RunningEngine, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "--home", engine.home.root, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_lost_engine_ends_the_wait_at_once(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "big.csv"
    with open(source, "w") as f:
        f.write("text,label\n")
        for i in range(400_000):
            f.write(f"a review of some length that takes a while to import {i},{'ab'[i % 2]}\n")
    proc = start_engine(home)
    engine = RunningEngine(home, proc)
    try:
        cli = _cli(engine, "datasets", "import", str(source), "--name", "big")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(home.datasets_dir.glob(".tmp-*")):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        _, stderr = cli.communicate(timeout=30)
        assert time.monotonic() - t0 < 10
        # killed while following the job, or (on a loaded machine) while the call that
        # starts it was still on its way: either way a message at once, and exit code 1
        assert cli.returncode == 1
        assert (
            "lost the engine while following job" in stderr
            or "the engine closed the connection" in stderr
        ), stderr
    finally:
        stop_engine(proc)


def test_ctrl_c_stops_following_and_the_run_goes_on(engine: RunningEngine, tmp_path: Path) -> None:
    config = tmp_path / "long.toml"
    config.write_text(TINY.format(steps=100_000, every=500).replace("epochs = 1", "epochs = 50"))
    run_id = wb_json(engine, "train", str(config))["run_id"]
    cli = _cli(engine, "runs", "show", run_id, "--follow")
    time.sleep(3)  # it is following now
    cli.send_signal(signal.SIGINT)
    _, stderr = cli.communicate(timeout=20)
    assert cli.returncode == 130
    assert "goes on in the engine" in stderr and f"workbench runs show {run_id} --follow" in stderr
    assert wb_json(engine, "runs", "show", run_id)["run"]["state"] in ("running", "queued")
    assert wb(engine, "runs", "stop", run_id).returncode == 0


def test_jobs_tokenize_from_a_file_and_capped_tables(engine: RunningEngine, tmp_path: Path) -> None:
    assert isinstance(wb_json(engine, "jobs"), list)
    text = tmp_path / "long.txt"
    text.write_text("the movie was great " * 2000)
    from_file = wb_json(engine, "tokenize", "--file", str(text))
    assert from_file["encodings"][0]["n_tokens"] == 8002  # 4 words x 2000 and [CLS] [SEP]
    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "--home",
            engine.home.root,
            "tokenize",
            "--file",
            "-",
            "--json",
        ],
        cwd=ROOT,
        input="I love my dog",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(piped.stdout)["encodings"][0]["ids"] == [101, 1045, 2293, 2026, 3899, 102]
    many = wb(engine, "neighbours", "king", "--k", "1500")
    assert many.returncode == 0 and "+500 more rows; --json gives them all" in many.stdout
