"""The tokenizer inspector, driven with Pilot against a real engine."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import Checkbox, Input, Select, TextArea

from screens.tokenizers import TokenizerScreen
from screens.tokenizers.dialogs import AddTokenizerScreen, TokenizerPicker, TrainTokenizerScreen
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp


async def open_inspector(pilot, app: WorkbenchApp) -> TokenizerScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: app.connected)
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
    screen = app.screen
    assert isinstance(screen, TokenizerScreen)
    await wait_for(pilot, lambda: "minilm-wordpiece" in screen.results)
    return screen


async def type_text(pilot, screen: TokenizerScreen, text: str) -> None:  # type: ignore[no-untyped-def]
    before = screen.renders
    area = screen.query_one("#tok-input", TextArea)
    area.text = text
    await wait_for(pilot, lambda: screen.renders > before and not screen._busy)


async def test_minilm_chips_ids_and_offsets(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await type_text(pilot, screen, "I love my dog")
        view = screen.results["minilm-wordpiece"].encodings[0]
        assert view.ids == [101, 1045, 2293, 2026, 3899, 102]
        assert view.offsets[2] == (2, 6)  # "love"
        chips = shown(app, "#chips-view")
        assert "love·2293" in chips and "[CLS]·101" in chips and "6 tokens" in chips
        # specials off: the same words without [CLS]/[SEP]
        await pilot.press("escape", "e")
        await wait_for(
            pilot,
            lambda: screen.results["minilm-wordpiece"].encodings[0].ids == [1045, 2293, 2026, 3899],
        )


async def test_train_a_word_tokenizer_and_compare(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainTokenizerScreen))
        dialog = app.screen
        dialog.query_one("#name", Input).value = "word-rt"
        dialog.query_one("#dataset", Select).value = "rotten-tomatoes"
        dialog.query_one("#vocab", Input).value = "5000"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen), timeout=120)
        await wait_for(pilot, lambda: "word-rt" in screen.results)
        assert screen.selected[0] == "word-rt"
        await type_text(pilot, screen, "A zzzqqqx film")
        view = screen.results["word-rt"].encodings[0]
        assert view.tokens[1] == "<UNK>" and view.unknown[1]
        assert "1 unknown" in shown(app, "#chips-view")
        # choose tokenizers: only MiniLM
        await pilot.press("escape", "t")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerPicker))
        picker = app.screen
        picker.query_one("#pick-list").deselect("word-rt")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.selected == ["minilm-wordpiece"])


async def test_model_input_grid_padding_and_truncation(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await type_text(
            pilot,
            screen,
            "a short one\na much longer line of text with many more words in it than sixteen tokens can hold at all",
        )
        await pilot.press("escape", "g")
        await wait_for(pilot, lambda: screen.grid is not None and len(screen.grid.encodings) == 2)
        assert screen.grid is not None
        short, long = screen.grid.encodings
        assert len(short.ids) == len(long.ids)  # padded to the longest
        assert short.attention_mask[-1] == 0 and short.ids[-1] == 0  # [PAD] on the right
        await pilot.press("s")  # left padding
        await wait_for(
            pilot,
            lambda: (
                screen.grid is not None
                and screen.options.side == "left"
                and screen.grid.encodings[0].attention_mask[0] == 0
            ),
        )
        await pilot.press("u")  # truncation at max length 16
        await wait_for(
            pilot,
            lambda: (
                screen.grid is not None
                and screen.options.truncation
                and screen.grid.encodings[1].truncated
            ),
        )
        assert len(screen.grid.encodings[1].ids) == 16
        assert "input_ids" in shown(app, "#grid-view") and "attention" in shown(app, "#grid-view")


async def test_dataset_view_and_encodings(engine: RunningEngine) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await pilot.press("escape", "a")
        await wait_for(pilot, lambda: screen.token_stats is not None, timeout=120)
        st = screen.token_stats
        assert st is not None and st.rows == 12808 and st.dataset == "rotten-tomatoes"
        strategies = {p.strategy: p.padded_share for p in st.padding}
        assert len(strategies) == 3
        assert min(strategies.values()) < 0.03
        assert "padding at batch 32" in shown(app, "#data-summary")
        await type_text(pilot, screen, "a brilliant film")
        await pilot.press("v")
        await wait_for(pilot, lambda: screen.encoding is not None)
        assert screen.encoding is not None and screen.encoding.kind == "bow"
        assert {t.term for t in screen.encoding.terms} >= {"brilliant", "film"}
        await pilot.press("k")
        await wait_for(
            pilot, lambda: screen.encoding is not None and screen.encoding.kind == "tfidf"
        )


async def test_bad_input_is_calm(engine: RunningEngine, tmp_path: Path) -> None:
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await type_text(pilot, screen, "")
        assert screen.results["minilm-wordpiece"].encodings[0].ids == [101, 102]
        await type_text(pilot, screen, "tab\there\x07bell 🙂 naïve")
        assert screen.results["minilm-wordpiece"].encodings[0].n_tokens > 3
        t0 = time.perf_counter()
        await type_text(pilot, screen, "lorem ipsum dolor " * 60_000)  # ~1 MB
        assert time.perf_counter() - t0 < 30
        assert "more tokens" in shown(app, "#chips-view")
        # a path that is not a tokenizer
        junk = tmp_path / "junk.json"
        junk.write_text('{"hello": 1}')
        await pilot.press("escape", "o")
        await wait_for(pilot, lambda: isinstance(app.screen, AddTokenizerScreen))
        app.screen.query_one("#path", Input).value = str(junk)
        app.screen.query_one("#name", Input).value = "junk"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "not a tokenizer" in shown(app, "#message"))
        await pilot.press("escape")
        # a vocab size of zero
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainTokenizerScreen))
        app.screen.query_one("#name", Input).value = "zero"
        app.screen.query_one("#vocab", Input).value = "0"
        app.screen.query_one("#lowercase", Checkbox).value = False
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "vocab size" in shown(app, "#message").lower())
        assert app.is_running
