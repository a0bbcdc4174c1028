"""The attack benchmark without TextAttack or a victim: it says how to build them and skips, and
it picks the examples run_textattack.py picks (pandas' sample(n, random_state=0)).

No attack runs here: `python -m bench --only attack` runs both sides for minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import attack_bench
from engine.paths import resolve_home


def test_a_missing_victim_skips_both_sides_with_the_build_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(attack_bench, "VICTIM", tmp_path / "no-victim")
    rows = attack_bench.attack_bench(resolve_home(tmp_path / "home"), n=5)
    assert [r["value"] for r in rows] == ["skipped"]
    out = capsys.readouterr().out
    assert "victim.py" in out and "textattack==0.3.11" in out


def test_the_examples_are_the_ones_run_textattack_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"text": [f'text, "{i}"\nline' for i in range(40)], "label": [i % 2 for i in range(40)]}
    )
    frame.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "rotten", "1": "fresh"}}))
    monkeypatch.setattr(attack_bench, "VICTIM", tmp_path)
    texts, labels = attack_bench._examples(10)
    want = pd.read_csv(tmp_path / "test.csv").sample(n=10, random_state=0)
    assert texts == list(want.text)
    assert labels == [["rotten", "fresh"][y] for y in want.label]
