"""The model builder: compose a training run from the keyboard, see what it would build, start it.

Every field is checked as it is typed: what cannot be read (a letter in a number) is said at
once, here; what cannot work (num_heads not dividing d_model, a split with no rows, fp16 on a
CPU) comes back from the engine, which checks the configuration field by field and describes
the model it would build: the layer tree, trainable and frozen parameters, and the memory one
training step needs at the chosen batch size; values far from the usual ones are warned of
beside their field and in the summary, and do not stop a run. Typing never waits on the engine:
one worker asks for the latest form until it has caught up.

Command mode is on the field list (the main list; the layer tree is the other pane): j/k/g/G
move the cursor, enter or e edits the field under it, / jumps to a field by name. The form, the
cursor on it included, comes back after a restart (view state "builder.form", "builder.cursor").
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
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Tree
from textual.widgets._select import SelectOverlay

from engine import protocol as P
from screens.builder.form import FieldInput, FieldList, FormPane, help_text, key_of
from screens.builder.layers import LayerTree
from screens.builder.model import (
    DEFAULT_ARCH,
    REBUILDS,
    FormError,
    RunForm,
    format_value,
    match_fields,
    to_toml,
)
from screens.builder.summary import PlanSummary
from workbench.engine.client import EngineError
from workbench.files import FileProblem, read_text_file
from workbench.widgets.base import WorkbenchScreen, is_text_entry
from workbench.widgets.confirm import ConfirmDialog
from workbench.widgets.path_dialog import PathDialog, path_machine

CHOICES = ("datasets", "tokenizers", "vectors")  # the catalog lists the form chooses from
SAVED_FORM, SAVED_CURSOR = "builder.form", "builder.cursor"  # view state keys
LETTER_ACTIONS = ("edit", "find", "next_issue", "focus_layers")  # keys that type in a text box


class BuilderScreen(WorkbenchScreen):
    CSS_PATH = "builder.tcss"
    MAIN = "#bd-form"
    BINDINGS: ClassVar = [
        Binding("e,enter", "edit", "Edit", id="builder.edit"),
        Binding("slash", "find", "Find field", id="builder.find"),
        Binding("ctrl+t", "start", "Train", id="builder.start"),
        Binding("ctrl+s", "save", "Save", id="builder.save"),
        Binding("ctrl+o", "load", "Load", id="builder.load"),
        Binding("n", "next_issue", "Next ✗/⚠", id="builder.next_issue"),
        Binding("l", "focus_layers", "Layers", id="builder.layers"),
        Binding("ctrl+n", "defaults", "Defaults", id="builder.defaults"),
        Binding("escape", "leave_form", "Fields", id="builder.leave"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.form = RunForm()
        self.plans = 0  # answers shown (tests wait on this)
        self._dirty = False
        self._planning = False
        self._caught_up = asyncio.Event()  # set when the last answer is of the form on screen
        self._find_from: str | None = None  # the cursor's field when / was pressed
        self._has_issues = False

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        return [
            ("builder field list", FieldList.BINDINGS),
            ("builder text field", FieldInput.BINDINGS),
            ("file path dialogs", PathDialog.BINDINGS),
        ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bd-body"):
            yield FormPane(id="bd-left")
            with Vertical(id="bd-right"):
                with VerticalScroll(id="bd-summary-box"):
                    yield PlanSummary("", id="bd-summary")
                yield LayerTree(id="bd-layers")

    def on_mount(self) -> None:
        self.query_one(LayerTree).display = False
        self.shell.subscribe_ready(self, lambda _: self.load_choices())
        self.shell.subscribe_catalog(self, self._catalog_refreshed)
        self.set_interval(0.1, self._maybe_plan)
        if self.shell.connected:
            self.load_choices()

    @property
    def pane(self) -> FormPane:
        return self.query_one(FormPane)

    @property
    def fields(self) -> FieldList:
        return self.query_one(FieldList)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        focused = self.focused
        if isinstance(focused, SelectOverlay) and action not in ("start", "save", "load"):
            return False  # a list is open: its own keys
        if is_text_entry(focused) and action in LETTER_ACTIONS:
            return False  # the letters are text there
        if action in ("edit", "find"):
            return self.form.schema is not None
        if action == "focus_layers":
            return self.query_one(LayerTree).display and not isinstance(focused, Tree)
        if action == "leave_form":
            return isinstance(focused, Tree)
        if action == "next_issue":
            return self._has_issues
        return True

    @on(FormPane.FieldChanged)
    async def _field_changed(self, event: FormPane.FieldChanged) -> None:
        if event.typed:
            self.form.typed(event.key, event.value)
        elif not self.form.choose(event.key, event.value):
            return
        elif event.key in REBUILDS:
            await self.build_form()
        else:
            self.pane.refresh_choices(self.form)  # a dataset brings its splits
        self.pane.show_applicable(self.form)  # the optimizer brings momentum, say
        self._mark_dirty()
        self._show_problems()
        self._remember()

    @on(FieldList.CursorMoved)
    def _cursor_moved(self, event: FieldList.CursorMoved) -> None:
        if self._find_from is None:
            self._show_help()
        if event.key and self.form.schema is not None:
            self.shell.view_state.set(SAVED_CURSOR, event.key)

    def _remember(self) -> None:
        """The form as it is now, kept for the next start of the app."""
        if self.form.schema is not None and self.form.values:
            self.shell.view_state.set(SAVED_FORM, self.form.snapshot())

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
            saved = self.shell.view_state.get(SAVED_FORM, {})
            if not (first and self.form.restore(saved)):
                self.form.reset()
        await self.build_form()
        if first:
            self.fields.move_to(self.shell.view_state.get(SAVED_CURSOR, ""))
            self.refresh_bindings()  # edit and find work now

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
            self.pane.refresh_choices(self.form)  # never a rebuild: keys being typed stay
            self._mark_dirty()
            self._remember()

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
        """(Re)build every field from the schema and the current values; a field being typed
        in stays in text mode, else the field list has the focus (the layer tree keeps it)."""
        pane = self.pane
        focused = self.focused
        typing = key_of(focused) if isinstance(focused, FieldInput) else None
        await pane.build(self.form)
        self._mark_dirty()
        if not (typing and pane.edit(typing) == "text") and not isinstance(self.focused, Tree):
            if not (isinstance(self.focused, Input) and self.focused.id == "bd-find"):
                self.set_focus(self.fields)
        self._show_problems()
        self._show_help()

    def _show_problems(self) -> None:
        problems, warnings = self.form.problems(), self.form.warnings()
        self.pane.show_problems(problems, warnings)
        has = bool(problems or warnings)
        if has != self._has_issues:
            self._has_issues = has
            self.refresh_bindings()

    def _show_summary(self) -> None:
        tree = self.query_one(LayerTree)
        had_tree = tree.display
        self._show_plan()
        if tree.display != had_tree:
            self.refresh_bindings()  # l goes to the layers only when there are some

    def _show_plan(self) -> None:
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
        steps = self.form.steps(plan)
        summary.show_plan(plan, self.form.arch, self.form.values, steps, self.form.warnings())
        tree.show(plan.layers)
        tree.display = bool(plan.layers)

    def _show_help(self) -> None:
        key = self.fields.cursor
        spec = self.form.spec(key) if key and self.form.schema else None
        self.pane.show_help(help_text(key, spec))

    # ------------------------------------------------------------- actions

    def action_edit(self) -> None:
        """Edit the field under the cursor (from the layer tree too)."""
        if self.form.schema is None:
            return
        fields = self.fields
        if self.focused is not fields:
            fields.focus()
        if fields.cursor is not None:
            self.pane.edit(fields.cursor)

    def action_next_issue(self) -> None:
        """The cursor to the next field with a problem (✗) or a warning (⚠)."""
        fields = self.fields
        issues = {**self.form.warnings(), **self.form.problems()}
        keys = fields.keys()
        marked = [k for k in keys if k in issues]
        if not marked:
            if "" in issues:
                self.notify(issues[""], title="the file as a whole", severity="error")
            return
        after = keys.index(fields.cursor) if fields.cursor in keys else -1
        key = next((k for k in marked if keys.index(k) > after), marked[0])
        fields.focus()
        fields.move_to(key)

    def action_leave_form(self) -> None:
        self.fields.focus()

    def action_focus_layers(self) -> None:
        tree = self.query_one(LayerTree)
        if tree.display:
            tree.focus()

    # ------------------------------------------------------------- finding a field

    def action_find(self) -> None:
        """/: type part of a field's name; the cursor follows the best match, enter keeps it,
        esc goes back to where it was."""
        if self.form.schema is None:
            return
        box = self.query_one("#bd-find", Input)
        self._find_from = self.fields.cursor
        box.value = ""
        box.display = True
        box.focus()
        self.pane.show_help(Text("type part of a field's name", "dim"))

    @on(Input.Changed, "#bd-find")
    def _find_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._find_from is None:
            return
        query = event.value
        found = match_fields(query, self.pane.labels(self.form))
        shown = [k for k in found if self.form.applies(k)]
        text = Text()
        if found and found[0] not in shown:  # the best match does not apply now: say why
            text.append(f"{found[0]} is hidden: {self.form.why_hidden(found[0])}\n", "yellow")
        if shown:
            self.fields.move_to(shown[0])
            text.append(f"enter: {shown[0]}", style="bold")
            if len(shown) > 1:
                text.append(f"  also {', '.join(k.partition('.')[2] or k for k in shown[1:4])}")
                text.append(" …" if len(shown) > 4 else "")
        elif query.strip() and not found:
            text.append(f"no field matches '{query.strip()}'", style="yellow")
        self.pane.show_help(text)

    @on(Input.Submitted, "#bd-find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._end_find(keep=True)

    def on_text_left(self) -> None:
        if self._find_from is not None:  # esc in the find box: back where the cursor was
            self._end_find(keep=False)

    def _end_find(self, keep: bool) -> None:
        start, self._find_from = self._find_from, None
        self.query_one("#bd-find", Input).display = False
        fields = self.fields
        if not keep:
            fields.move_to(start)
        if self.focused is not fields:
            fields.focus()
        self._show_help()

    # ------------------------------------------------------------- whole-form actions

    def action_defaults(self) -> None:
        if self.form.schema is None:
            return
        arch = self.form.values.get("model.arch", DEFAULT_ARCH)
        defaults = self.form.default_values(arch)
        changed = [k for k, v in self.form.values.items() if k in defaults and defaults[k] != v] + [
            k for k in self.form.bad_text if k not in self.form.values
        ]

        async def reset(yes: bool | None) -> None:
            if not yes:
                return
            self.form.reset(arch)
            await self.build_form()
            self._remember()
            self.notify(f"{arch}: every setting back to its default")

        if not changed and not self.form.bad_text:
            self.notify(f"{arch}: every setting is at its default already")
            return
        names = ", ".join(f"{k} = {format_value(self.form.values.get(k))}" for k in changed[:6]) + (
            f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        )
        self.app.push_screen(
            ConfirmDialog(
                f"Every setting back to its {arch} default?",
                f"These {len(changed)} value(s) are lost: {names}",
                yes="reset",
            ),
            reset,
        )

    def action_save(self) -> None:
        if self.form.schema is None:
            return
        if self.form.local_errors:
            self.notify("fix the fields in red first", severity="warning")
            return
        text = self.form.toml()
        default = f"{self.form.config()['name']}.toml"
        armed: list[Path] = []  # a file that exists: enter a second time replaces it

        def save(path: str) -> str | None:
            target = Path(path).expanduser()
            if target.is_file() and target not in armed and target.read_bytes() != text.encode():
                armed.append(target)
                return f"{target} exists and differs: enter again replaces it (esc keeps it)"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            except OSError as exc:
                return f"cannot write {target}: {exc.strerror or exc}"
            return None

        def done(path: str | None) -> None:
            if path:
                self.notify(f"saved {path}; run it with: workbench train {path} --follow")

        where = path_machine(self.shell.link_state, "app")  # the app writes it, here
        self.app.push_screen(PathDialog("Save the run as TOML", default, save, where=where), done)

    def action_load(self) -> None:
        if self.form.schema is None:
            return
        loaded: dict[str, Any] = {}

        def load(path: str) -> str | None:
            target = Path(path).expanduser()
            try:
                text = read_text_file(target, 1 << 20, "run configuration (TOML)")
                values, ignored = self.form.read(text)
            except FileProblem as exc:
                return str(exc)
            except FormError as exc:
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

        title = "Load a run TOML (it replaces the form)"
        where = path_machine(self.shell.link_state, "app")  # the app reads it, here
        self.app.push_screen(PathDialog(title, "examples/", load, where=where), done)

    async def apply(self, values: dict[str, Any]) -> None:
        """Show a loaded configuration: the architecture's defaults under what the file sets."""
        self.form.apply(values)
        await self.build_form()
        self._remember()

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
            keys = self.fields.keys()
            first = next((k for k in keys if k in problems), None)
            if first is not None:
                self.fields.focus()
                self.fields.move_to(first)
            return
        config = self.form.config()
        try:
            res = await self.shell.ask(P.RunStart(config_toml=to_toml(config), name=config["name"]))
        except EngineError as exc:
            self.notify(str(exc), title="not started", severity="error", timeout=10)
            return
        warnings = self.form.warnings()
        note = f" with {len(warnings)} warning(s): {', '.join(warnings)}" if warnings else ""
        self.notify(
            f"started {res.run.name} ({res.run.run_id}){note}",
            severity="warning" if warnings else "information",
        )
        self.shell.navigate("training", run_id=res.run.run_id)
