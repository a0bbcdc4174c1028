"""The tokenizer inspector: what tokenizers make of typed text, and what that costs on data.

Typing never waits on the engine: each change marks the text dirty and one
worker keeps asking for the latest text until it has caught up, so a fast
typist gets the newest answer, not a queue of stale ones.
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
from textual.widgets import TabbedContent, TextArea

from engine import protocol as P
from screens.tokenizers.chips import ChipsTab
from screens.tokenizers.data import DataTab
from screens.tokenizers.encodings import EncodingsTab
from screens.tokenizers.grid import GridTab
from screens.tokenizers.model import (
    MAX_COMPARED,
    SAMPLE,
    InspectorOptions,
    grid_lines,
    put_first,
    still_compared,
)
from screens.tokenizers.slots import CompareSlots
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen


class TokenizerScreen(TabbedScreen):
    CSS_PATH = "tokenizers.tcss"
    BINDINGS: ClassVar = [
        Binding("escape", "leave_input", "Leave text", id="tokenizers.leave_input"),
        Binding("slash,enter", "edit", "Edit text", id="tokenizers.edit"),
        Binding("t", "pick", "Tokenizers", show=False, id="tokenizers.pick"),
        Binding("n", "train", "Train", show=False, id="tokenizers.train"),
        Binding("o", "add", "Add file", show=False, id="tokenizers.add"),
        Binding("c", "show_tab('chips')", "Tokens", show=False, id="tokenizers.tab.chips"),
        Binding("g", "show_tab('grid')", "Model input", show=False, id="tokenizers.tab.grid"),
        Binding("a", "show_tab('data')", "Dataset", show=False, id="tokenizers.tab.data"),
        Binding("v", "show_tab('vectors')", "Encodings", show=False, id="tokenizers.tab.vectors"),
        Binding("p", "cycle_padding", "Padding", id="tokenizers.padding"),
        Binding("u", "toggle_truncation", "Truncate", id="tokenizers.truncation"),
        Binding("m", "cycle_max_length", "Max len", id="tokenizers.max_length"),
        Binding("s", "toggle_side", "Side", id="tokenizers.side"),
        Binding("e", "toggle_specials", "Specials", id="tokenizers.specials"),
        Binding("w", "toggle_cells", "Ids/tokens", id="tokenizers.cells"),
        Binding("d", "cycle_dataset", "Dataset", id="tokenizers.dataset"),
        Binding("b", "cycle_batch", "Batch", id="tokenizers.batch"),
        Binding("k", "cycle_kind", "Kind", id="tokenizers.kind"),
    ]
    TABS, FIRST_TAB = "tok-tabs", "chips"
    TAB_ACTIONS: ClassVar = {
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
    TAB_FOCUS: ClassVar = {
        "chips": "#chips-scroll",
        "grid": "#grid-scroll",
        "data": "#data-scroll",
        "vectors": "#enc-table",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tokenizers: list[P.TokenizerInfo] = []
        self.selected: list[str] = []
        self.results: dict[str, P.TokenizeResult] = {}
        self.grid: P.TokenizeResult | None = None
        self.token_stats: P.TokenStatsResult | None = None
        self.encoding: P.EncodeResult | None = None
        self.datasets: list[str] = []
        self.options = InspectorOptions()
        self._dirty = False
        self._busy = False
        self.renders = 0  # times the chips were redrawn (benchmarks read it)
        self.last_render = 0.0
        self.last_paint = 0.0  # when the redrawn chips reached the screen

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        from screens.tokenizers.dialogs import TokenizerPicker, TrainTokenizerScreen

        return [
            ("choose tokenizers", TokenizerPicker.BINDINGS),
            ("train tokenizer", TrainTokenizerScreen.BINDINGS),
        ]

    def compose_body(self) -> ComposeResult:
        yield TextArea(SAMPLE, id="tok-input", soft_wrap=True, show_line_numbers=False)
        yield CompareSlots("", id="tok-slots")
        with TabbedContent(id="tok-tabs", initial="chips"):
            yield ChipsTab()
            yield GridTab()
            yield DataTab()
            yield EncodingsTab()

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, lambda _: self.load_tokenizers())
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.query_one("#tok-input", TextArea).focus()
        self._show_options()
        if self.shell.connected:
            self.load_tokenizers()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("leave_input", "edit"):
            typing = isinstance(self.focused, TextArea)
            return typing if action == "leave_input" else not typing
        return super().check_action(action, parameters)

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self._refresh_tab(event.pane.id or "")

    @on(TextArea.Changed, "#tok-input")
    def _text_changed(self) -> None:
        self.retokenize()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

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

    def select(self, names: list[str]) -> None:
        """Compare these tokenizers (up to three), in this order."""
        self.selected = names[:MAX_COMPARED]
        self.results.clear()
        self._show_options()
        self.retokenize()
        self.refresh_grid()
        self.token_stats = None

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
                await self._tokenize_now(self.query_one(TextArea).text)
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
        if not self.selected:
            return
        name, lines = self.selected[0], grid_lines(self.query_one(TextArea).text)
        tab = self.query_one(GridTab)
        try:
            self.grid = await self.shell.ask(self.options.grid_call(name, lines))
        except EngineError as exc:
            tab.say(Text(str(exc), style="red"))
            return
        tab.show(self.grid, name, lines, self.options.show_tokens)

    @work(exclusive=True, group="tok-stats", exit_on_error=False)
    async def load_stats(self) -> None:
        tab = self.query_one(DataTab)
        if not self.selected:
            tab.say(Text("choose a tokenizer first (t)", style="dim"))
            return
        name = self.selected[0]
        tab.say(Text(f"tokenizing {self.options.dataset} with {name}…", style="dim"))
        try:
            self.token_stats = await self.shell.ask(self.options.stats_call(name), timeout=300)
        except EngineError as exc:
            tab.say(Text(str(exc), style="red"))
            return
        tab.show(self.token_stats)

    @work(exclusive=True, group="tok-enc", exit_on_error=False)
    async def load_encoding(self) -> None:
        tab = self.query_one(EncodingsTab)
        tab.say(Text(f"{self.options.kind} against {self.options.dataset}…", style="dim"))
        call = self.options.encode_call(self.query_one(TextArea).text)
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

    def _option_changed(self) -> None:
        self._show_options()
        if self.active_tab == "chips":
            self.retokenize()
        else:
            self._refresh_tab(self.active_tab)

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

    def action_leave_input(self) -> None:
        self.query_one(self.TAB_FOCUS[self.active_tab]).focus()

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
