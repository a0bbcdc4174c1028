"""The model builder: compose a training run from the keyboard, see what it would build, start it.

Every field is checked as it is typed: what cannot be read (a letter in a number) is said at
once, here; what cannot work (num_heads not dividing d_model, a split with no rows, fp16 on a
CPU) comes back from the engine, which checks the configuration field by field and describes
the model it would build: the layer tree, trainable and frozen parameters, and the memory one
training step needs at the chosen batch size. Typing never waits on the engine: one worker
asks for the latest form until it has caught up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Tree

from engine import protocol as P
from screens.builder.form import FormPane, key_of
from screens.builder.layers import LayerTree
from screens.builder.model import DEFAULT_ARCH, REBUILDS, FormError, RunForm, to_toml
from screens.builder.summary import PlanSummary
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchScreen
from workbench.widgets.path_dialog import PathDialog

CHOICES = ("datasets", "tokenizers", "vectors")  # the catalog lists the form chooses from


class BuilderScreen(WorkbenchScreen):
    CSS_PATH = "builder.tcss"
    BINDINGS: ClassVar = [
        Binding("ctrl+t", "start", "Train", id="builder.start"),
        Binding("ctrl+s", "save", "Save", id="builder.save"),
        Binding("ctrl+o", "load", "Load", id="builder.load"),
        Binding("ctrl+n", "defaults", "Defaults", id="builder.defaults"),
        Binding("escape", "leave_form", "Summary", id="builder.leave"),
        Binding("e,enter", "edit", "Edit", id="builder.edit"),
        Binding("l", "focus_layers", "Layers", show=False, id="builder.layers"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.form = RunForm()
        self.plans = 0  # answers shown (tests wait on this)
        self._dirty = False
        self._planning = False
        self._caught_up = asyncio.Event()  # set when the last answer is of the form on screen

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        return [("file path dialogs", PathDialog.BINDINGS)]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bd-body"):
            yield FormPane(id="bd-left")
            with Vertical(id="bd-right"):
                yield PlanSummary("", id="bd-summary")
                yield LayerTree(id="bd-layers")

    def on_mount(self) -> None:
        self.query_one(LayerTree).display = False
        self.shell.subscribe_ready(self, lambda _: self.load_choices())
        self.shell.subscribe_catalog(self, self._catalog_refreshed)
        self.set_interval(0.1, self._maybe_plan)
        if self.shell.connected:
            self.load_choices()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "focus_layers"):
            focused = self.focused
            return focused is None or key_of(focused) is None  # letters type in a field
        return True

    @on(FormPane.FieldChanged)
    async def _field_changed(self, event: FormPane.FieldChanged) -> None:
        if event.typed:
            self.form.typed(event.key, event.value)
        elif not self.form.choose(event.key, event.value):
            return
        elif event.key in REBUILDS:
            await self.build_form()
        self._mark_dirty()
        self._show_problems()

    def on_descendant_focus(self, event: Any) -> None:
        self._show_help()

    # ------------------------------------------------------------- engine

    @work(exclusive=True, group="bd-choices", exit_on_error=False)
    async def load_choices(self) -> None:
        try:
            schema, _ = await asyncio.gather(
                self.shell.ask(P.RunSchema()), self.shell.catalog.refresh(CHOICES)
            )
        except EngineError as exc:
            self.query_one(PlanSummary).update(Text(str(exc), style="red"))
            return
        first = self.form.schema is None
        self.form.schema = schema
        self._take_choices()
        if first or not self.form.values:
            self.form.reset()
        await self.build_form()

    def _take_choices(self) -> bool:
        """The catalog's current lists as this form's choices; whether any changed."""
        catalog = self.shell.catalog
        return self.form.take_choices(
            catalog.datasets, catalog.tokenizers, catalog.static_vectors()
        )

    async def _catalog_refreshed(self, kind: str) -> None:
        """A dataset, tokenizer or vector source came or went: the choices follow."""
        if self.form.schema is None or kind not in CHOICES:
            return
        if self._take_choices():
            await self.build_form()

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._caught_up.clear()

    def _maybe_plan(self) -> None:
        ready = self.form.schema is not None and self.shell.connected
        if self._dirty and not self._planning and ready:
            self._planning = True
            self.ask_plan()

    @work(exclusive=True, group="bd-plan", exit_on_error=False)
    async def ask_plan(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                if self.form.local_errors:
                    self.form.plan = None
                    self._show_summary()
                    break
                try:
                    plan = await self.shell.ask(P.RunPlan(config_toml=self.form.toml()))
                except EngineError as exc:
                    plan = P.RunPlanResult(problems=[P.FieldProblem("", exc.message, exc.hint)])
                if not self._dirty:  # else a newer form is on its way: show that one
                    self.form.plan = plan
                    self.plans += 1
                    self._show_problems()
                    self._show_summary()
        finally:
            self._planning = False
            if not self._dirty:
                self._caught_up.set()

    # ------------------------------------------------------------- showing

    async def build_form(self) -> None:
        """(Re)build every field from the schema and the current values."""
        pane = self.query_one(FormPane)
        focused = self.focused
        refocus = key_of(focused) if focused is not None else None
        await pane.build(self.form)
        self.form.local_errors.clear()
        self._mark_dirty()
        if refocus:
            pane.focus_key(refocus)
        elif self.focused is not None and not isinstance(self.focused, Tree):
            self.set_focus(None)  # keys go to the screen until e (or tab) enters the form
        self._show_help()

    def _show_problems(self) -> None:
        self.query_one(FormPane).show_problems(self.form.problems())

    def _show_summary(self) -> None:
        summary, tree = self.query_one(PlanSummary), self.query_one(LayerTree)
        problems, plan = self.form.problems(), self.form.plan
        if problems:
            summary.show_problems(problems)
            tree.display = bool(plan and plan.layers)
            if plan and plan.layers:
                tree.show(plan.layers)
            return
        if plan is None:
            summary.update("")
            return
        summary.show_plan(plan, self.form.arch, self.form.values, self.form.steps(plan))
        tree.show(plan.layers)
        tree.display = bool(plan.layers)

    def _show_help(self) -> None:
        key = key_of(self.focused) if self.focused is not None else None
        spec = self.form.spec(key) if key and self.form.schema else None
        self.query_one(FormPane).show_help(key, spec)

    # ------------------------------------------------------------- actions

    def action_edit(self) -> None:
        if self.form.schema is None:
            return
        pane = self.query_one(FormPane)
        if not any(pane.focus_key(key) for key in self.form.problems()):
            pane.focus_key("model.arch")

    def action_leave_form(self) -> None:
        tree = self.query_one(LayerTree)
        if tree.display:
            tree.focus()
        else:
            self.set_focus(None)
            self._show_help()

    def action_focus_layers(self) -> None:
        tree = self.query_one(LayerTree)
        if tree.display:
            tree.focus()

    async def action_defaults(self) -> None:
        if self.form.schema is None:
            return
        arch = self.form.values.get("model.arch", DEFAULT_ARCH)
        self.form.reset(arch)
        await self.build_form()
        self.notify(f"{arch}: every setting back to its default")

    def action_save(self) -> None:
        if self.form.schema is None:
            return
        if self.form.local_errors:
            self.notify("fix the fields in red first", severity="warning")
            return
        text = self.form.toml()
        default = f"{self.form.config()['name']}.toml"

        def save(path: str) -> str | None:
            target = Path(path).expanduser()
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            except OSError as exc:
                return f"cannot write {target}: {exc.strerror or exc}"
            return None

        def done(path: str | None) -> None:
            if path:
                self.notify(f"saved {path}; run it with: workbench train {path} --follow")

        self.app.push_screen(PathDialog("Save the run as TOML", default, save), done)

    def action_load(self) -> None:
        if self.form.schema is None:
            return
        loaded: dict[str, Any] = {}

        def load(path: str) -> str | None:
            target = Path(path).expanduser()
            try:
                values, ignored = self.form.read(target.read_text(encoding="utf-8"))
            except OSError as exc:
                return f"cannot read {target}: {exc.strerror or exc}"
            except (FormError, UnicodeDecodeError) as exc:
                return f"{target}: {exc}"
            loaded.update(values=values, ignored=ignored)
            return None

        async def done(path: str | None) -> None:
            if not path:
                return
            await self.apply(loaded["values"])
            ignored = loaded["ignored"]
            note = f"; the form has no field for {', '.join(ignored)}" if ignored else ""
            self.notify(f"loaded {path}{note}", severity="warning" if ignored else "information")

        self.app.push_screen(PathDialog("Load a run TOML", "examples/", load), done)

    async def apply(self, values: dict[str, Any]) -> None:
        """Show a loaded configuration: the architecture's defaults under what the file sets."""
        self.form.apply(values)
        await self.build_form()

    @work(exclusive=True, group="bd-start", exit_on_error=False)
    async def action_start(self) -> None:
        if self.form.schema is None:
            return
        try:  # judge the form on screen now, not an older one
            await asyncio.wait_for(self._caught_up.wait(), 60)
        except TimeoutError:
            self.notify("the engine has not checked the form yet; try again", severity="warning")
            return
        problems = self.form.problems()
        if problems:
            self.notify(
                f"{len(problems)} field(s) to fix first: "
                + ", ".join(p or "file" for p in problems),
                severity="error",
            )
            self.action_edit()
            return
        config = self.form.config()
        try:
            res = await self.shell.ask(P.RunStart(config_toml=to_toml(config), name=config["name"]))
        except EngineError as exc:
            self.notify(str(exc), title="not started", severity="error", timeout=10)
            return
        self.notify(f"started {res.run.name} ({res.run.run_id})")
        self.shell.navigate("training", run_id=res.run.run_id)
