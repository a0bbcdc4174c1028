"""Words reduced to 2D with PCA or t-SNE, in groups drawn in colours.

scikit-learn's TSNE has no callback. With verbose=2 it prints "[t-SNE] Iteration N: error = ..."
every 50 of its 1,000 iterations; a thread-aware stand-in for sys.stdout hands the lines printed
by the projecting thread to the job (progress, and Cancelled raised from inside print, which
unwinds sklearn's loop) and passes every other thread's output through untouched. The
optimisation itself runs exactly as sklearn schedules it, early exaggeration included.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np

from engine.core.errors import EngineError, JobContext
from engine.protocol import Project, ProjectedPoint, ProjectionResult

MIN_POINTS = 3
MAX_POINTS = 3000
TSNE_ITERATIONS = 1000  # sklearn's default
_ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+): error = ([0-9.eE+-]+)")

PRESET_GROUPS: dict[str, list[str]] = {
    "vehicles": ["car", "truck", "bus", "train", "bicycle", "motorcycle", "airplane", "boat"],
    "pets": ["dog", "cat", "hamster", "rabbit", "parrot", "goldfish", "puppy", "kitten"],
    "fruits": ["apple", "banana", "orange", "grape", "mango", "pear", "peach", "cherry"],
    "countries": ["france", "germany", "italy", "spain", "japan", "china", "brazil", "canada"],
    "capitals": ["paris", "berlin", "rome", "madrid", "tokyo", "beijing", "ottawa", "london"],
    "emotions": ["happy", "sad", "angry", "afraid", "surprised", "proud", "lonely", "excited"],
    "professions": ["doctor", "nurse", "teacher", "lawyer", "engineer", "farmer", "pilot", "chef"],
    "numbers": ["one", "two", "three", "four", "five", "six", "seven", "eight"],
}

VectorOf = Callable[[str], "np.ndarray | None"]
NeighboursOf = Callable[[str, int], list[str]]


def collect(
    req: Project, vector_of: VectorOf, neighbours_of: NeighboursOf
) -> tuple[list[tuple[str, str]], np.ndarray, list[str]]:
    """((word, group) per point, their vectors, unknown words). A word is drawn once: in the
    first named group that has it (a plain word that a group names is drawn in that group),
    else as a plain word; the neighbours group starts with the word itself."""
    group_of: dict[str, str] = {}
    for group, words in req.groups.items():
        for w in words:
            group_of.setdefault(w.strip(), group)
    wanted: list[tuple[str, str]] = [(w, group_of.get(w.strip(), "words")) for w in req.words]
    for group, words in req.groups.items():
        wanted += [(w, group) for w in words]
    unknown: list[str] = []
    if req.neighbours_of:
        centre = req.neighbours_of.strip()
        if vector_of(centre) is None:
            unknown.append(centre)
        else:
            group = f"near {centre}"
            wanted += [(w, group) for w in [centre, *neighbours_of(centre, req.k)]]
    points: list[tuple[str, str]] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    for word, group in wanted:
        word = word.strip()
        if not word or word in seen or word in unknown:
            continue
        v = vector_of(word)
        if v is None:
            unknown.append(word)
            continue
        seen.add(word)
        points.append((word, group))
        vectors.append(v)
    if len(points) < MIN_POINTS:
        raise EngineError(
            f"{len(points)} known word{'s' if len(points) != 1 else ''} to project; "
            f"at least {MIN_POINTS} are needed",
            hint=("unknown: " + ", ".join(unknown[:10])) if unknown else "add more words",
        )
    if len(points) > MAX_POINTS:
        raise EngineError(f"{len(points):,} words to project; at most {MAX_POINTS:,} at a time")
    return points, np.stack(vectors).astype(np.float64), unknown


def project(
    req: Project, vector_of: VectorOf, neighbours_of: NeighboursOf, ctx: JobContext
) -> ProjectionResult:
    """req's words in 2D; a lowered t-SNE perplexity is said in the result's note."""
    t0 = time.perf_counter()
    ctx.progress(0, 1, "collecting words")
    points, matrix, unknown = collect(req, vector_of, neighbours_of)
    ctx.check_cancelled()
    explained: list[float] = []
    note = ""
    if req.method == "pca":
        xy, explained = pca(matrix, req.seed)
        ctx.progress(1, 1, f"PCA of {len(points)} words")
    else:
        xy, note = tsne(matrix, req.perplexity, req.seed, ctx)
        ctx.progress(TSNE_ITERATIONS, TSNE_ITERATIONS, note or f"t-SNE of {len(points)} words")
    return ProjectionResult(
        method=req.method,
        source=req.source,
        points=[
            ProjectedPoint(word=w, group=g, x=float(x), y=float(y))
            for (w, g), (x, y) in zip(points, xy, strict=True)
        ],
        unknown=unknown,
        explained=explained,
        seconds=time.perf_counter() - t0,
        note=note,
    )


def pca(matrix: np.ndarray, seed: int) -> tuple[np.ndarray, list[float]]:
    """(points (n, 2), each axis's share of the variance)."""
    from sklearn.decomposition import PCA

    model = PCA(n_components=2, random_state=seed)
    xy = model.fit_transform(matrix)
    return xy, [float(r) for r in np.nan_to_num(model.explained_variance_ratio_)]


def effective_perplexity(perplexity: float, n: int) -> tuple[float, str]:
    """The perplexity t-SNE can use for n points, and a note when it had to be lowered: it must
    stay below the number of points, and sklearn looks at 3 x perplexity neighbours."""
    limit = max(1.0, (n - 1) / 3)
    if perplexity <= limit:
        return perplexity, ""
    return limit, (
        f"perplexity lowered from {perplexity:g} to {limit:.3g}: {n} points are too few for it"
    )


def tsne(
    matrix: np.ndarray, perplexity: float, seed: int, ctx: JobContext
) -> tuple[np.ndarray, str]:
    """(points (n, 2), a note or ""). Progress every 50 iterations; cancellable between them."""
    from sklearn.manifold import TSNE

    if perplexity <= 0:
        raise EngineError(f"perplexity must be positive; got {perplexity:g}", hint="try 5 to 50")
    used, note = effective_perplexity(perplexity, len(matrix))
    model = TSNE(
        n_components=2,
        perplexity=used,
        init="pca",
        random_state=seed,
        max_iter=TSNE_ITERATIONS,
        verbose=2,
    )
    ctx.progress(0, TSNE_ITERATIONS, "t-SNE: finding each word's neighbours")

    def on_line(line: str) -> None:
        ctx.check_cancelled()
        found = _ITERATION.search(line)
        if found:
            done = int(found.group(1))
            ctx.progress(
                done,
                TSNE_ITERATIONS,
                f"t-SNE iteration {done} of {TSNE_ITERATIONS}, "
                f"KL divergence {float(found.group(2)):.3f}",
            )

    with printed_lines(on_line):
        xy = model.fit_transform(matrix)
    return xy, note


# ------------------------------------------------------------------ stdout tap


class _ThreadTap(io.TextIOBase):
    """A sys.stdout stand-in: registered threads' lines go to their handler, the rest through."""

    def __init__(self, inner: TextIO | None) -> None:
        self.inner = inner
        self.handlers: dict[int, Callable[[str], None]] = {}
        self.partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        me = threading.get_ident()
        handler = self.handlers.get(me)
        if handler is None:
            return self.inner.write(text) if self.inner is not None else len(text)
        buffered = self.partial.pop(me, "") + text
        *lines, rest = buffered.split("\n")
        if rest:
            self.partial[me] = rest
        for line in lines:
            handler(line)  # may raise Cancelled: print() passes it on to the printing code
        return len(text)

    def flush(self) -> None:
        if self.inner is not None:
            self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_tap_lock = threading.Lock()
_tap_users = 0


@contextmanager
def printed_lines(handler: Callable[[str], None]) -> Iterator[None]:
    """Within the block, lines this thread prints go to handler (other threads are unaffected)."""
    global _tap_users
    me = threading.get_ident()
    with _tap_lock:
        tap = sys.stdout if isinstance(sys.stdout, _ThreadTap) else _ThreadTap(sys.stdout)
        sys.stdout = tap
        tap.handlers[me] = handler
        _tap_users += 1
    try:
        yield
    finally:
        with _tap_lock:
            tap.handlers.pop(me, None)
            tap.partial.pop(me, None)
            _tap_users -= 1
            if _tap_users == 0 and sys.stdout is tap:
                sys.stdout = tap.inner
