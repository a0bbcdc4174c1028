"""What the prediction console shows, apart from its widgets: which runs can predict, the
console's options, the history of typed texts, and a prediction (or two models' predictions of
one text) drawn as rich Text: the label, a probability bar per class, the tokens read, a note
when the text was cut, and the explanation as colour over the text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from engine import protocol as P
from workbench.attribution import completeness_line, explanation_text, top_tokens
from workbench.cli.predict import cut_note, probability_bar

METHODS = ("", "ig", "ixg", "occlusion", "attention")  # "" explains nothing
METHOD_NAMES = {
    "": "off",
    "ig": "integrated gradients",
    "ixg": "input x gradient",
    "occlusion": "occlusion",
    "attention": "attention",
}
SPLITS = ("test", "validation", "train")
HISTORY = 200  # texts kept
BAR = 16
PREDICTED = ("finished", "stopped", "failed", "interrupted", "running", "paused")
SAMPLE = "a gripping, beautifully acted film"


def predictable(runs: Sequence[P.RunInfo]) -> list[P.RunInfo]:
    """Runs that may have a checkpoint (they have taken a step), newest first."""
    out = [r for r in runs if r.step > 0 and r.state in PREDICTED]
    return sorted(out, key=lambda r: -r.created)


def folder_entry(path: str) -> P.RunInfo:
    """A model folder as a line of the run list (the engine tells a path from an id)."""
    name = path.rstrip("/").rsplit("/", 1)[-1] or path
    return P.RunInfo(
        run_id=path, name=name, arch="folder", dataset="", state="finished", created=0.0, step=1
    )


def run_label(run: P.RunInfo) -> Text:
    """One line of the run list (22 cells): its name and its best score; a training run is
    marked with a dot."""
    name = run.name if len(run.name) <= 14 else run.name[:13] + "…"
    line = Text(name.ljust(14), style="bold")
    line.append(f" {run.best:.3f}" if run.best is not None else "      ")
    line.append(" ●" if run.state in ("running", "paused") else "", style="yellow")
    return line


@dataclass
class ConsoleOptions:
    """The explanation shown, by token or word, and whether typing predicts (debounced)."""

    method: str = ""
    by_word: bool = False
    live: bool = True
    split: str = "test"
    steps: int = 0  # integrated gradients' (0: the engine's default)

    def cycle_method(self) -> str:
        self.method = METHODS[(METHODS.index(self.method) + 1) % len(METHODS)]
        return self.method

    def cycle_split(self) -> str:
        self.split = SPLITS[(SPLITS.index(self.split) + 1) % len(SPLITS)]
        return self.split

    def to_state(self) -> dict[str, Any]:
        return {"method": self.method, "by_word": self.by_word, "live": self.live}

    @classmethod
    def from_state(cls, state: Any) -> ConsoleOptions:
        out = cls()
        if isinstance(state, dict):
            if state.get("method") in METHODS:
                out.method = state["method"]
            out.by_word = bool(state.get("by_word", False))
            out.live = bool(state.get("live", True))
        return out

    def describe(self) -> Text:
        line = Text("explain ", style="dim")
        line.append(METHOD_NAMES[self.method], style="bold")
        if self.method:
            line.append(" · by word" if self.by_word else " · by token", style="dim")
        line.append(" · live " + ("on" if self.live else "off"), style="dim")
        return line


@dataclass
class History:
    """Texts typed, newest first, each once."""

    texts: list[str] = field(default_factory=list)

    def add(self, text: str) -> bool:
        """Put text first; False when it was first already."""
        if not text.strip() or (self.texts and self.texts[0] == text):
            return False
        if text in self.texts:
            self.texts.remove(text)
        self.texts.insert(0, text)
        del self.texts[HISTORY:]
        return True


def probability_rows(res: P.RunPredictResult, pred: P.Prediction, width: int = BAR) -> Text:
    """Every class with its probability and bar, the most probable first."""
    out = Text()
    order = sorted(range(len(res.labels)), key=lambda i: -pred.probabilities[i])
    name_width = min(16, max(len(n) for n in res.labels))
    for i in order:
        p = pred.probabilities[i]
        style = "bold" if res.labels[i] == pred.label else ""
        out.append(res.labels[i][:name_width].ljust(name_width), style=style)
        out.append(f" {p:6.1%} ")
        out.append(probability_bar(p, width), style="green" if style else "")
        out.append("\n")
    out.rstrip()
    return out


def checkpoint_line(res: P.RunPredictResult, name: str) -> Text:
    if res.checkpoint == "folder":
        return Text(f"{name} · a model folder", style="dim")
    where = "latest complete checkpoint" if res.checkpoint == "latest" else "best checkpoint"
    return Text(f"{name} · {where}, step {res.step:,}", style="dim")


def prediction_view(
    text: str, res: P.RunPredictResult, by_word: bool, name: str, bar: int = BAR
) -> RenderableType:
    """One model's (called name) answer on one text, with probability bars of bar cells."""
    pred = res.predictions[0]
    parts: list[RenderableType] = [checkpoint_line(res, name)]
    head = Text("→ ", style="bold")
    head.append(pred.label, style="bold green")
    head.append(f"  {max(pred.probabilities):.1%}")
    parts += [head, probability_rows(res, pred, bar)]
    shown = " ".join(pred.tokens[:80]) + (" …" if len(pred.tokens) > 80 else "")
    parts.append(Text(f"tokens read ({len(pred.tokens):,}): {shown}", style="dim"))
    note = cut_note(pred, res.max_length)
    if note:
        parts.append(Text(note, style="yellow"))
    ex = pred.explanation
    if ex is not None:
        parts.append(Text(explanation_title(ex), style="bold"))
        parts.append(explanation_text(text, pred, by_word))
        top = top_tokens(pred, 6)
        if top:
            parts.append(Text("  ".join(f"{t} {s:+.3f}" for t, s in top), style="dim"))
        line = completeness_line(ex)
        if line:
            parts.append(Text(line, style="dim"))
        if ex.note:
            parts.append(Text(ex.note, style="yellow"))
    return Group(*parts)


def explanation_title(ex: P.Explanation) -> str:
    if ex.method == "attention":
        return "attention from the pooled position: greener, more weight"
    return f"{METHOD_NAMES[ex.method]} for {ex.target} (green +, red -)"


def comparison_line(a: P.RunPredictResult, b: P.RunPredictResult) -> Text:
    """Whether two models agree on the text, and how far their probabilities are apart."""
    pa, pb = a.predictions[0], b.predictions[0]
    if pa.label == pb.label:
        line = Text(f"= both say {pa.label}", style="bold green")
    else:
        line = Text(f"≠ they disagree: {pa.label} against {pb.label}", style="bold red")
    if a.labels == b.labels:
        gap = max(abs(x - y) for x, y in zip(pa.probabilities, pb.probabilities, strict=True))
        line.append(f"  (largest probability gap {gap:.1%})", style="dim")
    return line


def batch_summary(res: P.BatchPredictResult) -> Text:
    """A batch prediction's file, and its scores when the texts had labels."""
    out = Text(f"{res.rows:,} texts → {res.out}\n")
    if res.metrics:
        out.append(
            f"accuracy {res.metrics['accuracy']:.4f} · macro-F1 {res.metrics['macro_f1']:.4f} "
            f"on {res.scored:,} labelled texts",
            style="bold",
        )
        out.append("\nconfusion (rows true, columns predicted)\n", style="dim")
        width = max(5, *(len(n) for n in res.labels))
        out.append(" " * width + " " + " ".join(n[:width].rjust(width) for n in res.labels) + "\n")
        for name, row in zip(res.labels, res.confusion, strict=True):
            out.append(name[:width].ljust(width) + " ")
            out.append(" ".join(f"{n:>{width},}" for n in row) + "\n")
        out.append(f"{len(res.mistakes):,} surest mistakes below: enter shows one", style="dim")
    else:
        out.append("not scored: the texts have no labels", style="dim")
    return out


def disagreement_summary(res: P.DisagreeResult) -> Text:
    """How often two runs agree over a split, and their accuracies there."""
    out = Text(
        f"A and B agree on {res.agreed:,} of {res.rows:,} texts "
        f"({res.agreed / max(res.rows, 1):.1%}) of {res.dataset}'s {res.split} split",
        style="bold",
    )
    if res.a_accuracy is not None and res.b_accuracy is not None:
        out.append(f"\naccuracy A {res.a_accuracy:.4f} · B {res.b_accuracy:.4f}")
    shown = len(res.disagreements)
    out.append(
        f"\n{shown:,} surest disagreements below: enter predicts one with both"
        if shown
        else "\nthey label every text alike",
        style="dim",
    )
    return out
