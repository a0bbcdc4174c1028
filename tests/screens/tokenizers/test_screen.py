"""The tokenizer inspector, driven with Pilot against a real engine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from textual.widgets import Checkbox, DataTable, Input, Select, TextArea

from screens.tokenizers import TokenizerScreen
from screens.tokenizers.dialogs import AddTokenizerScreen, TokenizerPicker, TrainTokenizerScreen
from screens.tokenizers.grid import GridTab
from tests.helpers.engine import RunningEngine
from tests.helpers.screens import shown, wait_for
from workbench.app import WorkbenchApp
from workbench.viewstate import view_state_path
from workbench.widgets.footer import footer_text


def inspector_app(engine: RunningEngine) -> WorkbenchApp:
    """An app on the engine; the first on it compares MiniLM alone to start with, whichever
    optional tokenizers are installed (SmolLM2's, after make llm), as a fresh install does."""
    app = WorkbenchApp(engine.home)
    path = view_state_path(app.endpoint.describe())
    if path.exists():
        return app
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tokenizers.selected": ["minilm-wordpiece"]}))
    return WorkbenchApp(engine.home)


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


async def train(pilot, app: WorkbenchApp, name: str, kind: str, dataset: str, vocab: str) -> None:  # type: ignore[no-untyped-def]
    """Train a tokenizer through the dialog and wait until the inspector compares it."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainTokenizerScreen))
    dialog = app.screen
    dialog.query_one("#name", Input).value = name
    dialog.query_one("#kind", Select).value = kind
    dialog.query_one("#dataset", Select).value = dataset
    dialog.query_one("#vocab", Input).value = vocab
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen), timeout=120)
    screen = app.screen
    assert isinstance(screen, TokenizerScreen)
    await wait_for(pilot, lambda: name in screen.results)


async def test_it_opens_in_command_mode_and_text_entry_is_explicit(engine: RunningEngine) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        area = screen.query_one("#tok-input", TextArea)
        before = area.text
        await wait_for(pilot, lambda: screen.focused is screen.query_one("#chips-scroll"))
        assert screen.mode_label() == "COMMAND"
        await pilot.press("i")  # a command: the model-input tab, not a letter in the text
        await wait_for(pilot, lambda: screen.active_tab == "grid")
        assert area.text == before and screen.focused is screen.query_one("#grid-scroll")
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.active_tab == "chips")
        await pilot.press("slash")  # explicit: now letters are text
        assert screen.focused is area and screen.mode_label().startswith("TEXT")
        assert "esc leave text" in footer_text(screen) and "Padding" not in footer_text(screen)
        await pilot.press("end", "c", "g")
        assert area.text.endswith("cg") and screen.active_tab == "chips"
        await pilot.press("escape", "i")  # esc leaves the box at once: i is a command again
        await wait_for(pilot, lambda: screen.active_tab == "grid")
        assert area.text.endswith("cg") and screen.mode_label() == "COMMAND"
        # coming back to the screen finds it in command mode, even if left while typing
        await pilot.press("slash")
        assert screen.focused is area
        await pilot.press("escape", "1", "2")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
        await wait_for(pilot, lambda: screen.mode_label() == "COMMAND")


async def test_minilm_chips_ids_and_offsets(engine: RunningEngine) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await type_text(pilot, screen, "I love my dog")
        view = screen.results["minilm-wordpiece"].encodings[0]
        assert view.ids == [101, 1045, 2293, 2026, 3899, 102]
        assert view.offsets[2] == (2, 6)  # "love"
        chips = shown(app, "#chips-view")
        assert "love·2293" in chips and "[CLS]·101" in chips and "6 tokens" in chips
        # specials off: the same words without [CLS]/[SEP]
        await pilot.press("e")
        await wait_for(
            pilot,
            lambda: screen.results["minilm-wordpiece"].encodings[0].ids == [1045, 2293, 2026, 3899],
        )


async def test_train_a_word_tokenizer_and_compare(engine: RunningEngine) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await train(pilot, app, "word-rt", "word", "rotten-tomatoes", "5000")
        assert screen.selected[0] == "word-rt"
        await type_text(pilot, screen, "A zzzqqqx film")
        view = screen.results["word-rt"].encodings[0]
        assert view.tokens[1] == "<UNK>" and view.unknown[1]
        assert "1 unknown" in shown(app, "#chips-view")
        # choose tokenizers: only MiniLM; esc in the picker keeps the comparison
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerPicker))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
        assert screen.selected == ["word-rt", "minilm-wordpiece"]
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerPicker))
        picker = app.screen
        picker.query_one("#pick-list").deselect("word-rt")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.selected == ["minilm-wordpiece"])


def stop_pid(pid: int) -> None:
    """Stop the engine the app started in place of a killed one (it outlives the app)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


async def test_esc_closes_the_training_dialog_when_the_engine_dies_under_its_job(
    engine: RunningEngine,
) -> None:
    app = inspector_app(engine)
    respawned = 0
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_inspector(pilot, app)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainTokenizerScreen))
            dialog = app.screen
            assert isinstance(dialog, TrainTokenizerScreen)
            dialog.query_one("#name", Input).value = "wp-ng"
            dialog.query_one("#kind", Select).value = "wordpiece"
            dialog.query_one("#dataset", Select).value = "20-newsgroups"
            dialog.query_one("#vocab", Input).value = "30000"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: dialog.job_id is not None)
            os.kill(engine.pid, signal.SIGKILL)  # the job dies with its engine
            engine.proc.wait(10)
            # the app starts a new engine; the dialog learns its job is gone and says so
            await wait_for(pilot, lambda: app.link_state.restarts >= 1, timeout=90)
            respawned = app.link_state.engine_pid
            await wait_for(pilot, lambda: "job was lost" in shown(app, "#message"), timeout=30)
            assert dialog.job_id is None and app.screen is dialog
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
            # and a second dialog closes at once with esc even while its job still runs
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainTokenizerScreen))
            dialog = app.screen
            assert isinstance(dialog, TrainTokenizerScreen)
            dialog.query_one("#name", Input).value = "wp-ng"
            dialog.query_one("#kind", Select).value = "wordpiece"
            dialog.query_one("#dataset", Select).value = "20-newsgroups"
            dialog.query_one("#vocab", Input).value = "30000"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: dialog.job_id is not None)
            job_id = dialog.job_id
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
            assert screen.mode_label() == "COMMAND"
            # the job the dialog left is stopped, not left running
            await wait_for(
                pilot,
                lambda: (
                    job_id in app.link_state.jobs
                    and app.link_state.jobs[job_id].state not in ("queued", "running")
                ),
                timeout=60,
            )
            assert app.link_state.jobs[job_id].state == "cancelled"
    finally:
        if respawned:
            stop_pid(respawned)


async def test_model_input_grid_shows_each_tokenizer_pages_and_reflows(
    engine: RunningEngine,
) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await train(pilot, app, "word-rt", "word", "rotten-tomatoes", "5000")
        long = "a much longer line of text with many more words in it than sixteen tokens can hold at all"
        await type_text(pilot, screen, f"a short one\n{long}")
        await pilot.press("i")
        await wait_for(pilot, lambda: len(screen.grid) == 2)
        (first, word), (second, wp) = screen.grid
        assert (first, second) == ("word-rt", "minilm-wordpiece")
        assert not isinstance(wp, BaseException) and not isinstance(word, BaseException)
        short, longer = wp.encodings
        assert len(short.ids) == len(longer.ids)  # padded to the longest
        assert short.attention_mask[-1] == 0 and short.ids[-1] == 0  # [PAD] on the right
        view = shown(app, "#grid-view")
        assert "word-rt" in view and "minilm-wordpiece" in view  # every tokenizer compared
        positions = len(longer.ids)
        assert "more →" in view and f"{positions} positions" in view  # what is cut is marked
        tab = screen.query_one(GridTab)
        narrow = tab.widest()
        assert narrow is not None and narrow.after > 0
        await pilot.press("l")  # the next positions
        await wait_for(pilot, lambda: tab.start > 0)
        assert f"←{tab.start}" in shown(app, "#grid-view")
        await pilot.press("h")
        await wait_for(pilot, lambda: tab.start == 0)
        await pilot.resize_terminal(120, 36)  # wider: more positions on a line
        await wait_for(pilot, lambda: (w := tab.widest()) is not None and w.stop > narrow.stop)
        await wait_for(pilot, lambda: f"0-{tab.widest().stop - 1}" in shown(app, "#grid-view"))  # type: ignore[union-attr]
        await pilot.press("s")  # left padding
        await wait_for(
            pilot,
            lambda: (
                screen.options.side == "left"
                and isinstance(screen.grid[-1][1], type(wp))
                and screen.grid[-1][1].encodings[0].attention_mask[0] == 0  # type: ignore[union-attr]
            ),
        )
        await pilot.press("u")  # truncation at max length 16
        await wait_for(
            pilot,
            lambda: (
                screen.options.truncation
                and isinstance(screen.grid[-1][1], type(wp))
                and screen.grid[-1][1].encodings[1].truncated  # type: ignore[union-attr]
            ),
        )
        cut = screen.grid[-1][1]
        assert not isinstance(cut, BaseException) and len(cut.encodings[1].ids) == 16
        assert "attention_mask" in shown(app, "#grid-view") and "1✂" in shown(app, "#grid-view")
        await pilot.press("u", "u", "u")  # tail, head+tail, windows: a row per window
        await wait_for(
            pilot,
            lambda: (
                screen.options.strategy == "windows"
                and isinstance(screen.grid[-1][1], type(wp))
                and any(v.windows > 1 for v in screen.grid[-1][1].encodings)  # type: ignore[union-attr]
            ),
        )
        assert "1.2" in shown(app, "#grid-view") and "windows (u)" in shown(app, "#grid-opts")


async def test_dataset_view_shows_each_tokenizer_and_encodings(engine: RunningEngine) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await train(pilot, app, "word-rt", "word", "rotten-tomatoes", "5000")
        await pilot.press("a")
        keys = [screen.options.stats_key(n) for n in ("word-rt", "minilm-wordpiece")]
        await wait_for(pilot, lambda: all(k in screen.stats for k in keys), timeout=180)
        word, wp = (screen.stats[k] for k in keys)
        assert not isinstance(word, str) and not isinstance(wp, str)
        assert word.rows == wp.rows == 12808 and word.tokens < wp.tokens
        strategies = {p.strategy: p.padded_share for p in wp.padding}
        assert len(strategies) == 3 and min(strategies.values()) < 0.03
        table = screen.query_one("#data-table", DataTable)
        assert table.row_count == 2 and screen.focused is table
        assert f"{word.tokens:,}" in str(table.get_row_at(0)) and f"{wp.tokens:,}" in str(
            table.get_row_at(1)
        )
        assert "word-rt on rotten-tomatoes" in shown(app, "#data-summary")
        await pilot.press("j")  # the detail follows the highlighted tokenizer
        await wait_for(pilot, lambda: "minilm-wordpiece on" in shown(app, "#data-summary"))
        assert "padding at batch 32" in shown(app, "#data-summary")
        await type_text(pilot, screen, "a brilliant film")
        await pilot.press("v")
        await wait_for(pilot, lambda: screen.encoding is not None)
        assert screen.encoding is not None and screen.encoding.kind == "bow"
        assert {t.term for t in screen.encoding.terms} >= {"brilliant", "film"}
        await pilot.press("K")
        await wait_for(
            pilot, lambda: screen.encoding is not None and screen.encoding.kind == "tfidf"
        )


async def test_text_comparison_options_and_tab_come_back_after_a_restart(
    engine: RunningEngine,
) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await train(pilot, app, "word-rt", "word", "rotten-tomatoes", "5000")
        await type_text(pilot, screen, "kept\nacross a restart")
        await pilot.press("i", "p", "w")
        await wait_for(pilot, lambda: screen.options.show_tokens)
        left = (screen.selected, screen.options)
    app = inspector_app(engine)  # a new app on the same engine
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, TokenizerScreen))
        screen = app.screen
        assert isinstance(screen, TokenizerScreen)
        await wait_for(pilot, lambda: "word-rt" in screen.results)
        assert screen.text == "kept\nacross a restart"
        assert (screen.selected, screen.options) == left
        assert screen.active_tab == "grid" and screen.mode_label() == "COMMAND"


async def test_every_key_in_the_footer_and_the_help_works(engine: RunningEngine) -> None:
    app = inspector_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        ids = {row[3] for row in app.screen.rows}  # type: ignore[attr-defined]
        for bid in ("pick.confirm", "pick.cancel", "train.start", "train.close", "add.start"):
            assert bid in ids  # the dialogs' keys are in the help
        assert {b.id for b in TokenizerScreen.BINDINGS} <= ids
        await pilot.press("escape")
        assert not any(b.key in ("j", "k", "g", "G") for b in TokenizerScreen.BINDINGS)
        dialogs = (TokenizerPicker, TrainTokenizerScreen, AddTokenizerScreen)
        for tab in ("chips", "grid", "data", "vectors"):
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
                if isinstance(app.screen, dialogs):
                    await pilot.press("escape")  # every dialog closes with esc
                    await wait_for(pilot, lambda: app.screen is screen)
                elif app.screen is not screen:
                    await pilot.press("escape")  # help, jobs
                    await wait_for(pilot, lambda: app.screen is screen)
                if screen.focused is screen.query_one("#tok-input"):
                    await pilot.press("escape")
                assert app.is_running
            screen.show_tab(tab)


async def test_bad_input_is_calm(engine: RunningEngine, tmp_path: Path) -> None:
    app = inspector_app(engine)
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
        await pilot.press("o")
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
