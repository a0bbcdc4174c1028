"""The attack screen: how a trained classifier stands up to adversarial attacks.

It opens in command mode on the classifier runs: enter makes the highlighted run the one
attacked (▶), `m` marks more runs to vote with it as an ensemble (+). `r` cycles the recipe,
`o` edits the options in one line (n, split, budget, target, label and the recipe's own
settings such as epsilon); `/` types a text and enter attacks it (with the trace of an
embedding attack's steps), `b` attacks n examples of the split as a job with progress (`x`
cancels it, after asking). The example tab shows the original and perturbed text with the
changes marked and both predictions; the summary tab TextAttack's table, with the result kept
by `a` as A beside the newest one (B: the same attack on a defended model or an ensemble); the
examples tab lists them (enter shows one); the trace tab a PGD attack's steps. `e` exports the
examples to a CSV file in TextAttack's log columns. Options and runs come back after a restart
(view state "attack.*").
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from engine import protocol as P
from screens.attack.model import (
    SAMPLE,
    AttackOptions,
    attackable,
    example_cells,
    example_view,
    recipe_view,
    result_line,
    run_label,
    summary_view,
    trace_cells,
)
from workbench.attack_report import write_csv
from workbench.cli.predict import probability_bar
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen


def free_name(folder: Path, stem: str) -> Path:
    """folder/stem.csv, or stem-2.csv, stem-3.csv ... when it is taken."""
    path, n = folder / f"{stem}.csv", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.csv"
    return path


class AttackScreen(TabbedScreen):
    CSS_PATH = "attack.tcss"
    BINDINGS: ClassVar = [
        Binding("slash", "edit", "Attack text", id="attack.edit"),
        Binding("b", "batch", "Attack split", id="attack.batch"),
        Binding("r", "cycle_recipe", "Recipe", id="attack.recipe"),
        Binding("o", "settings", "Options", id="attack.settings"),
        Binding("x", "cancel", "Cancel", id="attack.cancel"),
        Binding("m", "mark", "Ensemble", id="attack.mark"),
        Binding("a", "keep", "Keep as A", id="attack.keep"),
        Binding("A", "forget", "Drop A", show=False, id="attack.forget"),
        Binding("e", "export", "Export CSV", id="attack.export"),
        Binding("s", "cycle_split", "Split", show=False, id="attack.split"),
        Binding("c", "show_tab('example')", "Example", show=False, id="attack.tab.example"),
        Binding("u", "show_tab('summary')", "Summary", id="attack.tab.summary"),
        Binding("v", "show_tab('examples')", "Examples", id="attack.tab.examples"),
        Binding("t", "show_tab('trace')", "Trace", id="attack.tab.trace"),
    ]
    TABS, FIRST_TAB = "at-tabs", "example"
    TAB_FOCUS: ClassVar = {
        "example": "#at-runs",
        "summary": "#at-runs",
        "examples": "#at-examples",
        "trace": "#at-trace",
    }

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[P.RunInfo] = []
        self.recipes: list[P.RecipeInfo] = []
        self.run_id = ""  # the run attacked
        self.ensemble: list[str] = []  # the runs marked to vote with it
        self.options = AttackOptions()
        self.result: P.AttackResult | None = None  # the newest result
        self.kept: P.AttackResult | None = None  # kept as A
        self.example = 0  # the example shown, of self.result
        self.error = ""  # the engine's refusal or the job's error, shown in the example tab
        self.job_id: str | None = None
        self.job_kind = ""  # "text" or "batch"
        self._ended: P.JobEnded | None = None
        self.results = 0  # results drawn (tests read it)

    def compose_body(self) -> ComposeResult:
        state = self.shell.view_state
        self.options = AttackOptions.from_state(state.get("attack.options", {}))
        self.run_id = str(state.get("attack.run", "") or "")
        saved = state.get("attack.ensemble", [])
        self.ensemble = (
            [r for r in saved if isinstance(r, str)][:8] if isinstance(saved, list) else []
        )
        with Horizontal(id="at-body"):
            runs = OptionList(id="at-runs")
            runs.border_title = "runs"
            yield runs
            with Vertical(id="at-main"):
                text = Input(SAMPLE, placeholder="a text to attack", id="at-text", compact=True)
                text.border_title = "text"
                yield text
                settings = Input("", placeholder="name=value …", id="at-settings", compact=True)
                settings.border_title = "options"
                settings.display = False
                yield settings
                yield Static("", id="at-opts")
                yield Static("", id="at-progress")
                with TabbedContent(id="at-tabs", initial="example"):
                    with TabPane("Example", id="example"), VerticalScroll(id="at-example-scroll"):
                        yield Static("", id="at-example")
                    with TabPane("Summary", id="summary"), VerticalScroll(id="at-summary-scroll"):
                        yield Static("", id="at-summary")
                    with TabPane("Examples", id="examples"):
                        yield DataTable(id="at-examples", cursor_type="row", zebra_stripes=True)
                    with TabPane("Trace", id="trace"):
                        yield Static("", id="at-trace-head")
                        yield DataTable(id="at-trace", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.shell.subscribe_ready(self, self._engine_ready)
        self.shell.subscribe(self, P.RunUpdate, self._run_update)
        self.shell.subscribe(self, P.JobEnded, self._job_ended)
        self.set_interval(0.5, self._show_progress)
        self._show_opts()
        self._show_all()
        if self.shell.connected:
            self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.command_mode():
            return False  # letters are text while typing (esc leaves the box)
        if action in ("edit", "batch", "mark") and not self.runs:
            return None  # shown dimmed: there is no run yet
        if action == "cancel" and not self.job_id:
            return False
        if action in ("keep", "export") and self.result is None:
            return None
        if action == "forget" and self.kept is None:
            return False
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    # ------------------------------------------------------------- runs and recipes

    def _engine_ready(self, restarted: bool) -> None:
        if restarted and self.job_id is not None:
            self.job_id = None
            self.error = "the engine restarted and the attack was lost: start it again"
            self._show_example()
            self._show_progress()
        self.load()

    def _run_update(self, event: P.RunUpdate) -> None:
        known = {r.run_id for r in self.runs}
        if event.run.run_id not in known or event.run.state not in ("running", "paused"):
            self.load()

    @work(exclusive=True, group="at-load", exit_on_error=False)
    async def load(self) -> None:
        try:
            runs = await self.shell.ask(P.RunList())
            if not self.recipes:
                self.recipes = (await self.shell.ask(P.AttackRecipes())).recipes
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs = attackable(runs.runs)
        ids = [r.run_id for r in self.runs]
        if self.run_id not in ids:
            self.run_id = ids[0] if ids else ""
        self.ensemble = [r for r in self.ensemble if r in ids and r != self.run_id]
        names = [r.name for r in self.recipes]
        if self.options.recipe not in names and names:
            self.options.recipe = names[0]
        self._show_runs()
        self._show_opts()
        self._show_example()
        self.refresh_bindings()

    def _show_runs(self) -> None:
        box = self.query_one("#at-runs", OptionList)
        highlighted = box.highlighted
        box.clear_options()
        for r in self.runs:
            mark = "▶" if r.run_id == self.run_id else "+" if r.run_id in self.ensemble else ""
            box.add_option(Option(run_label(r, mark), id=r.run_id))
        if not self.runs:
            box.add_option(Option(Text("no classifier run", style="dim"), disabled=True))
            return
        if highlighted is None:
            ids = [r.run_id for r in self.runs]
            highlighted = ids.index(self.run_id) if self.run_id in ids else 0
        box.highlighted = min(highlighted, len(self.runs) - 1)

    def _highlighted_run(self) -> str:
        box = self.query_one("#at-runs", OptionList)
        if box.highlighted is None or not self.runs:
            return ""
        return self.runs[min(box.highlighted, len(self.runs) - 1)].run_id

    @on(OptionList.OptionSelected, "#at-runs")
    def _run_chosen(self, event: OptionList.OptionSelected) -> None:
        if not event.option.id:
            return
        self.run_id = event.option.id
        self.ensemble = [r for r in self.ensemble if r != self.run_id]
        self._runs_changed()

    def action_mark(self) -> None:
        run = self._highlighted_run()
        if not run:
            return
        if run == self.run_id:
            self.notify("that run is the one attacked (▶): mark others to vote with it", timeout=3)
            return
        if run in self.ensemble:
            self.ensemble.remove(run)
        else:
            self.ensemble.append(run)
        self._runs_changed()

    def _runs_changed(self) -> None:
        self.shell.view_state.set("attack.run", self.run_id)
        self.shell.view_state.set("attack.ensemble", self.ensemble)
        self._show_runs()
        self._show_opts()

    def _run_name(self, run_id: str) -> str:
        found = next((r for r in self.runs if r.run_id == run_id), None)
        return f"{found.name} ({found.arch})" if found else run_id

    def recipe(self) -> P.RecipeInfo | None:
        return next((r for r in self.recipes if r.name == self.options.recipe), None)

    # ------------------------------------------------------------- options

    def _show_opts(self) -> None:
        line = Text("▶ ", style="bold")
        line.append(self._run_name(self.run_id) or "—")
        if self.ensemble:
            line.append(f" + {len(self.ensemble)} voting", style="bold")
        line.append("\n")
        line.append_text(self.options.describe())
        self.query_one("#at-opts", Static).update(line)

    def _options_changed(self) -> None:
        self.shell.view_state.set("attack.options", self.options.to_state())
        self._show_opts()
        if self.result is None and not self.error:
            self._show_example()

    def action_cycle_recipe(self) -> None:
        self.options.cycle_recipe([r.name for r in self.recipes])
        self.error = ""
        self._options_changed()
        if self.result is None:
            self._show_example()

    def action_cycle_split(self) -> None:
        self.options.cycle_split()
        self._options_changed()

    def action_settings(self) -> None:
        box = self.query_one("#at-settings", Input)
        box.value = self.options.entry(self.recipe())
        box.display = True
        box.focus()
        box.cursor_position = len(box.value)

    @on(Input.Submitted, "#at-settings")
    def _settings_submitted(self) -> None:
        if self._apply_settings():
            self.leave_text()

    def on_text_left(self) -> None:
        box = self.query_one("#at-settings", Input)
        if box.display:
            self._apply_settings()
            box.display = False

    def _apply_settings(self) -> bool:
        box = self.query_one("#at-settings", Input)
        try:
            self.options.apply(box.value, self.recipe())
        except ValueError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return False
        self._options_changed()
        return True

    def action_edit(self) -> None:
        self.query_one("#at-text", Input).focus()

    # ------------------------------------------------------------- attacking

    @on(Input.Submitted, "#at-text")
    def _text_submitted(self, event: Input.Submitted) -> None:
        self.leave_text()
        self.start(event.value)

    def action_batch(self) -> None:
        self.start(None)

    @work(exclusive=True, group="at-start", exit_on_error=False)
    async def start(self, text: str | None) -> None:
        """Attack the typed text (text given) or n examples of the split, as a job."""
        if not self.run_id:
            return
        if self.job_id:
            self.notify("an attack is running: x cancels it", timeout=3)
            return
        info = self.recipe()
        trace = text is not None and info is not None and info.kind == "embedding"
        call = self.options.call(self.run_id, self.ensemble, text, trace)
        self.error = ""
        try:
            started = await self.shell.ask(call)
        except EngineError as exc:
            self._refused(str(exc))
            return
        self.job_id, self.job_kind = started.job_id, "text" if text is not None else "batch"
        self._show_progress()
        self.refresh_bindings()
        ended, self._ended = self._ended, None
        if ended is not None and ended.job.job_id == started.job_id:
            self._job_ended(ended)

    def _refused(self, message: str) -> None:
        self.error = message
        self.notify(message, severity="error", timeout=8)
        self.show_tab("example")
        self._show_example()

    def _job_ended(self, event: P.JobEnded) -> None:
        if self.job_id is None:
            self._ended = event  # it may end before the call that started it answers
            return
        if event.job.job_id != self.job_id:
            return
        self.job_id = None
        kind, self.job_kind = self.job_kind, ""
        if event.error is not None:
            if event.error.code == "cancelled":
                self.notify("the attack was cancelled", timeout=4)
            else:
                msg = event.error.message
                self._refused(f"{msg} ({event.error.hint})" if event.error.hint else msg)
        elif isinstance(event.result, P.AttackResult):
            self.result, self.example = event.result, 0
            self._show_all()
            self.show_tab("example" if kind == "text" else "summary")
        self._show_progress()
        self.refresh_bindings()

    def action_cancel(self) -> None:
        from workbench.widgets.confirm import ConfirmDialog

        job = self.job_id
        if not job:
            return

        def chosen(yes: bool | None) -> None:
            if yes and self.job_id == job:
                self.run_worker(self._cancel(job), exit_on_error=False)

        lost = "The examples attacked so far are lost; the attack ends with no result."
        self.app.push_screen(ConfirmDialog("Cancel the attack?", lost, yes="cancel it"), chosen)

    async def _cancel(self, job_id: str) -> None:
        try:
            await self.shell.ask(P.Cancel(job_id=job_id))
        except EngineError as exc:
            self.notify(str(exc), severity="warning", timeout=4)

    def _show_progress(self) -> None:
        box = self.query_one("#at-progress", Static)
        if not self.job_id:
            box.display = False
            return
        box.display = True
        job = self.shell.link_state.jobs.get(self.job_id)
        line = Text("attacking… ", style="bold yellow")
        if job is not None and job.total:
            frac = job.done / job.total
            line.append(probability_bar(frac, 16), style="yellow")
            line.append(f" {job.done:,.0f} of {job.total:,.0f}")
        if job is not None and job.message:
            line.append(f" {job.message[:40]}", style="dim")
        line.append("  x cancels", style="dim")
        box.update(line)

    # ------------------------------------------------------------- results

    def _show_all(self) -> None:
        self._show_example()
        self._show_summary()
        self._show_examples()
        self._show_trace()

    def _show_example(self) -> None:
        box = self.query_one("#at-example", Static)
        res = self.result
        if self.error:
            out = Text(self.error, style="bold red")
            out.append("\n\n")
            out.append_text(recipe_view(self.recipe()))
            box.update(out)
        elif res is None or not res.examples:
            box.update(recipe_view(self.recipe()) if self.runs else self._no_runs())
        else:
            ex = res.examples[min(self.example, len(res.examples) - 1)]
            width = self.query_one("#at-main").size.width or 56
            bar = max(4, min(20, width - 30))
            view = example_view(res, ex, bar)
            if len(res.examples) > 1:
                head = Text(f"example {self.example + 1} of {len(res.examples)} · ", style="dim")
                head.append_text(result_line(res, self._result_name(res)))
                view = Group(head, view)
            box.update(view)
        self.results += 1

    def _no_runs(self) -> Text:
        return Text(
            "No trained classifier yet. Train one on screen 5 (or `workbench train "
            "examples/...toml`); its runs appear here once they have a checkpoint.",
            style="dim",
        )

    def _show_summary(self) -> None:
        view = summary_view(self.result, self.kept, self._result_name)
        self.query_one("#at-summary", Static).update(view)

    def _result_name(self, res: P.AttackResult) -> str:
        """A result's model by its run's name (the engine's description for a folder)."""
        found = next((r for r in self.runs if r.run_id == res.run_id), None)
        return f"{found.name} ({found.arch})" if found else ""

    def _show_examples(self) -> None:
        table = self.query_one("#at-examples", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "result", "output", "queries", "perturbed text")
        for i, ex in enumerate(self.result.examples if self.result else []):
            table.add_row(*example_cells(i, ex))

    def _show_trace(self) -> None:
        table = self.query_one("#at-trace", DataTable)
        head = self.query_one("#at-trace-head", Static)
        table.clear(columns=True)
        res = self.result
        ex = (
            res.examples[min(self.example, len(res.examples) - 1)] if res and res.examples else None
        )
        if ex is None or not ex.steps:
            head.update(
                Text(
                    "an embedding attack (fgsm, pgd, cw) on a typed text keeps its steps: "
                    "the loss, the prediction, the norm and the text the vectors snap to",
                    style="dim",
                )
            )
            return
        head.update(Text(f"{len(ex.steps)} steps of example {self.example + 1}", style="bold"))
        table.add_columns("step", "loss", "label", "p", "norm", "nearest tokens")
        for step in ex.steps:
            table.add_row(*trace_cells(step))

    @on(DataTable.RowSelected, "#at-examples")
    def _example_chosen(self, event: DataTable.RowSelected) -> None:
        if self.result and event.cursor_row < len(self.result.examples):
            self.example = event.cursor_row
            self._show_example()
            self._show_trace()
            self.show_tab("example")

    def action_keep(self) -> None:
        if self.result is None:
            return
        self.kept = self.result
        self.notify("kept as A: the next attack shows beside it in the summary", timeout=3)
        self._show_summary()
        self.refresh_bindings()

    def action_forget(self) -> None:
        self.kept = None
        self._show_summary()
        self.refresh_bindings()

    def action_export(self) -> None:
        from workbench.widgets.path_dialog import PathDialog, path_machine

        res = self.result
        if res is None:
            return
        stem = f"attack-{res.run_id.rsplit('/', 1)[-1][:40]}-{res.recipe}"
        default = str(free_name(Path.cwd(), stem))

        def write(path: str) -> str | None:
            target = Path(path).expanduser()
            if target.suffix.lower() != ".csv":
                return "the file must end in .csv"
            if target.exists():
                return f"{target} exists: choose a new file (nothing is overwritten)"
            if not target.parent.is_dir():
                return f"there is no folder {target.parent}"
            try:
                rows = write_csv(res, target)
            except OSError as exc:
                return f"could not write {target}: {exc.strerror or exc}"
            self.notify(f"{rows:,} examples written to {target}", timeout=5)
            return None

        where = path_machine(self.shell.link_state, "app")  # the app writes it, here
        self.app.push_screen(PathDialog("Export the examples to CSV", default, write, where=where))
