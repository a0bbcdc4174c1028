"""The app's view state file: round trip, types, corrupt and oversized files, privacy."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.viewstate import MAX_BYTES, ViewState, view_state_path


def test_round_trip_private_and_typed(tmp_path: Path) -> None:
    path = tmp_path / "views" / "a.json"
    state = ViewState(path)
    state.set("training.log", True)
    state.set("training.overlay", ["r1", "r2"])
    state.save()
    assert (path.stat().st_mode & 0o777) == 0o600
    again = ViewState(path)
    assert again.get("training.log", False) is True
    assert again.get("training.overlay", []) == ["r1", "r2"]
    assert again.get("training.log", "x") == "x"  # the wrong type: the default
    assert again.get("missing", 3) == 3 and again.problem == ""


def test_bad_files_start_empty_with_a_reason(tmp_path: Path) -> None:
    corrupt = tmp_path / "c.json"
    corrupt.write_text("{not json")
    state = ViewState(corrupt)
    assert state.get("k", 1) == 1 and "starts afresh" in state.problem
    big = tmp_path / "b.json"
    big.write_bytes(b" " * (MAX_BYTES + 1))
    assert "over" in ViewState(big).problem
    listed = tmp_path / "l.json"
    listed.write_text("[1, 2]")
    assert "no view state" in ViewState(listed).problem


def test_unwritable_place_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = ViewState(blocker / "views" / "x.json")  # a folder under a file
    state.set("k", 1)
    state.save()
    assert "could not save" in state.problem


def test_one_file_per_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    a, b = view_state_path("for home /a"), view_state_path("for home /b")
    assert a != b and a.parent == b.parent and str(a).startswith(str(tmp_path))
