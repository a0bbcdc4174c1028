"""The prediction console: what a trained classifier says about a text, and why.

It opens in command mode on the list of runs that can predict: enter makes the highlighted run
model A, `b` makes it model B (the two are then shown side by side, with whether they agree).
`/` types the text; while typing, each pause predicts (debounced, without an explanation: those
cost hundreds of forward passes), and enter predicts with the explanation chosen by `x` and
keeps the text in the history. esc leaves the box. The history tab re-runs a text with enter;
the batch tab predicts a split of model A's dataset into a file as a job, and shows its scores
and its surest mistakes (enter on one predicts it). The runs, the options and the history come
back after a restart (view state "predict.*").
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine import protocol as P
from screens.predict.generating import LanguageTab
from screens.predict.lm import (
    Generation,
    Sampling,
    is_lm,
    smollm2_entry,
)
from screens.predict.model import (
    METHOD_NAMES,
    SAMPLE,
    ConsoleOptions,
    History,
    comparison_line,
    folder_entry,
    predictable,
    prediction_view,
    run_label,
)
from screens.predict.seq2seq import beam_label, is_seq2seq, next_beam, translation_view
from workbench.engine.client import EngineError

DEBOUNCE = 0.3  # seconds of no typing before a live prediction
STEPS = (0, 50, 1000)  # integrated gradients' steps `n` cycles through (0: the default, 300)


class PredictScreen(LanguageTab):
    CSS_PATH = "predict.tcss"
    BINDINGS: ClassVar = [
        Binding("slash", "edit", "Type text", id="predict.edit"),
        Binding("b", "compare", "Model B", id="predict.compare"),
        Binding("f", "add_folder", "Folder", show=False, id="predict.folder"),
        Binding("x", "cycle_method", "Explain", id="predict.explain"),
        Binding("w", "toggle_words", "Words", id="predict.words"),
        Binding("n", "cycle_steps", "IG steps", show=False, id="predict.steps"),
        Binding("L", "toggle_live", "Live", id="predict.live"),
        Binding("r", "rerun", "Predict", id="predict.rerun"),
        Binding("c", "show_tab('result')", "Result", show=False, id="predict.tab.result"),
        Binding("y", "show_tab('history')", "History", show=False, id="predict.tab.history"),
        Binding("a", "show_tab('batch')", "Batch", show=False, id="predict.tab.batch"),
        Binding("s", "cycle_split", "Split", id="predict.split"),
        Binding("p", "batch", "Predict split", id="predict.batch"),
        Binding("d", "disagree", "A vs B", id="predict.disagree"),
        # a language model as A
        Binding("s", "stop", "Stop", id="predict.stop"),
        Binding("u", "score", "Score", id="predict.score"),
        Binding("t", "sampling('temperature')", "Temp", id="predict.temperature"),
        Binding("K", "sampling('top_k')", "Top-k", id="predict.top_k"),
        Binding("P", "sampling('top_p')", "Top-p", id="predict.top_p"),
        Binding("N", "sampling('length')", "Length", show=False, id="predict.length"),
        Binding("o", "sampling('greedy')", "Greedy", show=False, id="predict.greedy"),
        Binding("e", "sampling('seed')", "Seed", show=False, id="predict.seed"),
        Binding("m", "beam", "Beam", id="predict.beam"),
        Binding("h,left", "walk(-1)", "← Token", show=False, id="predict.token_left"),
        Binding("l,right", "walk(1)", "Token →", show=False, id="predict.token_right"),
    ]
    # what each kind of model A can do (the rest is hidden while it is A)
    CLASSIFIER_ACTIONS = frozenset(
        {"compare", "cycle_method", "toggle_words", "cycle_steps", "toggle_live", "rerun"}
        | {"batch", "disagree", "cycle_split"}
    )
    LM_ACTIONS = frozenset({"stop", "score", "sampling", "walk"})
    SEQ2SEQ_ACTIONS = frozenset({"beam"})  # a seq2seq model A also reruns and predicts live
    TABS, FIRST_TAB = "pr-tabs", "result"
    TAB_ACTIONS: ClassVar = {
        "cycle_split": {"batch"},
        "batch": {"batch"},
        "disagree": {"batch"},
        "toggle_words": {"result"},
        "stop": {"result"},
        "walk": {"result"},
    }
    TAB_FOCUS: ClassVar = {
        "result": "#pr-runs",
        "history": "#pr-history",
        "batch": "#pr-mistakes",
    }

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[P.RunInfo] = []
        self.folders: list[P.RunInfo] = []  # model folders added with f (view state)
        self.model_a = ""
        self.model_b = ""
        self.options = ConsoleOptions()
        self.history = History()
        self.answers: dict[str, P.RunPredictResult | str] = {}  # run -> its answer or error
        self.shown_text = ""  # the text the answers are of
        self.batch: P.BatchPredictResult | None = None
        self.disagreement: P.DisagreeResult | None = None
        self.listed: list[str] = []  # the texts of the table's rows (enter predicts one)
        self.shows_disagreement = False  # the table lists A and B's disagreements
        self.job_id: str | None = None
        self._ended: P.JobEnded | None = None
        self._debounce: Timer | None = None
        self.sampling = Sampling()
        self.generation: Generation | None = None
        self.scored: P.ScoreResult | None = None
        self._streamed = False  # tokens came since the last redraw
        self.predictions = 0  # answers drawn (tests and benchmarks read it)
        self.beam = 0  # a seq2seq model A's beam width (0: the run's own)
        self.translation: P.TranslateResult | str | None = None
        self.last_render = 0.0

    def compose_body(self) -> ComposeResult:
        state = self.shell.view_state
        self.options = ConsoleOptions.from_state(state.get("predict.options", {}))
        self.model_a = str(state.get("predict.model_a", "") or "")
        self.model_b = str(state.get("predict.model_b", "") or "")
        self.folders = [
            folder_entry(f) for f in state.get("predict.folders", []) if isinstance(f, str)
        ][:20]
        saved = state.get("predict.history", [])
        self.history.texts = [t for t in saved if isinstance(t, str)][:50]
        with Horizontal(id="pr-body"):
            runs = OptionList(id="pr-runs")
            runs.border_title = "runs"
            yield runs
            with Vertical(id="pr-main"):
                text = Input(
                    self.history.texts[0] if self.history.texts else SAMPLE,
                    placeholder="a text to classify",
                    id="pr-text",
                    compact=True,
                )
                text.border_title = "text"
                yield text
                yield Static("", id="pr-opts")
                with TabbedContent(id="pr-tabs", initial="result"):
                    with TabPane("Result", id="result"), VerticalScroll(id="pr-scroll"):
                        yield Static("", id="pr-compare")
                        with Horizontal(id="pr-answers"):
                            yield Static("", id="pr-a")
                            yield Static("", id="pr-b")
                    with TabPane("History", id="history"):
                        yield OptionList(id="pr-history")
                    with TabPane("Batch", id="batch"):
                        yield Static("", id="pr-batch-head")
                        yield DataTable(id="pr-mistakes", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, self._engine_ready)
        self.shell.subscribe(self, P.RunUpdate, self._run_update)
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.shell.subscribe(self, P.GeneratedTokens, self._tokens, immediate=True)
        self.set_interval(0.5, self._show_progress)
        self.set_interval(0.1, self._redraw_stream)
        self._show_history()
        self._show_opts()
        self._show_batch_head()
        if self.shell.connected:
            self.load_runs()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.command_mode():
            return False  # letters are text while typing (esc leaves the box)
        if action in ("compare", "rerun", "batch") and not self.runs:
            return None  # shown dimmed: there is no run yet
        if action == "disagree" and not self.model_b:
            return None  # dimmed until there is a model B
        if action in ("batch", "disagree") and not getattr(self._run(self.model_a), "dataset", ""):
            return None  # a model folder has no dataset of its own
        lm = is_lm(self._run(self.model_a))
        if is_seq2seq(self._run(self.model_a)):
            kept = {"rerun", "toggle_live"}
            if action in (self.LM_ACTIONS | self.CLASSIFIER_ACTIONS) - kept:
                return False
        elif (
            action
            in (self.LM_ACTIONS if not lm else self.CLASSIFIER_ACTIONS) | self.SEQ2SEQ_ACTIONS
        ):
            return False
        if action == "stop" and not (self.generation and self.generation.running):
            return None
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    @property
    def text(self) -> str:
        return self.query_one("#pr-text", Input).value

    # ------------------------------------------------------------- runs

    def _engine_ready(self, restarted: bool) -> None:
        """Back on the engine; one that restarted lost the jobs it was running."""
        if restarted:
            gen = self.generation
            if gen is not None and gen.running:
                gen.error = "the engine restarted and this generation was lost: enter starts again"
                self._show_lm()
                self.refresh_bindings()
            if self.job_id is not None:
                self.job_id = None
                self.notify("the engine restarted and the batch job was lost: p or d again")
                self._show_batch_head()
        self.load_runs()

    def _run_update(self, event: P.RunUpdate) -> None:
        known = {r.run_id for r in self.runs}
        if event.run.run_id not in known or event.run.state not in ("running", "paused"):
            self.load_runs()

    @work(exclusive=True, group="pr-runs", exit_on_error=False)
    async def load_runs(self) -> None:
        try:
            res = await self.shell.ask(P.RunList())
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs = [*predictable(res.runs), *self.folders, smollm2_entry()]
        ids = [r.run_id for r in self.runs]
        if self.model_a not in ids:
            self.model_a = ids[0] if ids else ""
        if self.model_b not in ids or self.model_b == self.model_a:
            self.model_b = ""
        self._show_runs()
        self._show_opts()
        self.refresh_bindings()
        if len(self.runs) == 1:  # SmolLM2 alone
            self.query_one("#pr-a", Static).update(
                Text(
                    "No trained run yet. Train one on screen 5 (or `workbench train "
                    "examples/...toml`); its runs appear here once they have a checkpoint. "
                    "SmolLM2 generates text once `make llm` installs it.",
                    style="dim",
                )
            )
            return
        if is_lm(self._run(self.model_a)):
            if self.generation is None and self.scored is None:
                self._show_lm()
        elif not self.answers:
            self.predict(explain=False)

    def _show_runs(self) -> None:
        runs = self.query_one("#pr-runs", OptionList)
        highlighted = runs.highlighted
        runs.clear_options()
        for r in self.runs:
            label = run_label(r)
            mark = "A " if r.run_id == self.model_a else "B " if r.run_id == self.model_b else "  "
            runs.add_option(Option(Text(mark, style="bold") + label, id=r.run_id))
        if self.runs:
            if highlighted is None:  # first shown: on model A
                ids = [r.run_id for r in self.runs]
                highlighted = ids.index(self.model_a) if self.model_a in ids else 0
            runs.highlighted = min(highlighted, len(self.runs) - 1)

    def _highlighted_run(self) -> str:
        runs = self.query_one("#pr-runs", OptionList)
        if runs.highlighted is None or not self.runs:
            return ""
        return self.runs[runs.highlighted].run_id

    @on(OptionList.OptionSelected, "#pr-runs")
    def _run_chosen(self, event: OptionList.OptionSelected) -> None:
        self.model_a = event.option.id or ""
        if self.model_b == self.model_a:
            self.model_b = ""
        self._models_changed()

    def action_compare(self) -> None:
        run = self._highlighted_run()
        if not run:
            return
        if is_lm(self._run(run)) or is_seq2seq(self._run(run)):
            self.notify("this kind of model is compared with nothing: make it A", timeout=3)
            return
        if run == self.model_a:
            self.notify("that run is model A: highlight another one for B", timeout=3)
            return
        self.model_b = "" if run == self.model_b else run
        self._models_changed()

    def action_add_folder(self) -> None:
        from workbench.widgets.path_dialog import PathDialog, for_engine, path_machine

        state = self.shell.link_state
        where = path_machine(state, "engine")

        def check(path: str) -> str | None:
            if state.remote:  # nothing here says what is there: only a full path can mean it
                if not path.startswith("/"):
                    return f"give the folder's full path ({where})"
            elif not Path(path).expanduser().is_absolute() and not Path(path).expanduser().exists():
                return "give the folder's full path (on the engine's machine)"
            return None

        def chosen(path: str | None) -> None:
            if not path:
                return
            folder = for_engine(state, path)
            self.folders = [f for f in self.folders if f.run_id != folder]
            self.folders.insert(0, folder_entry(folder))
            self.shell.view_state.set("predict.folders", [f.run_id for f in self.folders])
            self.model_a = folder
            self.load_runs()
            self._models_changed()

        title = "A model folder (runs export, or a Hugging Face classifier)"
        # this folder is offered only when it is also the engine's machine's
        default = "" if state.remote else str(Path.cwd()) + "/"
        dialog = PathDialog(title, default, check, where=where, placeholder="/full/path/to/folder")
        self.app.push_screen(dialog, chosen)

    def _models_changed(self) -> None:
        if is_lm(self._run(self.model_a)) or is_seq2seq(self._run(self.model_a)):
            self.model_b = ""
        self.translation = None
        self.shell.view_state.set("predict.model_a", self.model_a)
        self.shell.view_state.set("predict.model_b", self.model_b)
        self.answers.clear()
        self.generation, self.scored = None, None
        self._show_runs()
        self._show_opts()
        self.refresh_bindings()
        if is_lm(self._run(self.model_a)):
            self._show_lm()
        else:
            self.predict(explain=bool(self.options.method))

    # ------------------------------------------------------------- predicting

    @on(Input.Changed, "#pr-text")
    def _text_changed(self) -> None:
        if not self.options.live or not self.runs or is_lm(self._run(self.model_a)):
            return
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, lambda: self.predict(explain=False))

    @on(Input.Submitted, "#pr-text")
    def _text_submitted(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._remember(self.text)
        if is_lm(self._run(self.model_a)):
            self.generate()
        else:
            self.predict(explain=True)

    def _remember(self, text: str) -> None:
        if self.history.add(text):
            self.shell.view_state.set("predict.history", self.history.texts[:50])
            self._show_history()

    def action_rerun(self) -> None:
        self.predict(explain=True)

    @work(exclusive=True, group="pr-predict", exit_on_error=False)
    async def predict(self, explain: bool = True) -> None:
        text = self.text
        models = [m for m in (self.model_a, self.model_b) if m]
        if not models:
            return
        if not text.strip():
            what = "translate" if is_seq2seq(self._run(self.model_a)) else "classify"
            self.query_one("#pr-a", Static).update(Text(f"type a text to {what}", style="dim"))
            self.query_one("#pr-b", Static).update("")
            self.query_one("#pr-compare", Static).update("")
            return
        if is_seq2seq(self._run(self.model_a)):
            call = P.Translate(model=self.model_a, source=text, beam_width=self.beam)
            try:
                self.translation = await self.shell.ask(call, timeout=120)
            except EngineError as exc:
                self.translation = str(exc)
            self.shown_text = text
            self._show_answers()
            return
        method = self.options.method if explain else ""
        if method:
            self.query_one("#pr-compare", Static).update(
                Text(f"explaining with {METHOD_NAMES[method]}…", style="dim")
            )
        calls = [
            P.RunPredict(run_id=m, texts=[text], explain=method, steps=self.options.steps)
            for m in models
        ]
        answers = await asyncio.gather(
            *(self.shell.ask(c, timeout=300) for c in calls), return_exceptions=True
        )
        self.answers = {
            m: a if isinstance(a, P.RunPredictResult) else str(a)
            for m, a in zip(models, answers, strict=True)
        }
        self.shown_text = text
        self._show_answers()

    def _show_translation(self) -> None:
        box = self.query_one("#pr-a", Static)
        self.query_one("#pr-b", Static).display = False
        self.query_one("#pr-compare", Static).display = False
        box.display = True
        res = self.translation
        if isinstance(res, P.TranslateResult):
            box.update(translation_view(res, self.query_one("#pr-answers").size.width))
        else:
            box.update(Text(res or "", style="red"))
        self.predictions += 1
        self.last_render = time.perf_counter()

    def action_beam(self) -> None:
        self.beam = next_beam(self.beam)
        self._show_opts()
        self.predict()

    def _show_answers(self) -> None:
        if is_seq2seq(self._run(self.model_a)):
            self._show_translation()
            return
        boxes = [self.query_one("#pr-a", Static), self.query_one("#pr-b", Static)]
        models = [self.model_a, self.model_b]
        results: list[P.RunPredictResult] = []
        # side by side, each column has half the room: bars of what is left after the name
        # and the percentage
        room = self.query_one("#pr-answers").size.width // (2 if self.model_b else 1)
        bar = max(4, min(16, room - 26))
        for box, model, letter in zip(boxes, models, "AB", strict=True):
            answer = self.answers.get(model)
            box.display = bool(model)
            if isinstance(answer, P.RunPredictResult):
                name = f"{letter} {self._run_name(model).split(' (')[0]}"
                box.update(
                    prediction_view(self.shown_text, answer, self.options.by_word, name, bar)
                )
                results.append(answer)
            elif answer:
                box.update(Text(answer, style="red"))
            else:
                box.update("")
        compare = self.query_one("#pr-compare", Static)
        compare.display = bool(self.model_b)
        if len(results) == 2:
            compare.update(comparison_line(*results))
        else:
            compare.update("")
        self.predictions += 1
        self.last_render = time.perf_counter()

    # ------------------------------------------------------------- options

    def _show_opts(self) -> None:
        line = Text("A ", style="bold")
        line.append(self._run_name(self.model_a) or "—")
        if is_lm(self._run(self.model_a)):
            line.append("  ")
            line.append_text(self.sampling.describe())
            line.append(" · enter generates, u scores", style="dim")
            self.query_one("#pr-opts", Static).update(line)
            return
        if is_seq2seq(self._run(self.model_a)):
            line.append(f"  {beam_label(self.beam)}", style="dim")
            line.append(" · enter translates, m beam", style="dim")
            self.query_one("#pr-opts", Static).update(line)
            return
        if self.model_b:
            line.append("  B ", style="bold")
            line.append(self._run_name(self.model_b))
        line.append("  ")
        line.append_text(self.options.describe())
        if self.options.method == "ig":
            line.append(f" · {self.options.steps or 300} steps", style="dim")
        self.query_one("#pr-opts", Static).update(line)

    def _run(self, run_id: str) -> P.RunInfo | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def _run_name(self, run_id: str) -> str:
        found = self._run(run_id)
        return f"{found.name} ({found.arch})" if found else run_id

    def _options_changed(self, predict: bool = True) -> None:
        self.shell.view_state.set("predict.options", self.options.to_state())
        self._show_opts()
        if predict:
            self.predict(explain=True)

    def action_cycle_method(self) -> None:
        self.options.cycle_method()
        self._options_changed()

    def action_toggle_words(self) -> None:
        self.options.by_word = not self.options.by_word
        self._options_changed(predict=False)
        self._show_answers()

    def action_cycle_steps(self) -> None:
        self.options.steps = STEPS[(STEPS.index(self.options.steps) + 1) % len(STEPS)]
        self._options_changed(predict=self.options.method == "ig")

    def action_toggle_live(self) -> None:
        self.options.live = not self.options.live
        self._options_changed(predict=False)

    def action_edit(self) -> None:
        self.query_one("#pr-text", Input).focus()

    # ------------------------------------------------------------- history

    def _show_history(self) -> None:
        box = self.query_one("#pr-history", OptionList)
        box.clear_options()
        for text in self.history.texts:
            box.add_option(Option(Text(" ".join(text.split())[:200])))
        if not self.history.texts:
            box.add_option(Option(Text("texts you predict with enter show here", style="dim")))
        box.highlighted = 0

    @on(OptionList.OptionSelected, "#pr-history")
    def _history_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.history.texts):
            self._predict_text(self.history.texts[event.option_index])

    def _predict_text(self, text: str) -> None:
        self.query_one("#pr-text", Input).value = text
        if self._debounce is not None:
            self._debounce.stop()
        self._remember(text)
        self.show_tab("result")
        if is_lm(self._run(self.model_a)):
            self.generate()
        else:
            self.predict(explain=True)
