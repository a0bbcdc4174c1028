"""The prediction console's language-model half (see lm.py for what it shows): generating
with streamed tokens drawn on a timer, stopping, walking the tokens' candidates, scoring. A base
of PredictScreen, which holds the state it reads."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.widgets import Static

from engine import protocol as P
from screens.predict.batch import BatchTab
from screens.predict.lm import Generation, Sampling, generation_view, score_view
from workbench.engine.client import EngineError


class LanguageTab(BatchTab):
    """Generation and scoring with model A; the screen sets sampling, generation, scored,
    shown_text and _streamed, and gives text, _run_name and _show_opts."""

    sampling: Sampling
    generation: Generation | None
    scored: P.ScoreResult | None
    shown_text: str
    _streamed: bool
    predictions: int
    last_render: float

    @work(exclusive=True, group="pr-generate", exit_on_error=False)
    async def generate(self) -> None:
        if self.generation is not None and self.generation.running:
            await self._cancel(self.generation.job_id)
        text, model = self.text, self.model_a
        self.generation, self.scored = Generation(prompt=text), None
        self._show_lm()
        try:
            started = await self.shell.ask(self.sampling.call(model, text), timeout=300)
        except EngineError as exc:
            self.generation.error = str(exc)
            self._show_lm()
            return
        self.generation.job_id = started.job_id
        self.refresh_bindings()

    def _tokens(self, event: P.GeneratedTokens) -> None:
        gen = self.generation
        if gen is not None and event.job_id == gen.job_id:
            gen.add(event)
            self._streamed = True  # drawn by the next tick, not per event

    def _redraw_stream(self) -> None:
        if self._streamed:
            self._streamed = False
            self._show_lm()

    async def _cancel(self, job_id: str) -> None:
        try:
            await self.shell.ask(P.Cancel(job_id=job_id))
        except EngineError as exc:
            self.notify(str(exc), severity="warning", timeout=4)

    def action_stop(self) -> None:
        if self.generation is not None and self.generation.running:
            self.run_worker(self._cancel(self.generation.job_id), exit_on_error=False)

    def action_walk(self, step: int) -> None:
        if self.generation is not None:
            self.generation.move(step)
            self._show_lm()

    def action_sampling(self, what: str) -> None:
        self.sampling.cycle(what)
        self._show_opts()

    @work(exclusive=True, group="pr-score", exit_on_error=False)
    async def action_score(self) -> None:
        text, model = self.text, self.model_a
        self.query_one("#pr-a", Static).update(Text("scoring…", style="dim"))
        try:
            self.scored = await self.shell.ask(P.ScoreText(model=model, text=text), timeout=300)
        except EngineError as exc:
            self.scored = None
            self.query_one("#pr-a", Static).update(Text(str(exc), style="red"))
            return
        self.generation = None
        self.shown_text = text
        self._show_lm()

    def _show_lm(self) -> None:
        box = self.query_one("#pr-a", Static)
        box.display = True
        self.query_one("#pr-b", Static).display = False
        self.query_one("#pr-compare", Static).display = False
        name = self._run_name(self.model_a)
        if self.scored is not None:
            box.update(score_view(self.scored, self.shown_text))
        elif self.generation is not None:
            box.update(generation_view(self.generation, name))
        else:
            box.update(
                Text(f"{name}: type a prompt (/) and press enter to continue it", style="dim")
            )
        self.predictions += 1
        self.last_render = time.perf_counter()
