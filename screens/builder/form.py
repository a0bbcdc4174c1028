"""The builder's form: a field per setting of the data, the model and its training, each with
a line for what is wrong with it (or far from usual), and a help line for the field under the
cursor.

The field list (#bd-form) is the screen's main list: in command mode it has the focus and a
cursor (j/k/g/G, arrows), and a field is edited only on purpose (enter or e: a text box takes
the typing, a list opens, a checkbox flips); esc or enter leaves the text box for the list. The
fields' own widgets take the focus only while they are being edited, so tab never lands in a
text box by surprise. A setting that does not apply (momentum for AdamW) is hidden.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine import protocol as P
from screens.builder.model import (
    NO_SPLIT,
    TRUNCATIONS,
    RunForm,
    format_value,
    own_tokenizer,
)

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
    "data.test_split": "the best checkpoint is scored on it once, at the end",
    "data.max_length": "tokens kept of each text",
    "data.truncation": "a longer text: its head, tail, head+tail, or windows pooled",
    "data.head_tokens": "head+tail: tokens from the start (0: a quarter)",
    "data.stride": "windows: tokens from one window's start to the next (0: half)",
    "data.pool": "windows: the logits of a text's windows, averaged or their max",
    "model.arch": "the architecture: enter opens the list",
    "model.vectors": "static vectors that initialise the embedding layer",
    "model.freeze_vectors": "keep those vectors fixed while training",
}
CURSOR = "▸"
NO_FIELD_HELP = "e or enter edits the field, / finds one by name, l the layers, ctrl+t trains"


def help_text(
    key: str | None,
    spec: P.SettingSpec | None,
    hidden: str = "",
    warning: str = "",
) -> Text:
    """The help line for the field under the cursor: its key, what it takes, its default;
    why it is hidden; the usual range it is far from."""
    if key is None:
        return Text(NO_FIELD_HELP, "dim")
    text = Text(key, style="bold")
    if key in FIELD_HELP:
        text.append(f"  {FIELD_HELP[key]}")
    if spec is not None:
        text.append(f"  {spec.help}" if spec.help else "")
        if spec.default is not None:
            shown = format_value(spec.default) if spec.default != "" else "empty"
            text.append(f"  (default {shown})", style="dim")
    if hidden:
        text.append(f"  hidden: {hidden}", style="dim")
    if warning:
        text.append("  ⚠ far from usual", style="yellow")
    return text


def widget_id(key: str) -> str:
    return "f-" + key.replace(".", "--")


def key_of(widget: Widget) -> str | None:
    """The form key a field widget edits; None for any other widget."""
    wid = widget.id or ""
    return wid[2:].replace("--", ".") if wid.startswith("f-") else None


class FieldInput(Input):
    """A field's text box: focusable only while it is being edited (enter or e on it)."""

    BINDINGS: ClassVar = [
        Binding("tab", "next_field(1)", "Next field", show=False, id="builder.field.next"),
        Binding(
            "shift+tab", "next_field(-1)", "Previous field", show=False, id="builder.field.prev"
        ),
    ]
    editing = False

    class Move(Message):
        """tab / shift+tab in a text box: edit the next (or previous) field."""

        def __init__(self, key: str, step: int) -> None:
            super().__init__()
            self.key = key
            self.step = step

    def allow_focus(self) -> bool:
        return self.editing

    def on_blur(self) -> None:
        self.editing = False

    def action_next_field(self, step: int) -> None:
        key = key_of(self)
        if key is not None:
            self.post_message(self.Move(key, step))


class FieldSelect(Select[str]):
    """A field's list of choices: its overlay opens on enter or e; j/k move in it (no
    type-to-search, which would eat them); when it closes the field list has the focus again."""

    editing = False

    class Closed(Message):
        pass

    def allow_focus(self) -> bool:
        return self.editing

    def set_choices(self, options: list[str], value: str | None) -> None:
        """New options with value chosen (kept as an option when the list lacks it), without
        a Changed: the form already holds the value."""
        choices = list(options)
        if value is not None and value not in choices:
            choices.append(value)
        if not choices and not self._allow_blank:
            return
        if choices == [v for _, v in self._options if v is not Select.NULL] and self.value == (
            value if value is not None else Select.NULL
        ):
            return  # nothing to redraw
        with self.prevent(Select.Changed):
            self.set_options([(c, c) for c in choices])
            if value is not None:
                self.value = value
            elif self._allow_blank:
                self.value = Select.NULL

    def _watch_expanded(self, expanded: bool) -> None:
        super()._watch_expanded(expanded)
        if not expanded and self.editing:
            self.editing = False
            self.post_message(self.Closed())


class FieldCheckbox(Checkbox):
    """A field's checkbox: flipped from the field list, never focused."""

    def allow_focus(self) -> bool:
        return False


class FieldRow(Horizontal):
    """One field: its label (with the cursor mark) and its widget."""

    def __init__(self, key: str, label: str, widget: Widget) -> None:
        widget.id = widget_id(key)
        widget.border_title = key  # the status bar's name for it (a compact box draws none)
        super().__init__(Label(self.label_text(label, False)), widget, classes="bd-row")
        self.key = key
        self.label = label
        self.widget = widget

    @staticmethod
    def label_text(label: str, cursor: bool) -> str:
        return f"{CURSOR if cursor else ' '}{LABELS.get(label, label)}"

    def mark(self, cursor: bool) -> None:
        self.set_class(cursor, "-cursor")
        self.query_one(Label).update(self.label_text(self.label, cursor))


def select(options: list[str], value: Any) -> FieldSelect:
    choices = list(options)
    if value is not None and str(value) not in choices:
        choices.append(str(value))  # a loaded file's unknown name: the engine explains
    return FieldSelect(
        [(c, c) for c in choices],
        value=str(value) if value is not None else Select.NULL,
        allow_blank=value is None or not choices,
        compact=True,
        type_to_search=False,
    )


def setting_widget(form: RunForm, key: str, s: P.SettingSpec, value: Any) -> Widget:
    if s.kind == "bool":
        return FieldCheckbox("", bool(value), compact=True)
    if s.kind == "choice":
        return select(s.choices, value if value is not None else s.default)
    return FieldInput(form.text_of(key), compact=True, placeholder="(none)" if s.optional else "")


def row(key: str, label: str, widget: Widget) -> list[Widget]:
    """A labelled field and, under it, the line for its problem or warning (#p-f-...)."""
    return [
        FieldRow(key, label, widget),
        Static("", id="p-" + widget_id(key), classes="bd-problem"),
    ]


def note(text: str | Text) -> Static:
    return Static(text, classes="bd-note")


def data_fields(form: RunForm, arch: P.ArchitectureInfo) -> list[Widget]:
    v = form.values
    out: list[Widget] = [Label("Data", classes="bd-section")]
    name = FieldInput(form.text_of("name"), compact=True, placeholder="(arch-dataset)")
    out += row("name", "run name", name)
    datasets = [d.name for d in form.datasets]
    out += row("data.dataset", "dataset", select(datasets, v["data.dataset"]))
    tokenizers = [t.name for t in form.tokenizers]
    out += row("data.tokenizer", "tokenizer", select(tokenizers, v["data.tokenizer"]))
    if arch.pretrained_tokenizer:  # the field stays: a custom folder needs its own one
        own, model = own_tokenizer(arch.name)
        out.append(note(f"needs the model's own tokenizer ({own} for {model})"))
    splits = form.splits(v["data.dataset"])
    out += row("data.train_split", "train split", select(splits, v["data.train_split"]))
    for key, label in (("data.validation_split", "validation"), ("data.test_split", "test")):
        out += row(key, label, select([*splits, NO_SPLIT], v.get(key) or NO_SPLIT))
    out += row(
        "data.max_length", "max length", FieldInput(form.text_of("data.max_length"), compact=True)
    )
    out += row(
        "data.truncation",
        "truncation",
        select(list(TRUNCATIONS), v.get("data.truncation") or "head"),
    )
    for key, label in (("data.head_tokens", "head tokens"), ("data.stride", "stride")):
        out += row(key, label, FieldInput(form.text_of(key), compact=True))
    out += row("data.pool", "pool", select(list(P.POOLS), v.get("data.pool") or "mean"))
    return out


def model_fields(form: RunForm, arch: P.ArchitectureInfo) -> list[Widget]:
    assert form.schema is not None
    v = form.values
    out: list[Widget] = [Label("Model", classes="bd-section")]
    archs = [a.name for a in form.schema.architectures]
    out += row("model.arch", "architecture", select(archs, arch.name))
    out.append(note(Text(arch.description, style="italic")))
    for s in arch.settings:
        key = f"model.{s.name}"
        out += row(key, s.name, setting_widget(form, key, s, v.get(key, s.default)))
    if arch.takes_vectors:
        vectors = select([NO_SPLIT, *form.vector_sources], v.get("model.vectors") or NO_SPLIT)
        out += row("model.vectors", "init vectors", vectors)
        freeze = FieldCheckbox("", bool(v.get("model.freeze_vectors")), compact=True)
        out += row("model.freeze_vectors", "freeze them", freeze)
    return out


def train_fields(form: RunForm, arch: P.ArchitectureInfo) -> list[Widget]:
    assert form.schema is not None
    out: list[Widget] = [Label("Training", classes="bd-section")]
    if arch.trained_by == "fit":
        out.append(note("fitted by scikit-learn in one go: no training settings"))
        return out
    for s in form.schema.train:
        s = form.offered(s)
        key = f"train.{s.name}"
        out += row(key, s.name, setting_widget(form, key, s, form.values.get(key, s.default)))
    return out


class FieldList(VerticalScroll, can_focus=True):
    """The fields as a list with a cursor (the builder's main list): j/k/g/G (the app's) and
    the arrows move it over the fields on show."""

    BINDINGS: ClassVar = [
        Binding("down", "cursor_down", "Next field", show=False, id="builder.cursor.down"),
        Binding("up", "cursor_up", "Previous field", show=False, id="builder.cursor.up"),
        Binding("home", "first", "First field", show=False, id="builder.cursor.first"),
        Binding("end", "last", "Last field", show=False, id="builder.cursor.last"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="builder.cursor.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="builder.cursor.page_up"),
    ]

    class CursorMoved(Message):
        def __init__(self, key: str | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *children: Widget, id: str | None = None) -> None:
        super().__init__(*children, id=id)
        self.cursor: str | None = None
        self._all: list[FieldRow] | None = None  # every field row, found once per build
        self._marked: FieldRow | None = None  # the row the cursor is drawn on

    def forget_rows(self) -> None:
        """The rows are being rebuilt: find them again when next asked."""
        self._all, self._marked = None, None

    def all_rows(self) -> list[FieldRow]:
        """Every field row, on show or not, in order (asked on every key: not a DOM query)."""
        if self._all is None:
            self._all = list(self.query(FieldRow).results(FieldRow))
        return self._all

    def row(self, key: str) -> FieldRow | None:
        return next((r for r in self.all_rows() if r.key == key), None)

    def rows(self) -> list[FieldRow]:
        """The fields on show, in order."""
        return [r for r in self.all_rows() if r.display]

    def keys(self) -> list[str]:
        return [r.key for r in self.rows()]

    def move_to(self, key: str | None, scroll: bool = True) -> None:
        """Put the cursor on the field of key (None or a field not on show: the first)."""
        rows = self.rows()
        target = next((r for r in rows if r.key == key), rows[0] if rows else None)
        if target is not self._marked:  # redraw the two rows that change, not every row
            if self._marked is not None:
                self._marked.mark(False)
            if target is not None:
                target.mark(True)
            self._marked = target
        new = target.key if target else None
        if target is not None and scroll:
            self.show_row(target)
        if new != self.cursor:
            self.cursor = new
            self.post_message(self.CursorMoved(new))

    def show_row(self, row: FieldRow) -> None:
        """Scroll the row into view, with its problem line under it when it has one."""
        line = self.query("#p-" + widget_id(row.key))
        if line and line.first().display:
            self.scroll_to_widget(line.first(), animate=False, top=False)
        self.scroll_to_widget(row, animate=False, top=False)

    def _step(self, step: int) -> None:
        keys = self.keys()
        if not keys:
            return
        at = keys.index(self.cursor) if self.cursor in keys else 0
        self.move_to(keys[max(0, min(len(keys) - 1, at + step))])

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_first(self) -> None:
        keys = self.keys()
        if keys:
            self.move_to(keys[0])
            self.scroll_home(animate=False)

    def action_last(self) -> None:
        keys = self.keys()
        if keys:
            self.move_to(keys[-1])
            self.scroll_end(animate=False)

    def action_page(self, pages: int) -> None:
        self._step(pages * max(1, self.size.height // 2))


class FormPane(Vertical):
    """The field list (#bd-form; a field's widget id is f-<key>, dots as --), the find box
    (#bd-find, shown while jumping to a field by name) and the help line (#bd-help). Edits
    come out as FieldChanged; events of a form being rebuilt do not."""

    class FieldChanged(Message):
        """A field changed: typed text (to be read) or a choice (a list's value, a checkbox)."""

        def __init__(self, key: str, value: Any, typed: bool) -> None:
            super().__init__()
            self.key = key
            self.value = value
            self.typed = typed

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._filling = False  # widgets being set from values: their events are not edits
        self._marks: dict[str, str] = {}  # field -> the problem or warning line it shows

    def compose(self) -> ComposeResult:
        yield FieldList(note("waiting for the engine…"), id="bd-form")
        yield Input(placeholder="field name; enter jumps, esc leaves", id="bd-find", compact=True)
        yield Static("", id="bd-help")

    def on_mount(self) -> None:
        self.query_one("#bd-find", Input).display = False

    @property
    def fields(self) -> FieldList:
        return self.query_one(FieldList)

    async def build(self, form: RunForm) -> None:
        """(Re)build every field from the form's schema and values; the cursor stays on its
        field when the new form has it."""
        arch = form.arch
        assert arch is not None
        fields = self.fields
        cursor = fields.cursor
        self._filling = True
        fields.forget_rows()
        await fields.remove_children()
        await fields.mount_all(
            data_fields(form, arch) + model_fields(form, arch) + train_fields(form, arch)
        )
        fields.forget_rows()
        self._filling = False
        self._marks.clear()
        form.drop_errors_except({r.key for r in fields.all_rows()})
        self.show_applicable(form)
        fields.move_to(cursor, scroll=False)

    def refresh_choices(self, form: RunForm) -> None:
        """The lists' options and values as the form has them now (new datasets, a dataset's
        splits), without rebuilding the form, so a refresh never takes keys being typed."""
        v = form.values
        splits = form.splits(str(v.get("data.dataset") or ""))
        lists: dict[str, tuple[list[str], Any]] = {
            "data.dataset": ([d.name for d in form.datasets], v.get("data.dataset")),
            "data.tokenizer": ([t.name for t in form.tokenizers], v.get("data.tokenizer")),
            "data.train_split": (splits, v.get("data.train_split")),
            "data.validation_split": ([*splits, NO_SPLIT], v.get("data.validation_split")),
            "data.test_split": ([*splits, NO_SPLIT], v.get("data.test_split")),
            "model.vectors": ([NO_SPLIT, *form.vector_sources], v.get("model.vectors")),
        }
        for key, (options, value) in lists.items():
            found = self.fields.query("#" + widget_id(key))
            if found and isinstance(found.first(), FieldSelect):
                shown = NO_SPLIT if value is None and NO_SPLIT in options else value
                found.first(FieldSelect).set_choices(options, None if shown is None else str(shown))

    def show_applicable(self, form: RunForm) -> bool:
        """Hide the fields that do not apply now, show the rest; whether any changed. The
        cursor leaves a field that goes for the one before it."""
        fields = self.fields
        keys_before = fields.keys()
        changed = False
        for r in fields.all_rows():
            shown = form.applies(r.key)
            if r.display != shown:
                r.display = shown
                changed = True
                if not shown:
                    self.query_one("#p-" + widget_id(r.key), Static).display = False
                    self._marks.pop(r.key, None)
        if changed and fields.cursor is not None and fields.cursor not in fields.keys():
            at = keys_before.index(fields.cursor) if fields.cursor in keys_before else 0
            keep = [k for k in keys_before[:at] if k in fields.keys()]
            fields.move_to(keep[-1] if keep else None)
        return changed

    def row_of(self, key: str) -> FieldRow | None:
        return self.fields.row(key)

    def labels(self, form: RunForm) -> list[tuple[str, str, str]]:
        """(key, label, help) of every field of the form, on show or not, in order."""
        out = []
        for r in self.fields.all_rows():
            spec = form.spec(r.key) if form.schema else None
            help_text = FIELD_HELP.get(r.key, spec.help if spec else "")
            out.append((r.key, LABELS.get(r.label, r.label), help_text))
        return out

    def edit(self, key: str) -> str:
        """Edit the field of key: "text" (its box has the focus), "list" (its list is open),
        "toggled" (a checkbox flipped), or "" (no such field on show)."""
        found = self.fields.query("#" + widget_id(key))
        row = self.row_of(key)
        if not found or row is None or not row.display:
            return ""
        self.fields.move_to(key)
        widget = found.first()
        if isinstance(widget, FieldInput):
            widget.editing = True
            widget.focus()
            widget.cursor_position = len(widget.value)
            return "text"
        if isinstance(widget, FieldSelect):
            widget.editing = True
            widget.focus()
            widget.action_show_overlay()
            return "list"
        if isinstance(widget, Checkbox):
            widget.toggle()
            return "toggled"
        return ""

    def show_problems(self, problems: dict[str, str], warnings: dict[str, str]) -> None:
        """Under each field, what is wrong with it (✗) or far from usual (⚠)."""
        for static in self.query(".bd-problem").results(Static):
            field = (static.id or "").removeprefix("p-f-").replace("--", ".")
            row = self.row_of(field)
            text = Text()
            if field in problems:
                text.append(f"✗ {problems[field]}", style="red")
            elif field in warnings:
                text.append(f"⚠ {warnings[field]}", style="yellow")
            if row is not None:
                row.set_class(field in problems, "-problem")
                row.set_class(field in warnings and field not in problems, "-warning")
            shown = bool(text) and (row is None or bool(row.display))
            mark = text.plain if shown else ""
            if self._marks.get(field, "") != mark:  # redraw only what changed
                self._marks[field] = mark
                static.update(text)
                static.display = shown
                if shown and row is not None and field == self.fields.cursor:
                    self.fields.call_after_refresh(self.fields.show_row, row)

    def show_help(self, text: Text) -> None:
        help_line = self.query_one("#bd-help", Static)
        help_line.update(text)

    def _changed(self, widget: Widget, value: Any, typed: bool) -> None:
        key = key_of(widget)
        if key is not None and not self._filling:
            self.post_message(self.FieldChanged(key, value, typed))

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "bd-find":
            return  # the screen's
        event.stop()
        self._changed(event.input, event.value, typed=True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, FieldInput):  # enter: done typing, back to the list
            event.stop()
            self.fields.focus()

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed(event.checkbox, event.value, typed=False)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL:
            self._changed(event.select, str(event.value), typed=False)

    @on(FieldSelect.Closed)
    def _select_closed(self, event: FieldSelect.Closed) -> None:
        event.stop()
        self.call_after_refresh(self.fields.focus)

    @on(FieldInput.Move)
    def _move(self, event: FieldInput.Move) -> None:
        """tab in a text box: the next field on show; edited at once when it takes text."""
        event.stop()
        keys = self.fields.keys()
        if event.key not in keys:
            return
        at = keys.index(event.key) + event.step
        if not 0 <= at < len(keys):
            self.fields.focus()
            return
        key = keys[at]
        self.fields.move_to(key)
        if isinstance(self.query_one("#" + widget_id(key)), FieldInput):
            self.edit(key)
        else:
            self.fields.focus()
