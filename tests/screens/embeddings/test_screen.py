"""The embeddings screen, driven with Pilot against a real engine."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from screens.embeddings import EmbeddingsScreen
from screens.embeddings.model import PRESETS
from screens.embeddings.projection import ScatterPlot
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.widgets.footer import footer_text


async def open_screen(pilot, app: WorkbenchApp) -> EmbeddingsScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, EmbeddingsScreen))
    screen = app.screen
    assert isinstance(screen, EmbeddingsScreen)
    await wait_for(pilot, lambda: "glove-6b-50d" in screen.results, timeout=120)
    return screen


async def test_it_opens_in_command_mode_and_typing_is_explicit(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        query = screen.query_one("#emb-query", Input)
        await wait_for(pilot, lambda: screen.focused is screen.query_one("#near-scroll"))
        sources = (screen.options.source, screen.options.compare)
        await pilot.press("x")  # a command: the context tab
        await wait_for(pilot, lambda: screen.active_tab == "context")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.active_tab == "near")
        assert query.value == "king - man + woman"
        await pilot.press("slash")  # now a sentence is text: no tab, no source changes
        assert screen.focused is query and screen.mode_label().startswith("TEXT")
        assert footer_text(screen).startswith("? help  esc leave text")
        query.value = ""
        await pilot.press(*"cats and dogs", "enter")
        assert query.value == "cats and dogs" and screen.active_tab == "near"
        assert (screen.options.source, screen.options.compare) == sources
        await pilot.press("escape", "K")  # esc leaves the box at once: K is a command
        assert screen.options.k == 20 and screen.mode_label() == "COMMAND"
        # the context tab: / types its word, e its sentences; esc applies them
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.context is not None, timeout=180)
        await pilot.press("slash")
        assert screen.focused is screen.query_one("#ctx-word", Input)
        await pilot.press("escape", "e")
        assert screen.focused is screen.query_one("#ctx-sentences", TextArea)
        await pilot.press("escape")
        assert screen.focused is screen.query_one("#ctx-scroll")


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
        await pilot.press("slash")
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
        await pilot.press("escape", "K")
        assert screen.options.k == 20


async def test_the_source_never_becomes_the_compared_one(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await wait_for(pilot, lambda: "minilm-input" in screen.results)
        assert (screen.options.source, screen.options.compare) == ("glove-6b-50d", "minilm-input")
        await pilot.press("s")  # onto the compared source: the two swap, and it says so
        assert (screen.options.source, screen.options.compare) == ("minilm-input", "glove-6b-50d")
        await wait_for(pilot, lambda: any("swapped" in n.message for n in app._notifications))
        await wait_for(pilot, lambda: shown(app, "#near-a").startswith("minilm-input"))
        assert shown(app, "#near-b").startswith("glove-6b-50d")
        await pilot.press("s")
        assert (screen.options.source, screen.options.compare) == ("glove-6b-50d", "minilm-input")


async def test_context_and_sentence_similarity(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.context is not None, timeout=180)
        ctx = screen.context
        assert ctx is not None and all(ctx.found) and ctx.static_known
        assert ctx.similarity[0][1] < 0.95  # the animal and the club differ
        view = shown(app, "#ctx-view")
        assert "one vector" in view
        assert "A bat flew out of the cave at dusk." in view  # whole at 80 columns
        assert screen.sentence_matrix is not None
        area = screen.query_one("#ctx-sentences", TextArea)
        await pilot.press("e")
        area.text = "I like this film.\nThis movie was enjoyable.\nStocks fell sharply today."
        await pilot.press("escape")  # leaving the box compares what was typed
        await wait_for(
            pilot,
            lambda: (
                screen.sentence_matrix is not None and len(screen.sentence_matrix.sentences) == 3
            ),
            timeout=120,
        )
        m = screen.sentence_matrix.matrix
        assert m[0][1] > m[0][2]  # the paraphrase is closer than the unrelated sentence
        # more sentences than columns fit: the rest are marked and paged with l
        many = [f"Sentence number {i} is about a film." for i in range(30)]
        area.text = "\n".join(many)
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: (
                screen.sentence_matrix is not None and len(screen.sentence_matrix.sentences) == 30
            ),
            timeout=180,
        )
        await wait_for(pilot, lambda: "→" in shown(app, "#ctx-view"))
        await pilot.press("l")
        await wait_for(pilot, lambda: "←" in shown(app, "#ctx-view"))


async def test_projection_legend_labels_and_typed_groups(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=120)
        res = screen.projection
        assert res is not None and res.method == "pca"
        assert {p.group for p in res.points} == {"pets", "vehicles", "fruit"}
        assert 0 < sum(res.explained) <= 1
        plot = screen.query_one(ScatterPlot)
        assert screen.focused is plot
        await wait_for(pilot, lambda: plot.laid is not None)
        # the legend is its own line above the plot, never drawn over the points
        legend = shown(app, "#proj-legend")
        assert all(g in legend for g in ("pets", "vehicles", "fruit"))
        drawn = plot.render().plain
        assert "vehicles" not in drawn and "pets" not in drawn
        laid = plot.laid
        assert laid is not None
        shown_labels = {lab.text for lab in laid.labels}
        assert shown_labels <= {p.word for p in res.points}
        assert all(word in drawn for word in shown_labels)  # every label drawn is whole
        hidden = len(res.points) - len(shown_labels)
        if hidden:
            assert "hidden" in shown(app, "#proj-note") or "under another" in shown(
                app, "#proj-note"
            )
        # j walks the words: the highlighted one is named and its label shown
        await pilot.press("j")
        first = plot.highlighted
        assert first is not None and f"▶ {first.word}" in shown(app, "#proj-note")
        assert first.word in {lab.text for lab in plot.laid.labels}  # type: ignore[union-attr]
        await pilot.press("G")
        assert plot.highlighted is not None and plot.highlighted != first
        # a wider screen: the plot re-flows to the room it has
        await pilot.resize_terminal(120, 36)
        await wait_for(pilot, lambda: plot.laid is not None and plot.laid.width > laid.width)
        # your own groups, typed in the app (explicit text entry, esc projects them)
        await pilot.press("e")
        box = screen.query_one("#proj-groups", TextArea)
        assert screen.focused is box and screen.mode_label().startswith("TEXT")
        box.text = "colours: red green blue yellow\ntools: hammer saw drill wrench"
        screen.projection = None
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=120)
        assert {p.group for p in screen.projection.points} == {"colours", "tools"}  # type: ignore[union-attr]
        assert "your own" in shown(app, "#proj-opts") and "colours" in shown(app, "#proj-legend")
        # a wrong text says what is wrong and projects nothing
        await pilot.press("e")
        box.text = "colours: red green; : oops"
        await pilot.press("escape")
        await wait_for(pilot, lambda: "no name" in shown(app, "#proj-note"))
        assert {p.group for p in screen.projection.points} == {"colours", "tools"}  # type: ignore[union-attr]
        # w goes back to the presets
        screen.projection = None
        await pilot.press("w")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=120)
        assert box.text == screen.options.groups and screen.options.is_preset
        assert {p.group for p in screen.projection.points} == set(PRESETS[0][1])  # type: ignore[union-attr]


async def test_projection_pca_then_tsne(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=120)
        screen.projection = None
        await pilot.press("m")
        await wait_for(pilot, lambda: screen.projection is not None, timeout=180)
        assert screen.projection is not None and screen.projection.method == "tsne"
        assert "tsne" in shown(app, "#proj-opts")
        assert "no units" in shown(app, "#proj-note")


async def test_every_key_in_the_footer_and_the_help_works(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        ids = {row[3] for row in app.screen.rows}  # type: ignore[attr-defined]
        assert {b.id for b in EmbeddingsScreen.BINDINGS} <= ids
        await pilot.press("escape")
        assert not any(b.key in ("j", "k", "g", "G") for b in EmbeddingsScreen.BINDINGS)
        for tab in ("near", "context", "project"):
            screen.show_tab(tab)
            await wait_for(pilot, lambda t=tab: screen.active_tab == t)
            await pilot.pause()
            for key, active in list(screen.active_bindings.items()):
                if not active.enabled or active.binding.action == "quit":
                    continue
                if active.binding.action.startswith(("switch_mode", "show_tab")):
                    continue
                await pilot.press(key)
                await pilot.pause()
                if app.screen is not screen:
                    await pilot.press("escape")  # help, jobs
                    await wait_for(pilot, lambda: app.screen is screen)
                if not screen.command_mode():
                    await pilot.press("escape")
                assert app.is_running and screen.command_mode()
            screen.show_tab(tab)
