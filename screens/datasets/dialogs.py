"""The browser's dialogs: pick a label to filter by, read a whole text, name a dataset."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from engine import protocol as P
from screens.datasets.model import ALL_LABELS, label_choices
from workbench.engine.client import EngineError
from workbench.widgets.base import WorkbenchModal


def nav_bindings(prefix: str) -> list[Binding]:
    """j/k/g/G in a dialog: Textual stops a modal's key chain before the app's own bindings,
    so each dialog with a list names them itself (they run the app's list movement)."""
    return [
        Binding(key, f"app.nav('{where}')", where, show=False, id=f"{prefix}.{where}")
        for key, where in (("j", "down"), ("k", "up"), ("g", "first"), ("G", "last"))
    ]


class LabelPicker(WorkbenchModal[str]):
    """The labels with their row counts, most rows first (j/k, enter picks, / filters the
    list by name); dismisses with the label, ALL_LABELS for every row, or None (esc)."""

    BINDINGS: ClassVar = [
        Binding("slash", "find", "Filter", id="labels.find"),
        Binding("enter", "pick", "Pick", id="labels.pick"),
        *nav_bindings("labels"),
    ]
    DEFAULT_CSS = """
    LabelPicker { align: center middle; }
    LabelPicker > Vertical { width: 60; max-width: 100%; height: auto; max-height: 90%;
                             border: thick $accent; background: $surface; padding: 0 1; }
    LabelPicker #labels-find { margin: 0; }
    LabelPicker #labels-list { height: auto; border: none; }
    LabelPicker #labels-keys { color: $text-muted; }
    """

    def __init__(self, labels: Mapping[str, int], current: str | None) -> None:
        super().__init__()
        self.labels = dict(labels)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Filter by label ({len(self.labels)} labels)", style="bold"))
            yield Input(placeholder="/ type part of a label", id="labels-find", compact=True)
            yield OptionList(id="labels-list")
            yield Static("j/k move · enter picks · / filters · esc closes", id="labels-keys")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(OptionList).focus()
        self.on_resize()

    def on_resize(self) -> None:
        # the list scrolls (with its bar) inside the box (90% of the height): title, filter,
        # keys line and the box's border take 5 lines of it
        self.query_one(OptionList).styles.max_height = max(int(self.size.height * 0.9) - 5, 3)

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        choices = label_choices(self.labels, query)
        total = sum(self.labels.values()) or 1
        shown_names = [name if name != ALL_LABELS else "(all labels)" for name, _ in choices]
        width = max((len(n) for n in shown_names), default=10)
        for (name, rows), shown in zip(choices, shown_names, strict=True):
            prompt = Text(f"{shown:<{width}}  ", style="bold" if name == self.current else "")
            prompt.append(f"{rows:>9,}  {100 * rows / total:5.1f}%", style="dim")
            options.add_option(Option(prompt, id=name or "\0all"))
        if not choices:
            options.add_option(Option(Text(f"no label holds '{query}'", style="dim"), id="\0none"))
            return
        ids = [name for name, _ in choices]
        keep = self.current if self.current in ids else ids[0]
        options.highlighted = ids.index(keep if keep is not None else ALL_LABELS)

    @on(Input.Changed, "#labels-find")
    def _query_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    @on(Input.Submitted, "#labels-find")
    def _query_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_pick()

    @on(OptionList.OptionSelected, "#labels-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick()

    def action_find(self) -> None:
        self.query_one("#labels-find", Input).focus()

    def action_pick(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        chosen = options.get_option_at_index(options.highlighted).id or ""
        if chosen == "\0none":
            return
        self.dismiss(ALL_LABELS if chosen == "\0all" else chosen)

    def on_key(self, event: object) -> None:
        # up/down in the filter box move in the list, so enter picks what you see
        key = getattr(event, "key", "")
        if key in ("up", "down") and isinstance(self.focused, Input):
            options = self.query_one(OptionList)
            (options.action_cursor_down if key == "down" else options.action_cursor_up)()
            getattr(event, "stop", lambda: None)()


def row_heading(row: P.Row) -> Text:
    """#index, label, split, length and the row's other columns."""
    head = Text.assemble(
        (f"#{row.index}", "bold"),
        f"  label: {row.label if row.label is not None else '-'}",
        f"  split: {row.split or '-'}",
        f"  {row.text_len:,} characters, {len(row.text.split()):,} words",
    )
    for k, v in row.extra.items():
        head.append(f"  {k}: {v}", style="dim")
    return head


class TextPager(WorkbenchModal[None]):
    """One row's whole text, wrapped and scrolling (j/k, space, PgUp/PgDn, g/G); esc closes."""

    BINDINGS: ClassVar = [
        Binding("space", "page_down", "Page down", show=False, id="pager.page_down"),
        Binding("q", "close", "Close", id="pager.close"),
        *nav_bindings("pager"),
    ]
    DEFAULT_CSS = """
    TextPager { align: center middle; }
    TextPager > Vertical { width: 100%; max-width: 120; height: 100%; border: thick $accent;
                           background: $surface; padding: 0 1; }
    TextPager #pager-head { height: auto; max-height: 4; }
    TextPager #pager-scroll { height: 1fr; }
    TextPager #pager-keys { color: $text-muted; height: 1; }
    """

    def __init__(self, dataset: str, row: P.Row) -> None:
        super().__init__()
        self.dataset = dataset
        self.row = row

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((f"{self.dataset} ", "bold"), row_heading(self.row)),
                         id="pager-head")  # fmt: skip
            with VerticalScroll(id="pager-scroll"):
                yield Static(Text(self.row.text or "(empty text)"), id="pager-text")
            yield Static("j/k or ↑/↓ scroll · space/PgDn next page · g/G top/end · esc closes",
                         id="pager-keys")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#pager-scroll").focus()

    def action_page_down(self) -> None:
        self.query_one("#pager-scroll", VerticalScroll).scroll_page_down(animate=False)


class NameDialog(WorkbenchModal[str]):
    """A name for a dataset (to rename it, or to save a split as a new one). enter sends it to
    submit, which answers with an error to show (the dialog stays) or "" (it closes with the
    name); esc closes with None."""

    DEFAULT_CSS = """
    NameDialog { align: center middle; }
    NameDialog > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%;
                            border: thick $accent; background: $surface; padding: 0 1; }
    NameDialog #name-what { margin-bottom: 1; }
    NameDialog #name-message { height: auto; }
    NameDialog #name-keys { color: $text-muted; }
    """

    def __init__(
        self,
        title: str,
        what: str,
        value: str,
        submit: Callable[[str], Awaitable[str]],
        verb: str = "save",
    ) -> None:
        super().__init__()
        self._title = title
        self._what = what
        self._value = value
        self._submit = submit
        self._verb = verb
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title, style="bold"), id="name-title")
            yield Static(Text(self._what), id="name-what")
            yield Input(self._value, placeholder="dataset name", id="name-input", compact=True)
            yield Static("", id="name-message")
            yield Static(f"enter {self._verb} · esc cancel", id="name-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#name-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.busy:
            self.send(event.value.strip())

    @work(exclusive=True, group="name-submit", exit_on_error=False)
    async def send(self, name: str) -> None:
        message = self.query_one("#name-message", Static)
        if not name:
            message.update(Text("type a name first", style="yellow"))
            return
        self.busy = True
        message.update(Text("working…", style="dim"))
        try:
            problem = await self._submit(name)
        except EngineError as exc:
            problem = str(exc)
        finally:
            self.busy = False
        if problem:
            message.update(Text(problem, style="bold red"))
            return
        self.dismiss(name)
