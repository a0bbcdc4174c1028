"""The builder's form: a field per setting of the data, the model and its training, each with
a line for what is wrong with it, and a help line for the focused one."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from engine import protocol as P
from screens.builder.model import NO_SPLIT, PRETRAINED_TOKENIZER, RunForm, format_value

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
NO_FIELD_HELP = "e edits the form, tab moves, l browses the layers, ctrl+t trains"


def widget_id(key: str) -> str:
    return "f-" + key.replace(".", "--")


def key_of(widget: Widget) -> str | None:
    """The form key a field widget edits; None for any other widget."""
    wid = widget.id or ""
    return wid[2:].replace("--", ".") if wid.startswith("f-") else None


def select(options: list[str], value: Any) -> Select[str]:
    choices = list(options)
    if value is not None and str(value) not in choices:
        choices.append(str(value))  # a loaded file's unknown name: the engine explains
    return Select(
        [(c, c) for c in choices],
        value=str(value) if value is not None else Select.NULL,
        allow_blank=value is None or not choices,
        compact=True,
    )


def setting_widget(s: P.SettingSpec, value: Any) -> Widget:
    if s.kind == "bool":
        return Checkbox("", bool(value), compact=True)
    if s.kind == "choice":
        return select(s.choices, value if value is not None else s.default)
    return Input(format_value(value), compact=True, placeholder="(none)" if s.optional else "")


def row(key: str, label: str, widget: Widget) -> list[Widget]:
    """A labelled field and, under it, the line for its problem (#p-f-...)."""
    widget.id = widget_id(key)
    return [
        Horizontal(Label(LABELS.get(label, label)), widget, classes="bd-row"),
        Static("", id="p-" + widget_id(key), classes="bd-problem"),
    ]


def note(text: str | Text) -> Static:
    return Static(text, classes="bd-note")


def data_fields(form: RunForm, arch: P.ArchitectureInfo) -> list[Widget]:
    v = form.values
    out: list[Widget] = [Label("Data", classes="bd-section")]
    name = Input(v.get("name") or "", compact=True, placeholder="(arch-dataset)")
    out += row("name", "run name", name)
    datasets = [d.name for d in form.datasets]
    out += row("data.dataset", "dataset", select(datasets, v["data.dataset"]))
    tokenizers = [t.name for t in form.tokenizers]
    out += row("data.tokenizer", "tokenizer", select(tokenizers, v["data.tokenizer"]))
    if arch.pretrained_tokenizer:  # the field stays: a custom folder needs its own one
        out.append(note(f"needs the model's own tokenizer ({PRETRAINED_TOKENIZER} for MiniLM)"))
    splits = form.splits(v["data.dataset"])
    out += row("data.train_split", "train split", select(splits, v["data.train_split"]))
    validation = select([*splits, NO_SPLIT], v["data.validation_split"] or NO_SPLIT)
    out += row("data.validation_split", "validation", validation)
    max_length = Input(format_value(v["data.max_length"]), compact=True)
    out += row("data.max_length", "max length", max_length)
    return out


def model_fields(form: RunForm, arch: P.ArchitectureInfo) -> list[Widget]:
    assert form.schema is not None
    v = form.values
    out: list[Widget] = [Label("Model", classes="bd-section")]
    archs = [a.name for a in form.schema.architectures]
    out += row("model.arch", "architecture", select(archs, arch.name))
    out.append(note(Text(arch.description, style="italic")))
    for s in arch.settings:
        out += row(
            f"model.{s.name}", s.name, setting_widget(s, v.get(f"model.{s.name}", s.default))
        )
    if arch.takes_vectors:
        vectors = select([NO_SPLIT, *form.vector_sources], v.get("model.vectors") or NO_SPLIT)
        out += row("model.vectors", "init vectors", vectors)
        freeze = Checkbox("", bool(v.get("model.freeze_vectors")), compact=True)
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
        value = form.values.get(f"train.{s.name}", s.default)
        out += row(f"train.{s.name}", s.name, setting_widget(s, value))
    return out


class FormPane(Vertical):
    """Every field (#bd-form; a field's id is f-<key>, dots as --) over the help line
    (#bd-help). Edits come out as FieldChanged; events of a form being rebuilt do not."""

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

    def compose(self) -> ComposeResult:
        yield VerticalScroll(note("waiting for the engine…"), id="bd-form")
        yield Static("", id="bd-help")

    async def build(self, form: RunForm) -> None:
        """(Re)build every field from the form's schema and values."""
        arch = form.arch
        assert arch is not None
        fields = self.query_one("#bd-form", VerticalScroll)
        self._filling = True
        await fields.remove_children()
        await fields.mount_all(
            data_fields(form, arch) + model_fields(form, arch) + train_fields(form, arch)
        )
        self._filling = False

    def focus_key(self, key: str) -> bool:
        """Focus the field of this key; whether the form has one."""
        found = self.query("#" + widget_id(key))
        if found:
            found.first().focus()
            return True
        return False

    def show_problems(self, problems: dict[str, str]) -> None:
        for static in self.query(".bd-problem").results(Static):
            field = (static.id or "").removeprefix("p-f-").replace("--", ".")
            text = problems.get(field, "")
            static.update(Text(text, style="red"))
            static.display = bool(text)

    def show_help(self, key: str | None, spec: P.SettingSpec | None) -> None:
        """What the focused field takes (key None: no field is focused)."""
        help_line = self.query_one("#bd-help", Static)
        if key is None:
            help_line.update(Text(NO_FIELD_HELP, "dim"))
            return
        text = Text(key, style="bold")
        if key in FIELD_HELP:
            text.append(f"  {FIELD_HELP[key]}")
        if spec is not None:
            text.append(f"  {spec.help}" if spec.help else "")
            if spec.default is not None:
                text.append(f"  (default {format_value(spec.default)})", style="dim")
        help_line.update(text)
        found = self.query("#" + widget_id(key))
        if found:
            self.query_one("#bd-form", VerticalScroll).scroll_to_widget(
                found.first(), animate=False
            )

    def _changed(self, widget: Widget, value: Any, typed: bool) -> None:
        key = key_of(widget)
        if key is not None and not self._filling:
            self.post_message(self.FieldChanged(key, value, typed))

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed(event.input, event.value, typed=True)

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed(event.checkbox, event.value, typed=False)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL:
            self._changed(event.select, str(event.value), typed=False)
