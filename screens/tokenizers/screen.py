"""The tokenizer inspector: what tokenizers make of typed text, and what that costs on data.

It opens in command mode on the tab's main pane (letters are commands); `/` or enter types
into the text, esc leaves it. Typing never waits on the engine: each change marks the text
dirty and one worker keeps asking for the latest text until it has caught up, so a fast
typist gets the newest answer, not a queue of stale ones. The text, the tokenizers compared,
the options and the tab come back after a restart (view state "tokenizers.*").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TextArea

from engine import protocol as P
from screens.tokenizers.chips import ChipsTab
from screens.tokenizers.data import DataTab, StatsAnswer
from screens.tokenizers.encodings import EncodingsTab
from screens.tokenizers.grid import GridTab
from screens.tokenizers.model import (
    MAX_COMPARED,
    SAMPLE,
    InspectorOptions,
    grid_lines,
    hidden_lines,
    kept_text,
    put_first,
    restored_note,
    still_compared,
)
from screens.tokenizers.slots import CompareSlots
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen, WorkbenchModal

TABS = ("chips", "grid", "data", "vectors")


class TokenizerScreen(TabbedScreen):
    CSS_PATH = "tokenizers.tcss"
    BINDINGS: ClassVar = [
        Binding("slash,enter", "edit", "Edit text", id="tokenizers.edit"),
        Binding("t", "pick", "Tokenizers", show=False, id="tokenizers.pick"),
        Binding("n", "train", "Train", show=False, id="tokenizers.train"),
        Binding("o", "add", "Add file", show=False, id="tokenizers.add"),
        Binding("c", "show_tab('chips')", "Tokens", show=False, id="tokenizers.tab.chips"),
        Binding("i", "show_tab('grid')", "Model input", show=False, id="tokenizers.tab.grid"),
        Binding("a", "show_tab('data')", "Dataset", show=False, id="tokenizers.tab.data"),
        Binding("v", "show_tab('vectors')", "Encodings", show=False, id="tokenizers.tab.vectors"),
        Binding("l,right", "page(1)", "More →", id="tokenizers.page_right"),
        Binding("h,left", "page(-1)", "← Back", show=False, id="tokenizers.page_left"),
        Binding("p", "cycle_padding", "Padding", id="tokenizers.padding"),
        Binding("u", "toggle_truncation", "Truncate", id="tokenizers.truncation"),
        Binding("m", "cycle_max_length", "Max len", id="tokenizers.max_length"),
        Binding("s", "toggle_side", "Side", id="tokenizers.side"),
        Binding("e", "toggle_specials", "Specials", id="tokenizers.specials"),
        Binding("w", "toggle_cells", "Ids/tokens", id="tokenizers.cells"),
        Binding("d", "cycle_dataset", "Dataset", id="tokenizers.dataset"),
        Binding("b", "cycle_batch", "Batch", id="tokenizers.batch"),
        Binding("K", "cycle_kind", "Kind", id="tokenizers.kind"),
    ]
    TABS, FIRST_TAB = "tok-tabs", "chips"
    TAB_ACTIONS: ClassVar = {
        "page": {"grid", "data"},
        "cycle_padding": {"grid"},
        "toggle_truncation": {"grid"},
        "toggle_side": {"grid"},
        "toggle_specials": {"chips", "grid"},
        "toggle_cells": {"grid"},
        "cycle_max_length": {"grid", "data"},
        "cycle_batch": {"data"},
        "cycle_dataset": {"data", "vectors"},
        "cycle_kind": {"vectors"},
    }
    # command mode: each tab's own pane or table, never the text box
    TAB_FOCUS: ClassVar = {
        "chips": "#chips-scroll",
        "grid": "#grid-scroll",
        "data": "#data-table",
        "vectors": "#enc-table",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tokenizers: list[P.TokenizerInfo] = []
        self.selected: list[str] = []
        self.results: dict[str, P.TokenizeResult] = {}
        self.grid: list[tuple[str, P.TokenizeResult | BaseException]] = []
        self.stats: dict[tuple[str, str, int, int], P.TokenStatsResult | str] = {}
        self.encoding: P.EncodeResult | None = None
        self.datasets: list[str] = []
        self.options = InspectorOptions()
        self._dirty = False
        self._busy = False
        self._restored_note = ""
        self.renders = 0  # times the chips were redrawn (benchmarks read it)
        self.last_render = 0.0
        self.last_paint = 0.0  # when the redrawn chips reached the screen

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        from screens.tokenizers.dialogs import (
            AddTokenizerScreen,
            TokenizerPicker,
            TrainTokenizerScreen,
        )

        return [
            ("choose tokenizers (dialog)", TokenizerPicker.BINDINGS),
            ("train a tokenizer (dialog)", TrainTokenizerScreen.BINDINGS),
            ("add a tokenizer (dialog)", AddTokenizerScreen.BINDINGS),
            ("every dialog", WorkbenchModal.BINDINGS),
        ]

    def compose_body(self) -> ComposeResult:
        state = self.shell.view_state
        text = state.get("tokenizers.text", SAMPLE)
        self._restored_note = restored_note(text, state.get("tokenizers.text_length", len(text)))
        self.selected = [n for n in state.get("tokenizers.selected", []) if isinstance(n, str)]
        self.selected = self.selected[:MAX_COMPARED]
        self.options = InspectorOptions.from_state(state.get("tokenizers.options", {}))
        tab = state.get("tokenizers.tab", "chips")
        area = TextArea(text, id="tok-input", soft_wrap=True, show_line_numbers=False)
        area.border_title = "text to tokenize"
        yield area
        yield CompareSlots("", id="tok-slots")
        with TabbedContent(id="tok-tabs", initial=tab if tab in TABS else "chips"):
            yield ChipsTab()
            yield GridTab()
            yield DataTab()
            yield EncodingsTab()

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, lambda _: self.load_tokenizers())
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self._show_options()
        if self._restored_note:
            self.notify(self._restored_note, severity="warning", timeout=8)
        if self.shell.connected:
            self.load_tokenizers()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.command_mode():
            return False  # letters are text while typing (esc leaves the box)
        return super().check_action(action, parameters)

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or ""
        self.shell.view_state.set("tokenizers.tab", tab)
        self._refresh_tab(tab)

    @on(TextArea.Changed, "#tok-input")
    def _text_changed(self) -> None:
        text, length = kept_text(self.text)
        self.shell.view_state.set("tokenizers.text", text)
        self.shell.view_state.set("tokenizers.text_length", length)
        self.retokenize()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_text_left(self) -> None:
        if self.active_tab == "vectors":
            self.load_encoding()  # the other tabs follow the text as it is typed

    @property
    def text(self) -> str:
        return self.query_one("#tok-input", TextArea).text

    @property
    def token_stats(self) -> P.TokenStatsResult | None:
        """The first compared tokenizer's measurement of the dataset, when it is done."""
        if not self.selected:
            return None
        found = self.stats.get(self.options.stats_key(self.selected[0]))
        return found if isinstance(found, P.TokenStatsResult) else None

    # ------------------------------------------------------------- engine

    def _catalog_changed(self, event: P.CatalogChanged) -> None:
        if event.kind in ("tokenizers", "datasets"):
            self.load_tokenizers()

    @work(exclusive=True, group="tok-list", exit_on_error=False)
    async def load_tokenizers(self) -> None:
        try:
            res = await self.shell.ask(P.TokenizerList())
            ds = await self.shell.ask(P.DatasetList())
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.tokenizers = [t for t in res.tokenizers if t.available]
        self.selected = still_compared(self.selected, [t.name for t in self.tokenizers])
        self.datasets = [d.name for d in ds.datasets if d.available]
        self.options.keep_dataset(self.datasets)
        self._show_options()
        self.retokenize()
        if self.active_tab != "chips":
            self._refresh_tab(self.active_tab)

    def select(self, names: list[str]) -> None:
        """Compare these tokenizers (up to three), in this order."""
        self.selected = names[:MAX_COMPARED]
        self.shell.view_state.set("tokenizers.selected", self.selected)
        self.results.clear()
        self._show_options()
        self.retokenize()
        if self.active_tab != "chips":
            self._refresh_tab(self.active_tab)

    # ------------------------------------------------------------- typing

    def retokenize(self) -> None:
        """Ask for the latest text; one request loop at a time, always the newest text."""
        self._dirty = True
        if not self._busy:
            self._busy = True
            self.run_worker(self._tokenize_loop(), group="tok-live", exit_on_error=False)

    async def _tokenize_loop(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                await self._tokenize_now(self.text)
            if self.active_tab == "grid":
                self.refresh_grid()
        finally:
            self._busy = False

    async def _tokenize_now(self, text: str) -> None:
        names = list(self.selected)
        calls = [self.shell.ask(self.options.tokenize_call(n, text)) for n in names]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        for name, res in zip(names, answers, strict=True):
            if not isinstance(res, BaseException):
                self.results[name] = res
        self.query_one(ChipsTab).show(names, answers, text)
        self.renders += 1
        self.last_render = time.perf_counter()
        self.call_after_refresh(self._painted)
        self.query_one(CompareSlots).show(self.selected, self.results)

    def _painted(self) -> None:
        self.last_paint = time.perf_counter()

    # ------------------------------------------------------------- the other tabs

    @work(exclusive=True, group="tok-grid", exit_on_error=False)
    async def refresh_grid(self) -> None:
        """Every compared tokenizer's batch of the text's lines."""
        tab = self.query_one(GridTab)
        names, text = list(self.selected), self.text
        if not names:
            self.grid = []
            tab.show([], self.options.show_tokens)
            return
        lines = grid_lines(text)
        calls = [self.shell.ask(self.options.grid_call(n, lines)) for n in names]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        self.grid = list(zip(names, answers, strict=True))
        tab.show(self.grid, self.options.show_tokens, hidden_lines(text))

    @work(exclusive=True, group="tok-stats", exit_on_error=False)
    async def load_stats(self) -> None:
        """Each compared tokenizer over the dataset, one after another (each is kept)."""
        tab = self.query_one(DataTab)
        tab.head(self.options.describe_data())
        names = list(self.selected)
        if not names:
            tab.show([])
            return

        def rows() -> list[tuple[str, StatsAnswer]]:
            return [(n, self.stats.get(self.options.stats_key(n))) for n in names]

        tab.show(rows())
        for name in names:
            key = self.options.stats_key(name)
            if key in self.stats:
                continue
            try:
                self.stats[key] = await self.shell.ask(self.options.stats_call(name), timeout=300)
            except EngineError as exc:
                self.stats[key] = exc.message
            tab.show(rows())

    @work(exclusive=True, group="tok-enc", exit_on_error=False)
    async def load_encoding(self) -> None:
        tab = self.query_one(EncodingsTab)
        tab.say(Text(f"{self.options.kind} against {self.options.dataset}…", style="dim"))
        call = self.options.encode_call(self.text)
        try:
            self.encoding = await self.shell.ask(call)
        except EngineError as exc:
            tab.say(Text(str(exc), style="red"))
            return
        tab.show(self.encoding)

    def _refresh_tab(self, tab: str) -> None:
        if tab == "grid":
            self.refresh_grid()
        elif tab == "data":
            self.load_stats()
        elif tab == "vectors":
            self.load_encoding()

    # ------------------------------------------------------------- options

    def _show_options(self) -> None:
        self.query_one(CompareSlots).show(self.selected, self.results)
        self.query_one(GridTab).show_options(self.options.describe_grid())
        self.query_one(DataTab).head(self.options.describe_data())

    def _option_changed(self) -> None:
        self.shell.view_state.set("tokenizers.options", self.options.to_state())
        self._show_options()
        if self.active_tab == "chips":
            self.retokenize()
        else:
            self._refresh_tab(self.active_tab)

    def action_page(self, direction: int) -> None:
        if self.active_tab == "data":  # the table's columns
            table = self.query_one("#data-table", DataTable)
            (table.action_scroll_right if direction > 0 else table.action_scroll_left)()
            return
        if not self.query_one(GridTab).page(direction):
            self.notify("no more positions that way" if self.grid else "nothing to page", timeout=2)

    def action_cycle_padding(self) -> None:
        self.options.cycle_padding()
        self._option_changed()

    def action_toggle_truncation(self) -> None:
        self.options.toggle_truncation()
        self._option_changed()

    def action_cycle_max_length(self) -> None:
        self.options.cycle_max_length(dataset_view=self.active_tab == "data")
        self._option_changed()

    def action_toggle_side(self) -> None:
        self.options.toggle_side()
        self._option_changed()

    def action_toggle_specials(self) -> None:
        self.options.toggle_specials()
        if self.active_tab != "chips":
            self.retokenize()
        self._option_changed()

    def action_toggle_cells(self) -> None:
        self.options.toggle_cells()
        self._option_changed()

    def action_cycle_dataset(self) -> None:
        if self.options.cycle_dataset(self.datasets):
            self._option_changed()

    def action_cycle_batch(self) -> None:
        self.options.cycle_batch()
        self._option_changed()

    def action_cycle_kind(self) -> None:
        self.options.cycle_kind()
        self._option_changed()

    # ------------------------------------------------------------- focus and dialogs

    def action_edit(self) -> None:
        self.query_one("#tok-input", TextArea).focus()

    def action_pick(self) -> None:
        from screens.tokenizers.dialogs import TokenizerPicker

        def chosen(names: list[str] | None) -> None:
            if names:
                self.select(names)

        self.app.push_screen(TokenizerPicker(self.tokenizers, self.selected), chosen)

    def _compare_new(self, name: str | None, message: str, title: str) -> None:
        """A dialog trained or added this tokenizer: compare it first."""
        if name:
            self.notify(f"{message} {name}", title=title)
            self.select(put_first(name, self.selected))
            self.load_tokenizers()

    def action_train(self) -> None:
        from screens.tokenizers.dialogs import TrainTokenizerScreen

        dialog = TrainTokenizerScreen(self.datasets, self.options.dataset)
        self.app.push_screen(dialog, lambda n: self._compare_new(n, "trained", "tokenizer ready"))

    def action_add(self) -> None:
        from screens.tokenizers.dialogs import AddTokenizerScreen

        self.app.push_screen(
            AddTokenizerScreen(), lambda name: self._compare_new(name, "added", "tokenizer added")
        )
