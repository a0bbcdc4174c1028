"""Truncation strategies: the positions each reads of a long text, the template's specials
kept, windows that cover the text; a short text read whole by every one; pooled windows equal
the single window's prediction on a short text; the settings checked in a run config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.errors import EngineError
from engine.models import loading
from engine.models.truncation import Truncation
from engine.training.config import RunConfig

# [CLS] t1 .. t10 [SEP]: specials at both ends
MASK = [1] + [0] * 10 + [1]


def test_each_strategy_keeps_the_specials_and_reads_its_part() -> None:
    assert Truncation("head").pick(MASK, 6) == [[0, 1, 2, 3, 4, 5]]  # as before: a plain cut
    assert Truncation("tail").pick(MASK, 6) == [[0, 7, 8, 9, 10, 11]]
    assert Truncation("head+tail", head_tokens=1).pick(MASK, 6) == [[0, 1, 8, 9, 10, 11]]
    assert Truncation("head+tail").pick(MASK, 10) == [[0, 1, 2, 5, 6, 7, 8, 9, 10, 11]]
    windows = Truncation("windows", stride=3).pick(MASK, 6)
    assert windows == [[0, 1, 2, 3, 4, 11], [0, 4, 5, 6, 7, 11], [0, 7, 8, 9, 10, 11]]
    covered = {p for w in Truncation("windows").pick(MASK, 5) for p in w}
    assert covered == set(range(12))  # every token is read by some window
    for how in ("head", "tail", "head+tail", "windows"):
        assert Truncation(how).pick(MASK, 12) == [list(range(12))]  # it fits: read whole
        assert Truncation(how).pick([0] * 4, 8) == [[0, 1, 2, 3]]


def test_a_text_of_specials_only_falls_back_to_the_head() -> None:
    assert Truncation("tail").pick([1, 1, 1, 1], 2) == [[0, 1]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"truncation": "middle"}, "data.truncation must be one of head, tail, head+tail"),
        ({"pool": "sum"}, "data.pool must be one of mean, max"),
        ({"stride": -1}, "data.stride must be a whole number of 0 or more"),
        ({"truncation": "head+tail", "head_tokens": 64}, "must be less than max_length (64)"),
        ({"truncation": "windows", "stride": 65}, "stride (65) must be at most max_length"),
        ({"truncaton": "tail"}, "unknown data setting: truncaton"),
    ],
)
def test_bad_settings_are_refused_in_the_config(data: dict[str, object], message: str) -> None:
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in data.items())
    text = f'[data]\ndataset = "d"\nmax_length = 64\n{lines}[model]\narch = "cnn"\n'
    with pytest.raises(EngineError) as err:
        RunConfig.from_toml(text)
    assert message in err.value.message


def test_a_config_carries_its_truncation() -> None:
    text = (
        '[data]\ndataset = "d"\nmax_length = 64\ntruncation = "windows"\nstride = 16\n'
        'pool = "max"\n[model]\narch = "cnn"\n'
    )
    cfg = RunConfig.from_toml(text)
    assert cfg.truncation == Truncation("windows", stride=16, pool="max")
    assert cfg.truncation.to_data() == {"truncation": "windows", "stride": 16, "pool": "max"}
    assert RunConfig.from_toml('[data]\ndataset = "d"\n[model]\narch = "cnn"\n').truncation == (
        Truncation()
    )


class _Run:
    def __init__(self, truncation: Truncation | None) -> None:
        self.truncation = truncation
        self.labels = ["a", "b", "c"]
        self.pad_id = 0


class _Trained:
    """What pooled_probabilities reads of a trained model: a mean-of-embeddings classifier."""

    def __init__(self, truncation: Truncation | None) -> None:
        torch.manual_seed(0)
        table = torch.randn(20, 3)

        def model(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return (table[ids] * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)

        self.model = model
        self.run = _Run(truncation)


def test_pooled_windows_equal_the_single_window_on_a_short_text() -> None:
    short = [[2, 5, 7, 3]]
    for pool in ("mean", "max"):
        trained = _Trained(Truncation("windows", pool=pool))
        one = loading.probabilities_of_ids(trained, short)  # type: ignore[arg-type]
        pooled = loading.pooled_probabilities(trained, [short])  # type: ignore[arg-type]
        np.testing.assert_allclose(pooled, one, atol=1e-9)


def test_windows_pool_their_logits() -> None:
    windows = [[2, 5, 3], [2, 9, 3], [2, 11, 3]]
    for pool in ("mean", "max"):
        trained = _Trained(Truncation("windows", pool=pool))
        logits = loading.logits_of_ids(trained, windows)  # type: ignore[arg-type]
        pooled = logits.mean(axis=0) if pool == "mean" else logits.max(axis=0)
        want = np.exp(pooled - pooled.max()) / np.exp(pooled - pooled.max()).sum()
        got = loading.pooled_probabilities(trained, [windows, windows[:1]])  # type: ignore[arg-type]
        np.testing.assert_allclose(got[0], want, atol=1e-9)
        np.testing.assert_allclose(got[1], loading.probabilities_of_ids(trained, windows[:1])[0])  # type: ignore[arg-type]
