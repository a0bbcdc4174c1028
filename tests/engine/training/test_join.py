"""The pieces of a run on several nodes without training: torchrun's command lines, the
node ranks a run hands out, a join file's checks, and the folder a joined rank works in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.errors import EngineError
from engine.training.join import command, read_join_file
from engine.training.launch import Plan
from engine.training.rank import mirror


def test_one_node_is_standalone_and_several_rendezvous_at_node_0() -> None:
    alone = command(2)
    assert "--standalone" in alone and "--nproc-per-node=2" in alone
    assert alone[-2:] == ["-m", "engine.training.rank"]
    node = command(4, nodes=3, node_rank=2, endpoint=("10.0.0.1", 29500))
    assert "--standalone" not in node
    for flag in ("--nnodes=3", "--node-rank=2", "--master-addr=10.0.0.1", "--master-port=29500"):
        assert flag in node
    assert "--nproc-per-node=4" in node


def test_node_ranks_are_handed_out_once_each() -> None:
    plan = Plan(devices=2, nodes=3, endpoint=("h", 1))
    assert plan.ranks == 6
    assert plan.take(None) == 1
    assert plan.take(1) == "node rank 1 is not free: free are 2"
    assert plan.take(0) == "node rank 0 is not free: free are 2"  # the engine's own
    assert plan.take("2") == "node rank 2 is not free: free are 2"  # a rank is a number
    assert plan.take(2) == 2
    assert plan.take(None) == "the run's 3 nodes have all joined"


def test_a_join_file_is_checked_before_anything_is_reached(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no file") as err:
        read_join_file(tmp_path / "missing.json")
    assert "copy join.json" in err.value.hint
    bad = tmp_path / "bad.json"
    for text in ("{", json.dumps({"address": "x"}), json.dumps([1])):
        bad.write_text(text)
        with pytest.raises(EngineError, match=r"is not a run's join\.json"):
            read_join_file(bad)
    bad.write_text(json.dumps({"address": "/tmp/sock", "key": "00" * 32, "run": "r"}))
    with pytest.raises(EngineError, match="no TCP address"):
        read_join_file(bad)
    good = tmp_path / "join.json"
    good.write_text(json.dumps({"address": "tcp://h:1", "key": "ab" * 32, "run": "r"}))
    assert read_join_file(good) == {"address": "tcp://h:1", "key": b"\xab" * 32, "run": "r"}


def test_a_joined_rank_works_in_a_private_copy_of_the_checkpoint() -> None:
    folder = mirror({"checkpoints/ckpt-4/state.json": b"{}", "../escape.txt": b"x"})
    try:
        assert (folder / "checkpoints/ckpt-4/state.json").read_bytes() == b"{}"
        assert not (folder.parent / "escape.txt").exists()  # a name that climbs out
        assert folder.stat().st_mode & 0o777 == 0o700
    finally:
        import shutil

        shutil.rmtree(folder)
    empty = mirror(None)
    assert list(empty.iterdir()) == []
    empty.rmdir()
