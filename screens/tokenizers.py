"""The tokenizer inspector: what tokenizers make of typed text, and what that costs on data.

Typing never waits on the engine: each change marks the text dirty and one
worker keeps asking for the latest text until it has caught up, so a fast
typist gets the newest answer, not a queue of stale ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane, TextArea

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen
from workbench.widgets.token_view import chips, mapped_text, mask_rows, model_input_grid, summary

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

PADDINGS: list[str] = ["longest", "max_length", "none"]
MAX_LENGTHS = [8, 16, 32, 64, 128, 256, 512]
BATCH_SIZES = [8, 16, 32, 64, 128]
KINDS = ["bow", "tfidf", "onehot"]
SAMPLE = "I love my dog! Tokenizers split unbelievably long words 🙂"


class TokenizerScreen(WorkbenchScreen):
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
        self.dataset = "rotten-tomatoes"
        self.padding = "longest"
        self.truncation = False
        self.max_length = 16
        self.side = "right"
        self.specials = True
        self.show_tokens = False
        self.batch_size = 32
        self.data_max_length = 512  # the dataset view's own max length
        self.kind = "bow"
        self._dirty = False
        self._busy = False
        self.renders = 0  # times the chips were redrawn (benchmarks read it)
        self.last_render = 0.0
        self.last_paint = 0.0  # when the redrawn chips reached the screen

    # ------------------------------------------------------------- layout

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        from screens.tokenizer_dialogs import TokenizerPicker, TrainTokenizerScreen

        return [
            ("choose tokenizers", TokenizerPicker.BINDINGS),
            ("train tokenizer", TrainTokenizerScreen.BINDINGS),
        ]

    def compose_body(self) -> ComposeResult:
        yield TextArea(SAMPLE, id="tok-input", soft_wrap=True, show_line_numbers=False)
        yield Static("", id="tok-slots")
        with TabbedContent(id="tok-tabs", initial="chips"):
            with TabPane("Tokens c", id="chips"), VerticalScroll(id="chips-scroll"):
                yield Static("", id="chips-view")
            with TabPane("Model input g", id="grid"), VerticalScroll(id="grid-scroll"):
                yield Static("", id="grid-opts")
                yield Static("", id="grid-view")
            with TabPane("Dataset a", id="data"), VerticalScroll(id="data-scroll"):
                yield Static("", id="data-summary")
            with TabPane("Encodings v", id="vectors"):
                yield Static("", id="enc-opts")
                yield DataTable(id="enc-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#enc-table", DataTable).add_columns("term", "index", "value")
        self.call_after_refresh(self._mount_plot)
        self.shell.subscribe_ready(self, lambda _: self.load_tokenizers())
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.query_one("#tok-input", TextArea).focus()
        self._show_options()
        if self.shell.connected:
            self.load_tokenizers()

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot

        self.query_one("#data-scroll").mount(PlotextPlot(id="tok-hist"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = self.query("#tok-tabs")
        active = tabs.first(TabbedContent).active if tabs else "chips"
        if action == "show_tab":
            return parameters[0] != active
        if action in ("leave_input", "edit"):
            typing = isinstance(self.focused, TextArea)
            return typing if action == "leave_input" else not typing
        allowed = self.TAB_ACTIONS.get(action)
        return allowed is None or active in allowed

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        tab = event.pane.id
        if tab == "grid":
            self.refresh_grid()
        elif tab == "data":
            self.load_stats()
        elif tab == "vectors":
            self.load_encoding()

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
        link = self.shell
        try:
            res = await link.ask(P.TokenizerList())
            ds = await link.ask(P.DatasetList())
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.tokenizers = [t for t in res.tokenizers if t.available]
        names = [t.name for t in self.tokenizers]
        self.selected = [n for n in self.selected if n in names] or names[:2]
        self.datasets = [d.name for d in ds.datasets if d.available]
        if self.dataset not in self.datasets and self.datasets:
            self.dataset = self.datasets[0]
        self._show_options()
        self.retokenize()

    def select(self, names: list[str]) -> None:
        """Compare these tokenizers (up to three), in this order."""
        self.selected = names[:3]
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
                text = self.query_one("#tok-input", TextArea).text
                await self._tokenize_now(text)
            if self.query_one("#tok-tabs", TabbedContent).active == "grid":
                self.refresh_grid()
        finally:
            self._busy = False

    async def _tokenize_now(self, text: str) -> None:
        names = list(self.selected)
        calls = [
            self.shell.ask(
                P.Tokenize(
                    tokenizer=n, texts=[text], add_special_tokens=self.specials, max_tokens=2000
                )
            )
            for n in names
        ]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        blocks = []
        for name, res in zip(names, answers, strict=True):
            if isinstance(res, BaseException):
                message = res.message if isinstance(res, EngineError) else str(res)
                blocks.append(Text.assemble((f"{name}: ", "bold"), (message, "red")))
                continue
            self.results[name] = res
            view = res.encodings[0]
            blocks.append(
                Group(summary(name, view), chips(view), mapped_text(view, text), Text(""))
            )
        if not names:
            blocks.append(Text("no tokenizers yet: press n to train one", style="dim"))
        self.query_one("#chips-view", Static).update(Group(*blocks))
        self.renders += 1
        self.last_render = time.perf_counter()
        self.call_after_refresh(self._painted)
        self._show_slots()

    def _painted(self) -> None:
        self.last_paint = time.perf_counter()

    # ------------------------------------------------------------- model input

    def _lines(self) -> list[str]:
        lines = [ln for ln in self.query_one("#tok-input", TextArea).text.splitlines() if ln]
        return lines[:8] or [""]

    @work(exclusive=True, group="tok-grid", exit_on_error=False)
    async def refresh_grid(self) -> None:
        if not self.selected:
            return
        name = self.selected[0]
        call = P.Tokenize(
            tokenizer=name,
            texts=self._lines(),
            add_special_tokens=self.specials,
            padding=self.padding,  # type: ignore[arg-type]
            truncation=self.truncation,
            max_length=self.max_length,
            padding_side=self.side,  # type: ignore[arg-type]
            max_tokens=512,
        )
        view = self.query_one("#grid-view", Static)
        try:
            self.grid = await self.shell.ask(call)
        except EngineError as exc:
            view.update(Text(str(exc), style="red"))
            return
        width = self.query_one("#grid-scroll").size.width or 70
        title = Text(
            f"input_ids from {name}" + (" (tokens)" if self.show_tokens else ""), style="bold"
        )
        grid = model_input_grid(self.grid, self._lines(), width, self.show_tokens)
        view.update(Group(title, grid, Text(""), mask_rows(self.grid, width)))

    # ------------------------------------------------------------- dataset view

    @work(exclusive=True, group="tok-stats", exit_on_error=False)
    async def load_stats(self) -> None:
        box = self.query_one("#data-summary", Static)
        if not self.selected:
            box.update(Text("choose a tokenizer first (t)", style="dim"))
            return
        name = self.selected[0]
        box.update(Text(f"tokenizing {self.dataset} with {name}…", style="dim"))
        call = P.TokenizerStats(
            tokenizer=name,
            dataset=self.dataset,
            batch_size=self.batch_size,
            max_length=self.data_max_length,
        )
        try:
            st = await self.shell.ask(call, timeout=300)
        except EngineError as exc:
            box.update(Text(str(exc), style="red"))
            return
        self.token_stats = st
        lens = st.lengths
        head = Text.assemble(
            (f"{st.tokenizer} on {st.dataset}", "bold"),
            f": {st.rows:,} texts, {st.tokens:,} tokens, mean {lens.mean:.1f}, "
            f"median {lens.median:.0f}, max {lens.max:.0f}\n",
            f"unknown {100 * st.unknown_rate:.2f}% · vocabulary used "
            f"{100 * st.vocab_coverage:.1f}% · longer than {st.max_length}: "
            f"{100 * st.truncated_share:.1f}%",
        )
        pad = Table(
            title=f"padding at batch {st.batch_size}, max length {st.max_length}",
            title_justify="left",
            box=None,
            header_style="dim",
        )
        for col in ("strategy", "padded", "real", "computed"):
            pad.add_column(col, justify="left" if col == "strategy" else "right")
        for p in st.padding:
            pad.add_row(
                p.strategy,
                f"{100 * p.padded_share:.1f}%",
                f"{p.real_tokens:,}",
                f"{p.computed_tokens:,}",
            )
        top = Text(
            "top tokens: " + "  ".join(f"{t.token} {t.count:,}" for t in st.top_tokens[:12]),
            style="dim",
        )
        box.update(Group(head, pad, top))
        self._draw_hist(st)

    def _draw_hist(self, st: P.TokenStatsResult) -> None:
        found = self.query("#tok-hist")
        if not found:
            return
        plot = cast("PlotextPlot", found.first())
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        h = st.lengths
        centers = [(a + b) / 2 for a, b in zip(h.edges[:-1], h.edges[1:], strict=True)]
        if centers:
            plt.bar(centers, h.counts, width=0.9)
            ticks = centers[:: max(len(centers) // 5, 1)]
            plt.xticks(ticks, [f"{t:,.0f}" for t in ticks])
        plt.title(f"tokens per text ({st.tokenizer})")
        plot.refresh()

    # ------------------------------------------------------------- encodings

    @work(exclusive=True, group="tok-enc", exit_on_error=False)
    async def load_encoding(self) -> None:
        opts = self.query_one("#enc-opts", Static)
        text = self.query_one("#tok-input", TextArea).text
        opts.update(Text(f"{self.kind} against {self.dataset}…", style="dim"))
        try:
            res = await self.shell.ask(
                P.Encode(dataset=self.dataset, text=text, kind=self.kind)  # type: ignore[arg-type]
            )
        except EngineError as exc:
            opts.update(Text(str(exc), style="red"))
            return
        self.encoding = res
        table = self.query_one("#enc-table", DataTable)
        table.clear()
        for t in res.terms:
            table.add_row(t.term, str(t.index), f"{t.value:.4g}")
        line = Text.assemble(
            (res.kind, "bold"),
            f" of the text against {res.dataset}'s vocabulary ",
            f"({res.vocabulary_size:,} terms): {res.nonzero} non-zero · k kind · d dataset",
        )
        if res.unknown:
            line.append(f"\nnot in the vocabulary: {', '.join(res.unknown[:20])}", style="yellow")
        opts.update(line)

    # ------------------------------------------------------------- options

    def _show_slots(self) -> None:
        text = Text("compare: ", style="dim")
        for i, name in enumerate(self.selected):
            res = self.results.get(name)
            count = f" ({res.encodings[0].n_tokens})" if res and res.encodings else ""
            text.append(f"[{i + 1}] ", style="dim")
            text.append(f"{name}{count}", style="bold")
            text.append("  ")
        text.append("· t choose · n train · o add", style="dim")
        self.query_one("#tok-slots", Static).update(text)

    def _show_options(self) -> None:
        self._show_slots()
        self.query_one("#grid-opts", Static).update(
            Text(
                f"padding {self.padding} (p) · truncation {'on' if self.truncation else 'off'} "
                f"(u) · max length {self.max_length} (m) · {self.side} side (s) · specials "
                f"{'on' if self.specials else 'off'} (e) · one row per line",
                style="dim",
            )
        )

    def _option_changed(self) -> None:
        self._show_options()
        active = self.query_one("#tok-tabs", TabbedContent).active
        if active == "grid":
            self.refresh_grid()
        elif active == "data":
            self.load_stats()
        elif active == "vectors":
            self.load_encoding()
        else:
            self.retokenize()

    def action_cycle_padding(self) -> None:
        self.padding = PADDINGS[(PADDINGS.index(self.padding) + 1) % len(PADDINGS)]
        self._option_changed()

    def action_toggle_truncation(self) -> None:
        self.truncation = not self.truncation
        self._option_changed()

    def action_cycle_max_length(self) -> None:
        def step(value: int) -> int:
            i = MAX_LENGTHS.index(value) if value in MAX_LENGTHS else 0
            return MAX_LENGTHS[(i + 1) % len(MAX_LENGTHS)]

        if self.query_one("#tok-tabs", TabbedContent).active == "data":
            self.data_max_length = step(self.data_max_length)
        else:
            self.max_length = step(self.max_length)
        self._option_changed()

    def action_toggle_side(self) -> None:
        self.side = "left" if self.side == "right" else "right"
        self._option_changed()

    def action_toggle_specials(self) -> None:
        self.specials = not self.specials
        self.retokenize()
        self._option_changed()

    def action_toggle_cells(self) -> None:
        self.show_tokens = not self.show_tokens
        self._option_changed()

    def action_cycle_dataset(self) -> None:
        if self.datasets:
            i = self.datasets.index(self.dataset) if self.dataset in self.datasets else -1
            self.dataset = self.datasets[(i + 1) % len(self.datasets)]
            self._option_changed()

    def action_cycle_batch(self) -> None:
        i = BATCH_SIZES.index(self.batch_size) if self.batch_size in BATCH_SIZES else 0
        self.batch_size = BATCH_SIZES[(i + 1) % len(BATCH_SIZES)]
        self._option_changed()

    def action_cycle_kind(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self._option_changed()

    # ------------------------------------------------------------- focus, tabs, dialogs

    def action_show_tab(self, tab: str) -> None:
        self.query_one(self.TAB_FOCUS[tab]).focus()  # TabbedContent follows focus
        self.query_one("#tok-tabs", TabbedContent).active = tab

    def action_leave_input(self) -> None:
        active = self.query_one("#tok-tabs", TabbedContent).active
        self.query_one(self.TAB_FOCUS[active]).focus()

    def action_edit(self) -> None:
        self.query_one("#tok-input", TextArea).focus()

    def action_pick(self) -> None:
        from screens.tokenizer_dialogs import TokenizerPicker

        def chosen(names: list[str] | None) -> None:
            if names:
                self.select(names)

        self.app.push_screen(TokenizerPicker(self.tokenizers, self.selected), chosen)

    def action_train(self) -> None:
        from screens.tokenizer_dialogs import TrainTokenizerScreen

        def trained(name: str | None) -> None:
            if name:
                self.notify(f"trained {name}", title="tokenizer ready")
                self.select([name, *[n for n in self.selected if n != name]])
                self.load_tokenizers()

        self.app.push_screen(TrainTokenizerScreen(self.datasets, self.dataset), trained)

    def action_add(self) -> None:
        from screens.tokenizer_dialogs import AddTokenizerScreen

        def added(name: str | None) -> None:
            if name:
                self.notify(f"added {name}", title="tokenizer added")
                self.select([name, *[n for n in self.selected if n != name]])
                self.load_tokenizers()

        self.app.push_screen(AddTokenizerScreen(), added)
