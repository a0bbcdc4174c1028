"""Embedding neighbours: nearest words, vector arithmetic, words in context, 2D projections.

Vectors stay in the engine; the screen sends words and sentences and draws the answers
(tables, bars, matrices, a scatter). It opens in command mode on the tab's main pane: `/`
(or enter) types the query (on the context tab: the word), `e` the sentences or the word
groups; esc leaves a box and applies what was typed.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static, TabbedContent

from engine import protocol as P
from screens.embeddings.context import ContextTab
from screens.embeddings.model import EmbeddingOptions
from screens.embeddings.neighbours import NeighboursTab
from screens.embeddings.projection import ProjectionTab
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen, is_text_entry


class EmbeddingsScreen(TabbedScreen):
    CSS_PATH = "embeddings.tcss"
    BINDINGS: ClassVar = [
        Binding("slash,enter", "query", "Query", id="embeddings.query"),
        Binding("s", "cycle_source", "Source", id="embeddings.source"),
        Binding("c", "cycle_compare", "Compare", id="embeddings.compare"),
        Binding("K", "cycle_k", "k count", id="embeddings.k"),
        Binding("n", "show_tab('near')", "Neighbours", show=False, id="embeddings.tab.near"),
        Binding("x", "show_tab('context')", "Context", show=False, id="embeddings.tab.context"),
        Binding("v", "show_tab('project')", "Projection", show=False, id="embeddings.tab.project"),
        Binding("e", "edit_sentences", "Sentences", id="embeddings.sentences"),
        Binding("e", "edit_groups", "Edit groups", id="embeddings.edit_groups"),
        Binding("r", "run_context", "Compare", id="embeddings.run_context"),
        Binding("l,right", "page(1)", "More →", id="embeddings.page_right"),
        Binding("h,left", "page(-1)", "← Back", show=False, id="embeddings.page_left"),
        Binding("w", "cycle_preset", "Groups", id="embeddings.groups"),
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
        "page": {"context"},
        "edit_groups": {"project"},
        "cycle_preset": {"project"},
        "toggle_method": {"project"},
        "toggle_near": {"project"},
        "run_projection": {"project"},
    }
    # command mode: each tab's own pane, never a text box
    TAB_FOCUS: ClassVar = {
        "near": "#near-scroll",
        "context": "#ctx-scroll",
        "project": "#proj-plot",
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
        self._typing: str = ""  # the id of the text box last typed in
        self._ended: P.JobEnded | None = None  # a job that ended before its start answered

    def compose_body(self) -> ComposeResult:
        query = Input(
            "king - man + woman",
            placeholder="a word, or king - man + woman",
            id="emb-query",
            compact=True,
        )
        query.border_title = "query"
        yield query
        yield Static("", id="emb-opts")
        with TabbedContent(id="emb-tabs", initial="near"):
            yield NeighboursTab()
            yield ContextTab()
            yield ProjectionTab()

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, self._engine_ready)
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.set_interval(0.25, self._show_progress)
        self._show_opts()
        if self.shell.connected:
            self.load_sources()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.command_mode():
            return False  # letters are text while typing (esc leaves the box)
        return super().check_action(action, parameters)

    def on_descendant_focus(self, event: object) -> None:
        widget = getattr(event, "widget", None)
        if isinstance(widget, Widget) and is_text_entry(widget):
            self._typing = widget.id or ""
        self.refresh_bindings()

    def on_text_left(self) -> None:
        """Apply what was typed in the box just left."""
        if self._typing == "proj-groups":
            self.apply_groups()
        elif self._typing in ("ctx-word", "ctx-sentences"):
            self.run_context()
        elif self._typing == "emb-query":
            self.search()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "context" and self.context is None:
            self.run_context()
        elif event.pane.id == "project" and self.projection is None and self.job_id is None:
            self.action_run_projection()

    @on(Input.Changed, "#emb-query")
    def _query_changed(self) -> None:
        self.search(debounce=0.25)

    @on(Input.Submitted, "#emb-query")
    def _query_submitted(self) -> None:
        self.search()

    @on(Input.Submitted, "#ctx-word")
    def _word_submitted(self) -> None:
        self.run_context()

    @property
    def query_text(self) -> str:
        return self.query_one("#emb-query", Input).value.strip()

    # ------------------------------------------------------------- engine

    def _engine_ready(self, restarted: bool) -> None:
        if restarted and self.job_id is not None:
            self.job_id = None  # the engine that ran it is gone
            tab = self.query_one(ProjectionTab)
            tab.ended()
            tab.note(Text("the engine restarted and the projection was lost: p", "yellow"))
        self.load_sources()

    def _catalog_changed(self, event: P.CatalogChanged) -> None:
        if event.kind == "vectors":
            self.load_sources()

    def _job_ended(self, event: P.JobEnded) -> None:
        if self.job_id is None:
            # it may end before the call that started it has answered: keep it for then
            self._ended = event
            return
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
        ended, self._ended = self._ended, None
        if ended is not None and ended.job.job_id == started.job_id:
            self._job_ended(ended)

    # ------------------------------------------------------------- options

    def _show_opts(self) -> None:
        self.query_one("#emb-opts", Static).update(Text(self.options.describe(), style="dim"))
        self.query_one(ProjectionTab).show_options(
            self.options.describe_projection(), self.options.groups
        )

    def action_cycle_source(self) -> None:
        said = self.options.cycle_source(self._static_sources())
        if said:
            self.notify(said, title="source", timeout=4)
        self._show_opts()
        self.search()
        if self.active_tab == "project":
            self.action_run_projection()

    def action_cycle_compare(self) -> None:
        self.options.cycle_compare(self._static_sources())
        self._show_opts()
        self.search()

    def action_cycle_k(self) -> None:
        self.options.cycle_k()
        self._show_opts()
        self.search()
        if self.active_tab == "project" and self.options.near_group:
            self.action_run_projection()

    def action_cycle_preset(self) -> None:
        self.options.cycle_preset()
        self._show_opts()
        self.action_run_projection()

    def apply_groups(self) -> None:
        """The groups typed in the box: project them, or say what is wrong with them."""
        tab = self.query_one(ProjectionTab)
        typed = tab.groups_typed
        if typed.strip() == self.options.groups:
            return
        problems = self.options.set_groups(typed)
        if problems:
            tab.note(Text("; ".join(problems) + " (e edits)", style="bold red"))
            return
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

    def action_page(self, direction: int) -> None:
        if not self.query_one(ContextTab).page(direction):
            self.notify("no more columns that way", timeout=2)

    def action_run_context(self) -> None:
        self.run_context()

    def action_edit_sentences(self) -> None:
        self.query_one(ContextTab).edit_sentences()

    def action_edit_groups(self) -> None:
        self.query_one(ProjectionTab).edit_groups()

    def action_query(self) -> None:
        if self.active_tab == "context":
            self.query_one("#ctx-word", Input).focus()
        else:
            self.query_one("#emb-query", Input).focus()
