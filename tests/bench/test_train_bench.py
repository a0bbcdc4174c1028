"""The training benchmark at its smallest size: it runs end to end and its rows are sane.

No timing is asserted: the figures of so few steps mean nothing; `python -m bench --only train`
measures them.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_the_smallest_training_benchmark_gives_sane_rows() -> None:
    from bench.train_bench import TINY, train_bench

    rows = train_bench(TINY, verbose=False)
    assert all(set(r) == {"figure", "value", "aim", "peer", "ratio"} for r in rows)
    figures = [r["figure"] for r in rows]
    text = {r["figure"]: r for r in rows}

    if importlib.util.find_spec("accelerate") is not None:  # HF's Trainer needs it
        ours, dynamic, grouped = rows[:3]
        assert "ours (bucketed)" in ours["figure"]
        for r in (dynamic, grouped):
            assert float(r["ratio"].split("x")[0]) > 0
            share = float(re.search(r"([\d.]+)% padded", r["peer"]).group(1))  # type: ignore[union-attr]
            assert 0 <= share < 100
        rate = float(re.match(r"([\d,]+) real tokens/s", ours["value"]).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert rate > 0
    else:
        assert rows[0]["value"] == "not measured"

    padding = [r for f, r in text.items() if f.startswith("real / computed tokens")]
    assert len(padding) == 2  # Rotten Tomatoes and 20 Newsgroups
    for r in padding:
        values = [float(v) for v in re.findall(r"\d\.\d{4}", r["value"] + r["peer"])]
        assert len(values) == 4 and all(0 < v <= 1 for v in values)
        bucketed_32, _, shuffled_32, _ = values
        assert bucketed_32 > shuffled_32  # bucketing pads less

    (accuracy,) = [r for f, r in text.items() if f.startswith("accuracy")]
    shares = [float(v) for v in re.findall(r"(\d+\.\d+)%", accuracy["value"] + accuracy["peer"])]
    assert len(shares) == 4 and all(40 <= v <= 100 for v in shares)
    assert "points" in accuracy["ratio"]
    assert "load average" in figures[-1] or "load average" in rows[-1]["value"]
