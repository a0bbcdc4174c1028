"""Embedding neighbours: nearest words, vector arithmetic, words in context, 2D projections.

Vectors stay in the engine; the screen sends words and sentences and draws
the answers (tables, bars, matrices, a plotext scatter).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static, TabbedContent, TextArea

from engine import protocol as P
from screens.embeddings.context import ContextTab
from screens.embeddings.model import EmbeddingOptions
from screens.embeddings.neighbours import NeighboursTab
from screens.embeddings.projection import ProjectionTab
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen


class EmbeddingsScreen(TabbedScreen):
    CSS_PATH = "embeddings.tcss"
    BINDINGS: ClassVar = [
        Binding("slash", "query", "Query", id="embeddings.query"),
        Binding("escape", "leave_input", "Leave box", show=False, id="embeddings.leave_input"),
        Binding("s", "cycle_source", "Source", id="embeddings.source"),
        Binding("c", "cycle_compare", "Compare", id="embeddings.compare"),
        Binding("k", "cycle_k", "k", id="embeddings.k"),
        Binding("n", "show_tab('near')", "Neighbours", show=False, id="embeddings.tab.near"),
        Binding("x", "show_tab('context')", "Context", show=False, id="embeddings.tab.context"),
        Binding("j", "show_tab('project')", "Projection", show=False, id="embeddings.tab.project"),
        Binding("e", "edit_sentences", "Sentences", id="embeddings.sentences"),
        Binding("r", "run_context", "Compare", id="embeddings.run_context"),
        Binding("g", "cycle_preset", "Groups", id="embeddings.groups"),
        Binding("m", "toggle_method", "PCA/t-SNE", id="embeddings.method"),
        Binding("o", "toggle_near", "+Neighbours", id="embeddings.near_group"),
        Binding("p", "run_projection", "Project", id="embeddings.project"),
    ]
    TABS, FIRST_TAB = "emb-tabs", "near"
    TAB_ACTIONS: ClassVar = {
        "cycle_source": {"near", "project"},
        "cycle_compare": {"near"},
        "cycle_k": {"near", "project"},
        "edit_sentences": {"context"},
        "run_context": {"context"},
        "cycle_preset": {"project"},
        "toggle_method": {"project"},
        "toggle_near": {"project"},
        "run_projection": {"project"},
    }
    TAB_FOCUS: ClassVar = {
        "near": "#near-scroll",
        "context": "#ctx-scroll",
        "project": "#proj-scroll",
    }

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[P.VectorSourceInfo] = []
        self.options = EmbeddingOptions()
        self.results: dict[str, P.NeighboursResult] = {}
        self.context: P.ContextResult | None = None
        self.sentence_matrix: P.SentenceSimilarityResult | None = None
        self.projection: P.ProjectionResult | None = None
        self.job_id: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Input(
            "king - man + woman",
            placeholder="a word, or king - man + woman",
            id="emb-query",
            compact=True,
        )
        yield Static("", id="emb-opts")
        with TabbedContent(id="emb-tabs", initial="near"):
            yield NeighboursTab()
            yield ContextTab()
            yield ProjectionTab()

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, lambda _: self.load_sources())
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.set_interval(0.25, self._show_progress)
        self._show_opts()
        if self.shell.connected:
            self.load_sources()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "context" and self.context is None:
            self.run_context()
        elif event.pane.id == "project" and self.projection is None:
            self.action_run_projection()

    @on(Input.Changed, "#emb-query")
    def _query_changed(self) -> None:
        self.search(debounce=0.25)

    @on(Input.Submitted, "#emb-query")
    def _query_submitted(self) -> None:
        self.search()

    @property
    def query_text(self) -> str:
        return self.query_one("#emb-query", Input).value.strip()

    # ------------------------------------------------------------- engine

    def _catalog_changed(self, event: P.CatalogChanged) -> None:
        if event.kind == "vectors":
            self.load_sources()

    def _job_ended(self, event: P.JobEnded) -> None:
        if event.job.job_id == self.job_id:
            self.job_id = None
            tab = self.query_one(ProjectionTab)
            tab.ended()
            if event.error is not None:
                tab.note(Text(event.error.message, style="red"))
            elif isinstance(event.result, P.ProjectionResult):
                self.projection = event.result
                tab.show(event.result)

    def _show_progress(self) -> None:
        job = self.shell.link_state.jobs.get(self.job_id or "")
        if job is not None and job.total > 0:
            self.query_one(ProjectionTab).progress(job.done, job.total)

    @work(exclusive=True, group="emb-sources", exit_on_error=False)
    async def load_sources(self) -> None:
        try:
            res = await self.shell.ask(P.VectorSources())
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.sources = [s for s in res.sources if s.available]
        self._show_opts()
        self.search()

    def _static_sources(self) -> list[str]:
        return [s.name for s in self.sources if s.kind == "static"]

    @work(exclusive=True, group="emb-search", exit_on_error=False)
    async def search(self, debounce: float = 0.0) -> None:
        if debounce:
            await asyncio.sleep(debounce)
        query = self.query_text
        if not query:
            return
        calls = self.options.neighbours_calls(query)
        answers = await asyncio.gather(*map(self.shell.ask, calls), return_exceptions=True)
        for call, res in zip(calls, answers, strict=True):
            if isinstance(res, P.NeighboursResult):
                self.results[call.source] = res
        self.query_one(NeighboursTab).show([c.source for c in calls], list(answers))

    @work(exclusive=True, group="emb-context", exit_on_error=False)
    async def run_context(self) -> None:
        tab = self.query_one(ContextTab)
        word, sentences = tab.word, tab.sentences
        tab.say(Text("running MiniLM…", style="dim"))
        try:
            ctx = await self.shell.ask(
                P.ContextSimilarity(word=word, sentences=sentences), timeout=300
            )
            sims = await self.shell.ask(P.SentenceSimilarity(sentences=sentences), timeout=300)
        except EngineError as exc:
            tab.say(Text(str(exc), style="red"))
            return
        self.context, self.sentence_matrix = ctx, sims
        tab.show(ctx, sims, sentences)

    @work(exclusive=True, group="emb-project", exit_on_error=False)
    async def start_projection(self, call: P.Project) -> None:
        tab = self.query_one(ProjectionTab)
        try:
            started = await self.shell.ask(call)
        except EngineError as exc:
            tab.note(Text(str(exc), style="red"))
            return
        self.job_id = started.job_id
        tab.started(call.method)

    # ------------------------------------------------------------- options

    def _show_opts(self) -> None:
        self.query_one("#emb-opts", Static).update(Text(self.options.describe(), style="dim"))
        self.query_one(ProjectionTab).show_options(self.options.describe_projection())

    def action_cycle_source(self) -> None:
        self.options.cycle_source(self._static_sources())
        self._show_opts()
        self.search()

    def action_cycle_compare(self) -> None:
        self.options.cycle_compare(self._static_sources())
        self._show_opts()
        self.search()

    def action_cycle_k(self) -> None:
        self.options.cycle_k()
        self._show_opts()
        self.search()

    def action_cycle_preset(self) -> None:
        self.options.cycle_preset()
        self._show_opts()
        self.action_run_projection()

    def action_toggle_method(self) -> None:
        self.options.toggle_method()
        self._show_opts()
        self.action_run_projection()

    def action_toggle_near(self) -> None:
        self.options.toggle_near()
        self._show_opts()
        self.action_run_projection()

    def action_run_projection(self) -> None:
        self.start_projection(self.options.projection_call(self.query_text))

    def action_run_context(self) -> None:
        self.run_context()

    def action_edit_sentences(self) -> None:
        self.query_one(ContextTab).edit_sentences()

    def action_query(self) -> None:
        self.query_one("#emb-query", Input).focus()

    def action_leave_input(self) -> None:
        active = self.active_tab
        if active == "context" and isinstance(self.focused, TextArea | Input):
            self.run_context()
        self.query_one(self.TAB_FOCUS[active]).focus()
