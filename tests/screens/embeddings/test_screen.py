"""The embeddings screen, driven with Pilot against a real engine."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from screens.embeddings import EmbeddingsScreen
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp


async def open_screen(pilot, app: WorkbenchApp) -> EmbeddingsScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, EmbeddingsScreen))
    screen = app.screen
    assert isinstance(screen, EmbeddingsScreen)
    await wait_for(pilot, lambda: "glove-6b-50d" in screen.results, timeout=120)
    return screen


async def test_analogy_neighbours_and_compare(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        res = screen.results["glove-6b-50d"]
        words = [n.word for n in res.neighbours]
        assert "queen" in words[:3]
        assert not {"king", "man", "woman"} & set(words)
        assert "queen" in shown(app, "#near-a")
        await wait_for(pilot, lambda: "minilm-input" in screen.results)
        # a single word, then an unknown one: a message, not a crash
        query = screen.query_one("#emb-query", Input)
        query.value = "terrible"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.results["glove-6b-50d"].query == "terrible")
        assert "horrible" in [n.word for n in screen.results["glove-6b-50d"].neighbours[:3]]
        query.value = "kingg - man"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "kingg" in shown(app, "#near-a"))
        query.value = "king - - man"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "expected" in shown(app, "#near-a").lower())
        await pilot.press("escape", "k")
        assert screen.options.k == 20


async def test_context_and_sentence_similarity(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("escape", "x")
        await wait_for(pilot, lambda: screen.context is not None, timeout=180)
        ctx = screen.context
        assert ctx is not None and all(ctx.found) and ctx.static_known
        assert ctx.similarity[0][1] < 0.95  # the animal and the club differ
        assert "one vector" in shown(app, "#ctx-view")
        assert screen.sentence_matrix is not None
        area = screen.query_one("#ctx-sentences", TextArea)
        area.text = "I like this film.\nThis movie was enjoyable.\nStocks fell sharply today."
        screen.query_one("#ctx-word", Input).value = "film"
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: (
                screen.sentence_matrix is not None and len(screen.sentence_matrix.sentences) == 3
            ),
        )
        m = screen.sentence_matrix.matrix
        assert m[0][1] > m[0][2]  # the paraphrase is closer than the unrelated sentence


async def test_projection_pca_then_tsne(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("escape", "j")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=120)
        res = screen.projection
        assert res is not None and res.method == "pca"
        assert {p.group for p in res.points} == {"pets", "vehicles", "fruit"}
        assert 0 < sum(res.explained) <= 1
        screen.projection = None
        await pilot.press("m")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=180)
        assert screen.projection is not None and screen.projection.method == "tsne"
        assert "tsne" in shown(app, "#proj-opts")
