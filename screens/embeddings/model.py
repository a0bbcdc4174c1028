"""The embeddings screen's settings without Textual: vector sources, k, the word groups a
projection shows, and the calls they make."""

from __future__ import annotations

from dataclasses import dataclass

from engine import protocol as P

K_CHOICES = [5, 10, 20, 50]
SENTENCES = (
    "A bat flew out of the cave at dusk.\n"
    "He swung the baseball bat and missed.\n"
    "The bat hung upside down in the dark barn.\n"
    "She bought a new cricket bat."
)
PRESETS: list[tuple[str, dict[str, list[str]]]] = [
    (
        "animals, vehicles, fruit",
        {
            "pets": ["dog", "cat", "hamster", "parrot", "rabbit", "puppy"],
            "vehicles": ["car", "truck", "bus", "bicycle", "motorcycle", "train"],
            "fruit": ["apple", "banana", "orange", "mango", "grape", "pear"],
        },
    ),
    (
        "countries and capitals",
        {
            "countries": ["france", "italy", "germany", "spain", "japan", "china"],
            "capitals": ["paris", "rome", "berlin", "madrid", "tokyo", "beijing"],
        },
    ),
    (
        "sentiment words",
        {
            "good": ["good", "great", "excellent", "wonderful", "brilliant", "superb"],
            "bad": ["bad", "terrible", "awful", "horrible", "dreadful", "boring"],
        },
    ),
]


def after(current: str | None, options: list[str | None]) -> str | None:
    """The option after current, wrapping round; the first when current is not one, current
    when there are none."""
    if not options:
        return current
    i = options.index(current) if current in options else -1
    return options[(i + 1) % len(options)]


def sentences_of(text: str) -> list[str]:
    """One sentence per non-blank line."""
    return [s.strip() for s in text.splitlines() if s.strip()]


@dataclass
class EmbeddingOptions:
    """The static vectors searched (and a second one to compare), how many neighbours, and
    what the projection shows: a preset of word groups, PCA or t-SNE, the query's neighbours."""

    source: str = "glove-6b-50d"
    compare: str | None = "minilm-input"
    k: int = 10
    preset: int = 0
    method: str = "pca"
    near_group: bool = False

    @property
    def searched(self) -> list[str]:
        """The sources a query goes to: the source, then the one compared with it."""
        return [self.source] + ([self.compare] if self.compare else [])

    def cycle_source(self, static: list[str]) -> None:
        self.source = after(self.source, list(static)) or self.source

    def cycle_compare(self, static: list[str]) -> None:
        """The next static source other than the source, then off."""
        options: list[str | None] = [s for s in static if s != self.source]
        self.compare = after(self.compare, [*options, None])

    def cycle_k(self) -> None:
        self.k = K_CHOICES[(K_CHOICES.index(self.k) + 1) % len(K_CHOICES)]

    def cycle_preset(self) -> None:
        self.preset = (self.preset + 1) % len(PRESETS)

    def toggle_method(self) -> None:
        self.method = "tsne" if self.method == "pca" else "pca"

    def toggle_near(self) -> None:
        self.near_group = not self.near_group

    def describe(self) -> str:
        cmp = self.compare or "off"
        return f"source {self.source} (s) · compare {cmp} (c) · k {self.k} (k) · enter searches"

    def describe_projection(self) -> str:
        preset, _ = PRESETS[self.preset]
        near = "on" if self.near_group else "off"
        return (
            f"groups: {preset} (g) · {self.method} (m) · neighbours of the query word {near} (o)"
            " · p projects"
        )

    def neighbours_calls(self, query: str) -> list[P.Neighbours]:
        return [P.Neighbours(query=query, source=n, k=self.k) for n in self.searched]

    def projection_call(self, query: str) -> P.Project:
        """The preset's groups, with the neighbours of the query's first word when asked."""
        _, groups = PRESETS[self.preset]
        words = query.strip().split()
        near = words[0] if self.near_group and words else None
        return P.Project(
            groups=groups,
            neighbours_of=near,
            k=self.k,
            source=self.source,
            method=self.method,  # type: ignore[arg-type]
        )
