"""The builder's layer tree: the model the engine would build, with each layer's parameters."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from engine import protocol as P


def human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,.0f}"


def layer_label(row: P.LayerRow) -> Text:
    """name, parameters (trainable, frozen), then the module's class: in a narrow pane the
    class is what the edge cuts (the tree scrolls sideways to it)."""
    t = Text()
    t.append(row.name.rsplit(".", 1)[-1] or "model", style="bold")
    if row.trainable:
        t.append(f" {human(row.trainable)}", style="green")
    if row.frozen:
        t.append(f" {human(row.frozen)} frozen", style="cyan")
    t.append(f" {row.kind}", style="dim")
    return t


class LayerTree(Tree[str]):
    """The layers as a tree (rows in order, each with its depth); redrawn only on a change."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__("model", id=id)
        self.show_root = True
        self._shown: list[P.LayerRow] = []

    def show(self, layers: list[P.LayerRow]) -> None:
        if layers == self._shown:
            return
        self._shown = list(layers)
        self.clear()
        stack: list[TreeNode[str]] = [self.root]
        for i, row in enumerate(layers):
            label = layer_label(row)
            if row.depth == 0:
                self.root.set_label(label)
                continue
            del stack[row.depth :]
            parent = stack[-1]
            if i + 1 < len(layers) and layers[i + 1].depth > row.depth:
                stack.append(parent.add(label, data=row.name, expand=False))
            else:
                stack.append(parent.add_leaf(label, data=row.name))
        self.root.expand()
