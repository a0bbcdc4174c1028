"""A table of dataset rows that pages from the engine on demand.

It renders only the visible lines (Textual's Line API) and keeps a bounded
cache of pages, so scrolling a 100,000-row dataset never holds it all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine import protocol as P

PAGE = 100
MAX_PAGES = 40
Fetcher = Callable[[int, int], Awaitable[P.RowsPage]]

_SPLIT_SHORT = {"train": "train", "validation": "valid", "test": "test", "": "-"}


def _clean(text: str) -> str:
    return " ".join(text.split())


def fit(text: str, width: int, cut: bool = False) -> str:
    """text in exactly width cells; one that does not fit (or that was cut before, cut) ends
    with `…` so that nothing is cut without a mark."""
    if width <= 0:
        return ""
    if cell_len(text) > width or (cut and cell_len(text) >= width):
        return set_cell_size(text, width - 1) + "…"
    if cut:
        return set_cell_size(text + "…", width)
    return set_cell_size(text, width)


def index_width(largest: int) -> int:
    """Cells for the # column: the digits of the largest row index (at least 3)."""
    return max(len(str(max(largest, 0))), 3)


class RowTable(ScrollView, can_focus=True):
    """Rows of the current dataset view; the screen supplies the fetcher."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="rows.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="rows.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="rows.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="rows.page_down"),
        Binding("home,g", "jump(0)", "First", show=False, id="rows.first"),
        Binding("end,G", "jump(-1)", "Last", show=False, id="rows.last"),
        Binding("enter", "open_row", "Whole text", id="rows.open"),
    ]

    DEFAULT_CSS = """
    RowTable { height: 1fr; overflow-x: hidden; }
    RowTable > .row-table--header { text-style: bold; background: $boost; }
    RowTable > .row-table--cursor { background: $accent 40%; }
    RowTable:focus > .row-table--cursor { background: $accent; color: $text; }
    RowTable > .row-table--pending { color: $text-muted; }
    RowTable > .row-table--meta { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "row-table--header",
        "row-table--cursor",
        "row-table--pending",
        "row-table--meta",
    }

    class CursorMoved(Message):
        def __init__(self, table: RowTable, position: int, row: P.Row | None) -> None:
            super().__init__()
            self.table = table
            self.position = position  # index among the matching rows
            self.row = row

    class Loaded(Message):
        """A page arrived; total is the number of matching rows."""

        def __init__(self, table: RowTable, total: int) -> None:
            super().__init__()
            self.table = table
            self.total = total

    class Opened(Message):
        """enter on a row: show all of it."""

        def __init__(self, table: RowTable, row: P.Row) -> None:
            super().__init__()
            self.table = table
            self.row = row

    class FetchFailed(Message):
        def __init__(self, table: RowTable, error: Exception) -> None:
            super().__init__()
            self.table = table
            self.error = error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.cursor = 0
        self._fetcher: Fetcher | None = None
        self._generation = 0
        self._pages: OrderedDict[int, list[P.Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._wanted: set[int] = set()
        self._fetch_scheduled = False
        self._label_width = 8
        self._largest_index = 0  # sizes the # column: the dataset's, not the filter's, rows
        self.fetches = 0  # pages asked of the engine (tests read it)

    # ------------------------------------------------------------- data

    def reset(self, fetcher: Fetcher | None, largest_index: int = 0) -> None:
        """Show a new view (dataset or filter): forget every page, start at the top.
        largest_index (the dataset's last row) sizes the # column, whatever the filter."""
        self._fetcher = fetcher
        self._largest_index = largest_index
        self._generation += 1
        self._pages.clear()
        self._pending.clear()
        self._wanted.clear()
        self.total = 0
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self._resize()
        if fetcher is not None:
            self._want(0)
        self.refresh()

    def row_at(self, position: int) -> P.Row | None:
        page = self._pages.get(position // PAGE)
        if page is None:
            return None
        i = position % PAGE
        return page[i] if i < len(page) else None

    def _want(self, page: int) -> None:
        if page in self._pages or page in self._pending or self._fetcher is None:
            return
        self._wanted.add(page)
        if not self._fetch_scheduled:
            self._fetch_scheduled = True
            self.call_later(self._fetch_wanted)

    def _fetch_wanted(self) -> None:
        self._fetch_scheduled = False
        wanted, self._wanted = self._wanted, set()
        for page in sorted(wanted):
            if page not in self._pages and page not in self._pending:
                self._pending.add(page)
                self.run_worker(self._load(page, self._generation), group="row-pages")

    async def _load(self, page: int, generation: int) -> None:
        fetcher = self._fetcher
        if fetcher is None:
            return
        self.fetches += 1
        try:
            result = await fetcher(page * PAGE, PAGE)
        except Exception as exc:  # shown by the screen; the table stays usable
            if generation == self._generation:
                self._pending.discard(page)
                self.post_message(self.FetchFailed(self, exc))
            return
        if generation != self._generation:
            return  # a stale answer for a view the user has left
        self._pending.discard(page)
        self._pages[page] = result.rows
        self._pages.move_to_end(page)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        for row in result.rows:
            self._label_width = max(self._label_width, cell_len(row.label or ""))
            self._largest_index = max(self._largest_index, row.index)
        if result.total != self.total:
            self.total = result.total
            self.cursor = min(self.cursor, max(self.total - 1, 0))
            self._resize()
        self.refresh()
        self.post_message(self.Loaded(self, self.total))
        if page == self.cursor // PAGE:
            self._announce()

    # ------------------------------------------------------------- geometry

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, self.total + 1)

    def on_resize(self) -> None:
        self._resize()

    @property
    def _width(self) -> int:
        """Cells a line has: the width less the vertical scroll bar's."""
        return self.scrollable_content_region.width or self.size.width

    @property
    def _body_height(self) -> int:
        return max(self.size.height - 1, 1)

    # ------------------------------------------------------------- keys

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * self._body_height)

    def action_jump(self, where: int) -> None:
        self.move_cursor(self.total - 1 if where < 0 else 0)

    def move_cursor(self, position: int) -> None:
        if self.total == 0:
            return
        position = max(0, min(position, self.total - 1))
        if position == self.cursor:
            return
        self.cursor = position
        top = round(self.scroll_y)
        if position < top:
            self.scroll_to(y=position, animate=False)
        elif position >= top + self._body_height:
            self.scroll_to(y=position - self._body_height + 1, animate=False)
        self.refresh()
        self._announce()

    def _announce(self) -> None:
        self.post_message(self.CursorMoved(self, self.cursor, self.row_at(self.cursor)))

    def action_open_row(self) -> None:
        row = self.row_at(self.cursor) if self.total else None
        if row is not None:
            self.post_message(self.Opened(self, row))

    # app-wide list movement (j/k/g/G) calls these on the focused widget
    def action_cursor_down(self) -> None:
        self.action_cursor(1)

    def action_cursor_up(self) -> None:
        self.action_cursor(-1)

    def action_first(self) -> None:
        self.action_jump(0)

    def action_last(self) -> None:
        self.action_jump(-1)

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", 0)
        if y >= 1:
            self.move_cursor(round(self.scroll_y) + y - 1)

    # ------------------------------------------------------------- drawing

    def column_widths(self) -> list[int]:
        """Cells of the #, label, split and text columns at the table's width: the label
        column as wide as the longest label seen, up to a fifth of the width."""
        width = self._width
        num_w = index_width(max(self._largest_index, self.total - 1))
        lab_w = max(min(self._label_width, max(width // 5, 8)), 5)
        text_w = max(width - num_w - lab_w - 5 - 4, 10)
        return [num_w, lab_w, 5, text_w]

    def render_line(self, y: int) -> Strip:
        width = self._width
        widths = self.column_widths()
        num_w, lab_w, _, _ = widths
        if y == 0:
            style = self.get_component_rich_style("row-table--header")
            cells = ["#".rjust(num_w), fit("label", lab_w), "split", "text"]
            return self._strip(cells, widths, width, style)
        position = round(self.scroll_y) + y - 1
        if position >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(position)
        if row is None:
            self._want(position // PAGE)
            style = self.get_component_rich_style("row-table--pending")
            cells = ["…".rjust(num_w), "…", "", "loading"]
            return self._strip(cells, widths, width, style)
        style = self.rich_style
        if position == self.cursor:
            style = style + self.get_component_rich_style("row-table--cursor")
        text = _clean(row.text)
        cells = [
            str(row.index).rjust(num_w),
            fit(row.label if row.label is not None else "-", lab_w),
            _SPLIT_SHORT.get(row.split, row.split[:5]),
            fit(text, widths[3], cut=row.text_len > len(row.text)),
        ]
        return self._strip(cells, widths, width, style)

    @staticmethod
    def _strip(cells: list[str], widths: list[int], width: int, style: Style) -> Strip:
        parts = [set_cell_size(c, w) for c, w in zip(cells, widths, strict=True)]
        line = set_cell_size(" " + " ".join(parts), width)
        return Strip([Segment(line, style)], width)
