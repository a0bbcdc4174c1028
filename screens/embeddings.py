"""Embedding neighbours: nearest words, vector arithmetic, words in context, 2D projections.

Vectors stay in the engine; the screen sends words and sentences and draws
the answers (tables, bars, matrices, a plotext scatter).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, ProgressBar, Static, TabbedContent, TabPane, TextArea

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

K_CHOICES = [5, 10, 20, 50]
SENTENCES = (
    "A bat flew out of the cave at dusk.\n"
    "He swung the baseball bat and missed.\n"
    "The bat hung upside down in the dark barn.\n"
    "She bought a new cricket bat."
)
PRESETS: list[tuple[str, dict[str, list[str]]]] = [
    (
        "animals, vehicles, fruit",
        {
            "pets": ["dog", "cat", "hamster", "parrot", "rabbit", "puppy"],
            "vehicles": ["car", "truck", "bus", "bicycle", "motorcycle", "train"],
            "fruit": ["apple", "banana", "orange", "mango", "grape", "pear"],
        },
    ),
    (
        "countries and capitals",
        {
            "countries": ["france", "italy", "germany", "spain", "japan", "china"],
            "capitals": ["paris", "rome", "berlin", "madrid", "tokyo", "beijing"],
        },
    ),
    (
        "sentiment words",
        {
            "good": ["good", "great", "excellent", "wonderful", "brilliant", "superb"],
            "bad": ["bad", "terrible", "awful", "horrible", "dreadful", "boring"],
        },
    ),
]
COLOURS = ["cyan", "magenta", "yellow", "green", "red", "blue", "white"]


def bar(score: float, width: int) -> Text:
    filled = max(0, min(width, round(width * max(score, 0.0))))
    return Text("█" * filled + "·" * (width - filled), style="cyan")


def neighbour_table(res: P.NeighboursResult, width: int) -> Table:
    bar_w = max(width - 28, 4)
    table = Table(
        title=res.source, title_justify="left", box=None, header_style="dim", padding=(0, 1, 0, 0)
    )
    table.add_column("#", justify="right")
    table.add_column("word", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("cos", justify="right")
    table.add_column("", no_wrap=True)
    for i, n in enumerate(res.neighbours):
        table.add_row(str(i + 1), n.word, f"{n.score:.3f}", bar(n.score, bar_w))
    return table


def matrix_table(title: str, labels: list[str], matrix: list[list[float]]) -> Table:
    table = Table(
        title=title, title_justify="left", box=None, header_style="dim", padding=(0, 1, 0, 0)
    )
    table.add_column("")
    for i in range(len(labels)):
        table.add_column(str(i), justify="right")
    for label, row in zip(labels, matrix, strict=True):
        cells = [Text(f"{v:.2f}", style="bold green" if v > 0.8 else "") for v in row]
        table.add_row(label, *cells)
    return table


class EmbeddingsScreen(WorkbenchScreen):
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
        self.source = "glove-6b-50d"
        self.compare: str | None = "minilm-input"
        self.k = 10
        self.results: dict[str, P.NeighboursResult] = {}
        self.context: P.ContextResult | None = None
        self.sentence_matrix: P.SentenceSimilarityResult | None = None
        self.projection: P.ProjectionResult | None = None
        self.preset = 0
        self.method = "pca"
        self.near_group = False
        self.job_id: str | None = None

    # ------------------------------------------------------------- layout

    def compose_body(self) -> ComposeResult:
        yield Input(
            "king - man + woman",
            placeholder="a word, or king - man + woman",
            id="emb-query",
            compact=True,
        )
        yield Static("", id="emb-opts")
        with TabbedContent(id="emb-tabs", initial="near"):
            with TabPane("Neighbours n", id="near"), VerticalScroll(id="near-scroll"):
                with Horizontal(id="near-row"):
                    yield Static("", id="near-a")
                    yield Static("", id="near-b")
            with TabPane("Context x", id="context"):
                with Horizontal(id="ctx-inputs"):
                    yield Input("bat", placeholder="word", id="ctx-word", compact=True)
                yield TextArea(SENTENCES, id="ctx-sentences", show_line_numbers=False)
                with VerticalScroll(id="ctx-scroll"):
                    yield Static("", id="ctx-view")
            with TabPane("Projection j", id="project"), VerticalScroll(id="proj-scroll"):
                yield Static("", id="proj-opts")
                yield ProgressBar(id="proj-progress", show_eta=False)
                yield Static("", id="proj-note")

    def on_mount(self) -> None:
        self.query_one("#proj-progress").display = False
        self.call_after_refresh(self._mount_plot)
        self.shell.subscribe_ready(self, lambda _: self.load_sources())
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.shell.subscribe(self, P.CatalogChanged, self._catalog_changed)
        self.set_interval(0.25, self._show_progress)
        self._show_opts()
        if self.shell.connected:
            self.load_sources()

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot

        self.query_one("#proj-scroll").mount(PlotextPlot(id="proj-plot"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = self.query("#emb-tabs")
        active = tabs.first(TabbedContent).active if tabs else "near"
        if action == "show_tab":
            return parameters[0] != active
        allowed = self.TAB_ACTIONS.get(action)
        return allowed is None or active in allowed

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "context" and self.context is None:
            self.run_context()
        elif event.pane.id == "project" and self.projection is None:
            self.action_run_projection()

    # ------------------------------------------------------------- engine

    def _catalog_changed(self, event: P.CatalogChanged) -> None:
        if event.kind == "vectors":
            self.load_sources()

    def _job_ended(self, event: P.JobEnded) -> None:
        if event.job.job_id == self.job_id:
            self.job_id = None
            self.query_one("#proj-progress").display = False
            if event.error is not None:
                self._note(Text(event.error.message, style="red"))
            elif isinstance(event.result, P.ProjectionResult):
                self.projection = event.result
                self._draw_projection()

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

    # ------------------------------------------------------------- neighbours

    @on(Input.Changed, "#emb-query")
    def _query_changed(self) -> None:
        self.search(debounce=0.25)

    @on(Input.Submitted, "#emb-query")
    def _query_submitted(self) -> None:
        self.search()

    @work(exclusive=True, group="emb-search", exit_on_error=False)
    async def search(self, debounce: float = 0.0) -> None:
        if debounce:
            await asyncio.sleep(debounce)
        query = self.query_one("#emb-query", Input).value.strip()
        if not query:
            return
        names = [self.source] + ([self.compare] if self.compare else [])
        calls = [self.shell.ask(P.Neighbours(query=query, source=n, k=self.k)) for n in names]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        width = max((self.query_one("#near-row").size.width or 76) // len(names), 30)
        for slot, name, res in zip(("#near-a", "#near-b"), names, answers, strict=False):
            box = self.query_one(slot, Static)
            if isinstance(res, EngineError):
                box.update(Group(Text(name, style="bold"), Text(str(res), style="red")))
            elif isinstance(res, P.NeighboursResult):
                self.results[name] = res
                box.update(neighbour_table(res, width))
        self.query_one("#near-b").display = self.compare is not None

    # ------------------------------------------------------------- context

    def _sentences(self) -> list[str]:
        text = self.query_one("#ctx-sentences", TextArea).text
        return [s.strip() for s in text.splitlines() if s.strip()]

    @work(exclusive=True, group="emb-context", exit_on_error=False)
    async def run_context(self) -> None:
        view = self.query_one("#ctx-view", Static)
        word = self.query_one("#ctx-word", Input).value.strip()
        sentences = self._sentences()
        view.update(Text("running MiniLM…", style="dim"))
        try:
            ctx = await self.shell.ask(
                P.ContextSimilarity(word=word, sentences=sentences), timeout=300
            )
            sims = await self.shell.ask(P.SentenceSimilarity(sentences=sentences), timeout=300)
        except EngineError as exc:
            view.update(Text(str(exc), style="red"))
            return
        self.context, self.sentence_matrix = ctx, sims
        cut = ctx.truncated or [False] * len(sentences)
        labels = [
            f"{i} {s[:28]}" + (" (cut)" if c else "")
            for i, (s, c) in enumerate(zip(sentences, cut, strict=True))
        ]
        word_labels = [
            lab + ("" if f else " (absent)") for lab, f in zip(labels, ctx.found, strict=True)
        ]
        static = (
            f"{ctx.static_source}: one vector for '{ctx.word}', so 1.00 between any two sentences"
            if ctx.static_known
            else f"{ctx.static_source} does not know '{ctx.word}'"
        )
        pieces = "  ".join(f"{i}: {'+'.join(p)}" for i, p in enumerate(ctx.pieces) if p)
        view.update(
            Group(
                matrix_table(
                    f"'{ctx.word}' in context ({ctx.source})", word_labels, ctx.similarity
                ),
                Text(static, style="yellow"),
                Text(f"pieces averaged: {pieces}", style="dim"),
                Text(""),
                matrix_table(f"sentence similarity ({sims.source})", labels, sims.matrix),
            )
        )

    # ------------------------------------------------------------- projection

    def _projection_call(self) -> P.Project:
        _, groups = PRESETS[self.preset]
        query = self.query_one("#emb-query", Input).value.strip().split()
        near = query[0] if self.near_group and query else None
        return P.Project(
            groups=groups, neighbours_of=near, k=self.k, source=self.source, method=self.method
        )  # type: ignore[arg-type]

    @work(exclusive=True, group="emb-project", exit_on_error=False)
    async def start_projection(self, call: P.Project) -> None:
        try:
            started = await self.shell.ask(call)
        except EngineError as exc:
            self._note(Text(str(exc), style="red"))
            return
        self.job_id = started.job_id
        bar_ = self.query_one("#proj-progress", ProgressBar)
        bar_.display = True
        bar_.update(total=None, progress=0)
        self._note(Text(f"{call.method} running…", style="dim"))

    def _show_progress(self) -> None:
        job = self.shell.link_state.jobs.get(self.job_id or "")
        if job is not None and job.total > 0:
            self.query_one("#proj-progress", ProgressBar).update(total=job.total, progress=job.done)

    def _note(self, text: Text) -> None:
        self.query_one("#proj-note", Static).update(text)

    def _draw_projection(self) -> None:
        res = self.projection
        found = self.query("#proj-plot")
        if res is None or not found:
            return
        plot = cast("PlotextPlot", found.first())
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        groups = sorted({p.group for p in res.points})
        for i, group in enumerate(groups):
            pts = [p for p in res.points if p.group == group]
            colour = COLOURS[i % len(COLOURS)]
            plt.scatter(
                [p.x for p in pts], [p.y for p in pts], label=group, color=colour, marker="dot"
            )
            for p in pts:
                plt.text(p.word, p.x, p.y, color=colour)
        plt.title(f"{res.method} of {len(res.points)} words ({res.source})")
        plot.refresh()
        note = Text(f"{res.seconds:.2f} s", style="dim")
        if res.explained:
            note.append(" · explained " + ", ".join(f"{v:.0%}" for v in res.explained), style="dim")
        if res.unknown:
            note.append(f" · unknown: {', '.join(res.unknown)}", style="yellow")
        if res.note:
            note.append(f" · {res.note}", style="yellow")
        self._note(note)

    # ------------------------------------------------------------- options

    def _show_opts(self) -> None:
        cmp = self.compare or "off"
        self.query_one("#emb-opts", Static).update(
            Text(
                f"source {self.source} (s) · compare {cmp} (c) · k {self.k} (k) · enter searches",
                style="dim",
            )
        )
        preset, _ = PRESETS[self.preset]
        near = "on" if self.near_group else "off"
        self.query_one("#proj-opts", Static).update(
            Text(
                f"groups: {preset} (g) · {self.method} (m) · neighbours of the query word {near} (o)"
                " · p projects",
                style="dim",
            )
        )

    def _cycle(self, current: str | None, options: list[str | None]) -> str | None:
        i = options.index(current) if current in options else -1
        return options[(i + 1) % len(options)]

    def action_cycle_source(self) -> None:
        self.source = self._cycle(self.source, list(self._static_sources())) or self.source
        self._show_opts()
        self.search()

    def action_cycle_compare(self) -> None:
        options: list[str | None] = [s for s in self._static_sources() if s != self.source]
        self.compare = self._cycle(self.compare, [*options, None])
        self._show_opts()
        self.search()

    def action_cycle_k(self) -> None:
        self.k = K_CHOICES[(K_CHOICES.index(self.k) + 1) % len(K_CHOICES)]
        self._show_opts()
        self.search()

    def action_cycle_preset(self) -> None:
        self.preset = (self.preset + 1) % len(PRESETS)
        self._show_opts()
        self.action_run_projection()

    def action_toggle_method(self) -> None:
        self.method = "tsne" if self.method == "pca" else "pca"
        self._show_opts()
        self.action_run_projection()

    def action_toggle_near(self) -> None:
        self.near_group = not self.near_group
        self._show_opts()
        self.action_run_projection()

    def action_run_projection(self) -> None:
        self.start_projection(self._projection_call())

    def action_run_context(self) -> None:
        self.run_context()

    def action_edit_sentences(self) -> None:
        self.query_one("#ctx-sentences", TextArea).focus()

    def action_query(self) -> None:
        self.query_one("#emb-query", Input).focus()

    def action_leave_input(self) -> None:
        active = self.query_one("#emb-tabs", TabbedContent).active
        if active == "context" and isinstance(self.focused, TextArea | Input):
            self.run_context()
        self.query_one(self.TAB_FOCUS[active]).focus()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(self.TAB_FOCUS[tab]).focus()  # TabbedContent follows focus
        self.query_one("#emb-tabs", TabbedContent).active = tab
