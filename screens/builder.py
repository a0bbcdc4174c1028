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

import msgspec
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, Tree
from textual.widgets.tree import TreeNode

from engine import protocol as P
from workbench.engine.client import EngineError
from workbench.run_form import (
    NO_SPLIT,
    FormError,
    config_dict,
    format_value,
    parse_value,
    read_toml,
    to_toml,
    values_from_config,
)
from workbench.widgets.base import WorkbenchScreen
from workbench.widgets.path_dialog import PathDialog

DEFAULT_ARCH = "embedding-bag"
DEFAULT_DATASET = "rotten-tomatoes"
DEFAULT_TOKENIZER = "minilm-wordpiece"
PRETRAINED_TOKENIZER = "minilm-wordpiece"  # the bundled MiniLM's own


# Labels for the TOML names too long for the form's label column (the help line names the key).
LABELS = {
    "early_stopping_patience": "early stop",
    "checkpoint_every": "ckpt every",
    "keep_checkpoints": "ckpts kept",
    "freeze_embeddings": "freeze embeds",
    "trainable_layers": "train layers",
    "attention_size": "attention",
}
# Help for the form's own fields (the engine's schema helps with the settings).
FIELD_HELP = {
    "name": "the run's name in the monitor; empty: architecture-dataset",
    "data.dataset": "the dataset to train on (screen 1 imports more)",
    "data.tokenizer": "turns texts into ids (screen 2 trains more)",
    "data.train_split": "the split the model learns from",
    "data.validation_split": "evaluated each epoch: picks the best checkpoint",
    "data.max_length": "tokens kept of each text",
    "model.arch": "the architecture: enter opens the list",
    "model.vectors": "static vectors that initialise the embedding layer",
    "model.freeze_vectors": "keep those vectors fixed while training",
}


def widget_id(key: str) -> str:
    return "f-" + key.replace(".", "--")


def key_of(widget: Widget) -> str | None:
    wid = widget.id or ""
    return wid[2:].replace("--", ".") if wid.startswith("f-") else None


def human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,.0f}"


def human_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


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
        self.schema: P.RunSchemaResult | None = None
        self.datasets: list[P.DatasetInfo] = []
        self.tokenizers: list[P.TokenizerInfo] = []
        self.vector_sources: list[str] = []
        self.values: dict[str, Any] = {}
        self.local_errors: dict[str, str] = {}
        self.plan: P.RunPlanResult | None = None
        self.plans = 0  # answers shown (tests wait on this)
        self._dirty = False
        self._planning = False
        self._caught_up = asyncio.Event()  # set when the last answer is of the form on screen
        self._filling = False  # widgets being set from values: their events are not edits
        self._layers_shown: list[P.LayerRow] = []

    # ------------------------------------------------------------- layout

    @classmethod
    def help_sections(cls) -> list[tuple[str, Iterable[object]]]:
        return [("file path dialogs", PathDialog.BINDINGS)]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bd-body"):
            with Vertical(id="bd-left"):
                yield VerticalScroll(
                    Static("waiting for the engine…", classes="bd-note"), id="bd-form"
                )
                yield Static("", id="bd-help")
            with Vertical(id="bd-right"):
                yield Static("", id="bd-summary")
                tree: Tree[str] = Tree("model", id="bd-layers")
                tree.show_root = True
                yield tree

    def on_mount(self) -> None:
        self.query_one("#bd-layers", Tree).display = False
        self.shell.subscribe_ready(self, lambda _: self.load_choices())
        self.shell.subscribe_catalog(self, self._catalog_refreshed)
        self.set_interval(0.1, self._maybe_plan)
        if self.shell.connected:
            self.load_choices()

    @property
    def arch(self) -> P.ArchitectureInfo | None:
        if self.schema is None:
            return None
        name = self.values.get("model.arch")
        return next((a for a in self.schema.architectures if a.name == name), None)

    # ------------------------------------------------------------- engine

    @work(exclusive=True, group="bd-choices", exit_on_error=False)
    async def load_choices(self) -> None:
        catalog = self.shell.catalog
        try:
            schema, _ = await asyncio.gather(
                self.shell.ask(P.RunSchema()),
                catalog.refresh(("datasets", "tokenizers", "vectors")),
            )
        except EngineError as exc:
            self.query_one("#bd-summary", Static).update(Text(str(exc), style="red"))
            return
        first = self.schema is None
        self.schema = schema
        self._take_choices()
        if first or not self.values:
            self.values = self.default_values()
        await self.build_form()

    def _take_choices(self) -> bool:
        """The catalog's current lists as this form's choices; whether any changed."""
        catalog = self.shell.catalog
        before = (self.datasets, self.tokenizers, self.vector_sources)
        self.datasets = [d for d in catalog.datasets if d.available]
        self.tokenizers = [t for t in catalog.tokenizers if t.available]
        self.vector_sources = catalog.static_vectors()
        return before != (self.datasets, self.tokenizers, self.vector_sources)

    async def _catalog_refreshed(self, kind: str) -> None:
        """A dataset, tokenizer or vector source came or went: the choices follow."""
        if self.schema is None or kind not in ("datasets", "tokenizers", "vectors"):
            return
        if self._take_choices():
            await self.build_form()

    def default_values(self, arch_name: str = DEFAULT_ARCH) -> dict[str, Any]:
        assert self.schema is not None
        names = [d.name for d in self.datasets]
        dataset = DEFAULT_DATASET if DEFAULT_DATASET in names else (names or [""])[0]
        toks = [t.name for t in self.tokenizers]
        values: dict[str, Any] = {
            "name": "",
            "data.dataset": dataset,
            "data.tokenizer": DEFAULT_TOKENIZER if DEFAULT_TOKENIZER in toks else (toks or [""])[0],
            "data.max_length": 128,
            "model.arch": arch_name,
            "model.vectors": None,
            "model.freeze_vectors": False,
        }
        values.update(self._split_defaults(dataset))
        values.update(self._model_defaults(arch_name))
        values.update({f"train.{s.name}": s.default for s in self.schema.train})
        return values

    def _split_defaults(self, dataset: str) -> dict[str, Any]:
        splits = self._splits(dataset)
        train = "train" if "train" in splits else (splits or ["train"])[0]
        val = next((s for s in ("validation", "test") if s in splits and s != train), None)
        return {"data.train_split": train, "data.validation_split": val}

    def _model_defaults(
        self, arch_name: str, keep: dict[str, Any] | None = None, was: str | None = None
    ) -> dict[str, Any]:
        """An architecture's settings at their defaults, keeping the values of the same name
        that were changed from the defaults of the architecture was, so moving from an LSTM to
        a GRU keeps the sizes typed but not the LSTM's own defaults."""
        assert self.schema is not None
        arch = next(a for a in self.schema.architectures if a.name == arch_name)
        before = next((a for a in self.schema.architectures if a.name == was), None)
        old_defaults = {s.name: s.default for s in before.settings} if before else {}
        out: dict[str, Any] = {}
        for s in arch.settings:
            old = (keep or {}).get(f"model.{s.name}")
            changed = old is not None and old != old_defaults.get(s.name, s.default)
            fits = s.kind != "choice" or old in s.choices
            out[f"model.{s.name}"] = old if changed and fits else s.default
        return out

    def _splits(self, dataset: str) -> list[str]:
        info = next((d for d in self.datasets if d.name == dataset), None)
        return [s for s, n in (info.splits if info else {}).items() if n > 0]

    # ------------------------------------------------------------- the form

    async def build_form(self) -> None:
        """(Re)build every field from the schema and the current values."""
        assert self.schema is not None
        form = self.query_one("#bd-form", VerticalScroll)
        focused = self.focused
        refocus = key_of(focused) if focused is not None else None
        self._filling = True
        await form.remove_children()
        await form.mount_all(self._form_widgets())
        self._filling = False
        self.local_errors.clear()
        self._mark_dirty()
        if refocus:
            self._focus_key(refocus)
        elif self.focused is not None and not isinstance(self.focused, Tree):
            self.set_focus(None)  # keys go to the screen until e (or tab) enters the form
        self._show_help()

    def _form_widgets(self) -> list[Widget]:
        assert self.schema is not None
        arch = self.arch
        assert arch is not None
        v = self.values
        out: list[Widget] = [Label("Data", classes="bd-section")]
        out += self._row(
            "name",
            "run name",
            Input(v.get("name") or "", compact=True, placeholder="(arch-dataset)"),
        )
        out += self._row(
            "data.dataset",
            "dataset",
            self._select([d.name for d in self.datasets], v["data.dataset"]),
        )
        out += self._row(
            "data.tokenizer",
            "tokenizer",
            self._select([t.name for t in self.tokenizers], v["data.tokenizer"]),
        )
        if arch.pretrained_tokenizer:  # the field stays: a custom folder needs its own one
            out.append(
                Static(
                    f"needs the model's own tokenizer ({PRETRAINED_TOKENIZER} for MiniLM)",
                    classes="bd-note",
                )
            )
        splits = self._splits(v["data.dataset"])
        out += self._row(
            "data.train_split", "train split", self._select(splits, v["data.train_split"])
        )
        out += self._row(
            "data.validation_split",
            "validation",
            self._select([*splits, NO_SPLIT], v["data.validation_split"] or NO_SPLIT),
        )
        out += self._row(
            "data.max_length", "max length", Input(format_value(v["data.max_length"]), compact=True)
        )
        out.append(Label("Model", classes="bd-section"))
        out += self._row(
            "model.arch",
            "architecture",
            self._select([a.name for a in self.schema.architectures], arch.name),
        )
        out.append(Static(Text(arch.description, style="italic"), classes="bd-note"))
        for s in arch.settings:
            out += self._row(f"model.{s.name}", s.name, self._setting_widget(s, "model"))
        if arch.takes_vectors:
            out += self._row(
                "model.vectors",
                "init vectors",
                self._select([NO_SPLIT, *self.vector_sources], v.get("model.vectors") or NO_SPLIT),
            )
            out += self._row(
                "model.freeze_vectors",
                "freeze them",
                Checkbox("", bool(v.get("model.freeze_vectors")), compact=True),
            )
        out.append(Label("Training", classes="bd-section"))
        if arch.trained_by == "fit":
            out.append(
                Static("fitted by scikit-learn in one go: no training settings", classes="bd-note")
            )
        else:
            for s in self.schema.train:
                if s.name == "precision":  # only what this device can train in
                    s = msgspec.structs.replace(s, choices=self.schema.precisions)
                out += self._row(f"train.{s.name}", s.name, self._setting_widget(s, "train"))
        return out

    def _row(self, key: str, label: str, widget: Widget) -> list[Widget]:
        widget.id = widget_id(key)
        return [
            Horizontal(Label(LABELS.get(label, label)), widget, classes="bd-row"),
            Static("", id="p-" + widget_id(key), classes="bd-problem"),
        ]

    def _select(self, options: list[str], value: Any) -> Select[str]:
        choices = list(options)
        if value is not None and str(value) not in choices:
            choices.append(str(value))  # a loaded file's unknown name: the engine explains
        return Select(
            [(c, c) for c in choices],
            value=str(value) if value is not None else Select.NULL,
            allow_blank=value is None or not choices,
            compact=True,
        )

    def _setting_widget(self, s: P.SettingSpec, section: str) -> Widget:
        value = self.values.get(f"{section}.{s.name}", s.default)
        if s.kind == "bool":
            return Checkbox("", bool(value), compact=True)
        if s.kind == "choice":
            return self._select(s.choices, value if value is not None else s.default)
        return Input(format_value(value), compact=True, placeholder="(none)" if s.optional else "")

    def _spec(self, key: str) -> P.SettingSpec | None:
        assert self.schema is not None
        section, _, name = key.partition(".")
        arch = self.arch
        settings = (arch.settings if arch else []) if section == "model" else self.schema.train
        if section not in ("model", "train"):
            return None
        return next((s for s in settings if s.name == name), None)

    # ------------------------------------------------------------- edits

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        key = key_of(event.input)
        if key is None or self._filling:
            return
        spec = self._spec(key)
        kind = spec.kind if spec else ("int" if key == "data.max_length" else "str")
        try:
            value = parse_value(
                kind, event.value, optional=spec.optional if spec else key == "name"
            )
        except FormError as exc:
            self.local_errors[key] = str(exc)
        else:
            self.local_errors.pop(key, None)
            self.values[key] = value
        self._edited()

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        key = key_of(event.checkbox)
        if key is not None and not self._filling:
            self.values[key] = event.value
            self._edited()

    @on(Select.Changed)
    async def _select_changed(self, event: Select.Changed) -> None:
        key = key_of(event.select)
        if key is None or self._filling or event.value is Select.NULL:
            return
        value: Any = None if event.value == NO_SPLIT else str(event.value)
        was = self.values.get(key)
        if was == value:
            return
        self.values[key] = value
        if key == "model.arch":
            self.values.update(self._model_defaults(str(value), keep=self.values, was=was))
            arch = self.arch
            if arch is not None and arch.pretrained_tokenizer:  # ids must be the model's own
                self.values["data.tokenizer"] = PRETRAINED_TOKENIZER
            await self.build_form()
        elif key == "data.dataset":
            splits = self._splits(str(value))
            if self.values.get("data.train_split") not in splits:
                self.values.update(self._split_defaults(str(value)))
            await self.build_form()
        self._edited()

    def _edited(self) -> None:
        self._mark_dirty()
        self._show_problems()

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._caught_up.clear()

    def _maybe_plan(self) -> None:
        if self._dirty and not self._planning and self.schema is not None and self.shell.connected:
            self._planning = True
            self.ask_plan()

    @work(exclusive=True, group="bd-plan", exit_on_error=False)
    async def ask_plan(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                if self.local_errors:
                    self.plan = None
                    self._show_summary()
                    break
                toml = self.toml()
                try:
                    plan = await self.shell.ask(P.RunPlan(config_toml=toml))
                except EngineError as exc:
                    plan = P.RunPlanResult(problems=[P.FieldProblem("", exc.message, exc.hint)])
                if not self._dirty:  # else a newer form is on its way: show that one
                    self.plan = plan
                    self.plans += 1
                    self._show_problems()
                    self._show_summary()
        finally:
            self._planning = False
            if not self._dirty:
                self._caught_up.set()

    def config(self) -> dict[str, Any]:
        assert self.schema is not None and self.arch is not None
        return config_dict(self.values, self.arch, self.schema.train)

    def toml(self) -> str:
        return to_toml(self.config())

    # ------------------------------------------------------------- showing

    def _problems_by_field(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for p in self.plan.problems if self.plan else []:
            text = p.message + (f" ({p.hint})" if p.hint else "")
            found[p.field] = f"{found[p.field]}; {text}" if p.field in found else text
        found.update(self.local_errors)
        return found

    def _show_problems(self) -> None:
        problems = self._problems_by_field()
        for static in self.query(".bd-problem").results(Static):
            key = (static.id or "")[2:]
            text = problems.get(key[2:].replace("--", "."), "")
            static.update(Text(text, style="red"))
            static.display = bool(text)

    def _show_summary(self) -> None:
        summary = self.query_one("#bd-summary", Static)
        tree = self.query_one("#bd-layers", Tree)
        problems = self._problems_by_field()
        plan = self.plan
        if problems:
            t = Text()
            t.append(f"{len(problems)} field(s) to fix before training:\n", style="bold red")
            for field, message in problems.items():
                t.append(f"{field or 'file'}: ", style="bold")
                t.append(message + "\n", style="red")
            summary.update(t)
            tree.display = bool(plan and plan.layers)
            if plan and plan.layers:
                self._show_layers(plan.layers)
            return
        if plan is None:
            summary.update("")
            return
        summary.update(self._summary(plan))
        self._show_layers(plan.layers)
        tree.display = bool(plan.layers)

    def _summary(self, plan: P.RunPlanResult) -> Group:
        arch = self.arch
        head = Text()
        head.append(f"{arch.name if arch else '?'}", style="bold")
        what = f"{plan.num_classes} classes" if plan.task == "classify" else "language model"
        head.append(f" · {what} · vocab {plan.vocab_size:,} · on {plan.device}\n")
        head.append("parameters ")
        head.append(f"{plan.trainable:,}", style="bold green")
        head.append(" trainable")
        if plan.frozen:
            head.append(" · ")
            head.append(f"{plan.frozen:,}", style="bold cyan")
            head.append(" frozen")
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim")
        table.add_column(justify="right")
        total = sum(plan.memory.values())
        precision = self.values.get("train.precision", "fp32")
        table.add_row(Text("memory a step", style="bold"), Text(human_bytes(total), style="bold"))
        for part, size in plan.memory.items():
            table.add_row(f"  {part}", human_bytes(size))
        table.add_row(f"  batch {plan.batch_size} x {plan.seq_len}, {precision}", "")
        lines = Text()
        if plan.train_rows:
            lines.append(f"{plan.train_rows:,} training rows", style="dim")
            if arch and arch.trained_by != "fit" and plan.steps_per_epoch:
                epochs = self.values.get("train.epochs") or 0
                max_steps = self.values.get("train.max_steps")
                steps = plan.steps_per_epoch * int(epochs)
                if max_steps:
                    steps = min(steps, int(max_steps))
                lines.append(
                    f" · ≤{plan.steps_per_epoch:,} steps an epoch · ≤{steps:,} steps", style="dim"
                )
        return Group(head, table, lines)

    def _show_layers(self, layers: list[P.LayerRow]) -> None:
        if layers == self._layers_shown:
            return
        self._layers_shown = list(layers)
        tree = self.query_one("#bd-layers", Tree)
        tree.clear()
        stack: list[TreeNode[str]] = [tree.root]
        for i, row in enumerate(layers):
            label = self._layer_label(row)
            if row.depth == 0:
                tree.root.set_label(label)
                continue
            del stack[row.depth :]
            parent = stack[-1]
            if i + 1 < len(layers) and layers[i + 1].depth > row.depth:
                stack.append(parent.add(label, data=row.name, expand=False))
            else:
                stack.append(parent.add_leaf(label, data=row.name))
        tree.root.expand()

    @staticmethod
    def _layer_label(row: P.LayerRow) -> Text:
        t = Text()
        t.append(row.name.rsplit(".", 1)[-1] or "model", style="bold")
        t.append(f" {row.kind} ", style="dim")
        if row.trainable:
            t.append(human(row.trainable), style="green")
        if row.frozen:
            t.append(f" {human(row.frozen)} frozen", style="cyan")
        return t

    def on_descendant_focus(self, event: Any) -> None:
        self._show_help()

    def _show_help(self) -> None:
        widget = self.focused
        help_line = self.query_one("#bd-help", Static)
        key = key_of(widget) if widget is not None else None
        spec = self._spec(key) if key else None
        if key is None:
            help_line.update(
                Text("e edits the form, tab moves, l browses the layers, ctrl+t trains", "dim")
            )
            return
        text = Text(key, style="bold")
        if key in FIELD_HELP:
            text.append(f"  {FIELD_HELP[key]}")
        if spec is not None:
            text.append(f"  {spec.help}" if spec.help else "")
            if spec.default is not None:
                text.append(f"  (default {format_value(spec.default)})", style="dim")
        help_line.update(text)
        if widget is not None:
            self.query_one("#bd-form", VerticalScroll).scroll_to_widget(widget, animate=False)

    def _focus_key(self, key: str) -> bool:
        found = self.query("#" + widget_id(key))
        if found:
            found.first().focus()
            return True
        return False

    # ------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "focus_layers"):
            focused = self.focused
            return focused is None or key_of(focused) is None  # letters type in a field
        return True

    def action_edit(self) -> None:
        if self.schema is None:
            return
        problems = self._problems_by_field()
        for key in problems:
            if self._focus_key(key):
                return
        self._focus_key("model.arch")

    def action_leave_form(self) -> None:
        tree = self.query_one("#bd-layers", Tree)
        if tree.display:
            tree.focus()
        else:
            self.set_focus(None)
            self._show_help()

    def action_focus_layers(self) -> None:
        tree = self.query_one("#bd-layers", Tree)
        if tree.display:
            tree.focus()

    async def action_defaults(self) -> None:
        if self.schema is None:
            return
        arch = self.values.get("model.arch", DEFAULT_ARCH)
        self.values = self.default_values(arch)
        await self.build_form()
        self.notify(f"{arch}: every setting back to its default")

    def action_save(self) -> None:
        if self.schema is None:
            return
        if self.local_errors:
            self.notify("fix the fields in red first", severity="warning")
            return
        text = self.toml()
        default = f"{self.config()['name']}.toml"

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
        if self.schema is None:
            return
        loaded: dict[str, Any] = {}

        def load(path: str) -> str | None:
            target = Path(path).expanduser()
            try:
                data = read_toml(target.read_text(encoding="utf-8"))
                values, ignored = values_from_config(data, self.schema)  # type: ignore[arg-type]
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
        arch = values["model.arch"]
        base = self.default_values(arch)
        base.update(values)
        if "data.dataset" in values and "data.train_split" not in values:
            base.update(self._split_defaults(base["data.dataset"]))
        self.values = base
        await self.build_form()

    @work(exclusive=True, group="bd-start", exit_on_error=False)
    async def action_start(self) -> None:
        if self.schema is None:
            return
        try:  # judge the form on screen now, not an older one
            await asyncio.wait_for(self._caught_up.wait(), 60)
        except TimeoutError:
            self.notify("the engine has not checked the form yet; try again", severity="warning")
            return
        problems = self._problems_by_field()
        if problems:
            self.notify(
                f"{len(problems)} field(s) to fix first: "
                + ", ".join(p or "file" for p in problems),
                severity="error",
            )
            self.action_edit()
            return
        config = self.config()
        try:
            res = await self.shell.ask(P.RunStart(config_toml=to_toml(config), name=config["name"]))
        except EngineError as exc:
            self.notify(str(exc), title="not started", severity="error", timeout=10)
            return
        self.notify(f"started {res.run.name} ({res.run.run_id})")
        self.shell.navigate("training", run_id=res.run.run_id)
