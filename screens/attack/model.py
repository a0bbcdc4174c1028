"""What the attack screen shows, apart from its widgets: which runs can be attacked, the
screen's options (recipe, n, split, budget, target, the recipe's settings) and their one-line
entry (`n=20 split=test epsilon=0.5`), and an attack drawn as rich Text: one example's original
and perturbed text with the changes marked, both predictions with probability bars, the
summary table (two results side by side), the examples and a PGD trace."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text

from engine import protocol as P
from engine.protocol.attack import SettingValue
from workbench.attack_report import CLOSE, OPEN, side_by_side, summary_rows
from workbench.cli.predict import probability_bar

SPLITS = ("test", "validation", "train")
ATTACKABLE = ("finished", "stopped", "failed", "interrupted", "running", "paused")
OLD = Style(color="red", strike=True)  # a changed span of the original text
NEW = Style(color="green", bold=True, underline=True)  # what it became
SAMPLE = "a gripping, beautifully acted film"
# the options every recipe has (the rest of an entry are the recipe's own settings)
GENERAL: dict[str, str] = {
    "n": "int",
    "split": "str",
    "seed": "int",
    "budget": "int",
    "target": "str",
    "label": "str",
    "dataset": "str",
}


def attackable(runs: Sequence[P.RunInfo]) -> list[P.RunInfo]:
    """Classifier runs that may have a checkpoint (they have taken a step), newest first."""
    out = [r for r in runs if r.step > 0 and r.state in ATTACKABLE and not r.arch.endswith("-lm")]
    return sorted(out, key=lambda r: -r.created)


def run_label(run: P.RunInfo, mark: str) -> Text:
    """One line of the run list (21 cells): a mark (▶ attacked, + votes with it) and the name."""
    name = run.name if len(run.name) <= 18 else run.name[:17] + "…"
    line = Text(mark.ljust(2), style="bold")
    line.append(name, style="bold" if mark.strip() else "")
    line.append(" ●" if run.state in ("running", "paused") else "", style="yellow")
    return line


def convert(name: str, value: str, kind: str) -> SettingValue:
    """A typed value of an entry; ValueError naming the setting when it is not of its kind."""
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if kind == "bool":
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def guess(value: str) -> SettingValue:
    """A value of a setting the recipe does not list (the engine names what is wrong)."""
    for kind in ("int", "float"):
        try:
            return convert("", value, kind)
        except ValueError:
            pass
    return value


@dataclass
class AttackOptions:
    """The recipe, what to attack (n examples of split drawn with seed; a typed text's label),
    the query budget, the target class, and each recipe's settings that differ from its
    defaults."""

    recipe: str = ""
    n: int = 20
    split: str = "test"
    seed: int = 0
    budget: int | None = None  # None: the recipe's default
    target: str = ""
    label: str = ""
    dataset: str = ""
    settings: dict[str, dict[str, SettingValue]] = field(default_factory=dict)

    def cycle_recipe(self, names: Sequence[str], step: int = 1) -> str:
        if names:
            at = names.index(self.recipe) if self.recipe in names else -step
            self.recipe = names[(at + step) % len(names)]
        return self.recipe

    def cycle_split(self) -> str:
        self.split = (
            SPLITS[(SPLITS.index(self.split) + 1) % len(SPLITS)]
            if (self.split in SPLITS)
            else SPLITS[0]
        )
        return self.split

    def recipe_settings(self) -> dict[str, SettingValue]:
        return dict(self.settings.get(self.recipe, {}))

    def entry(self, info: P.RecipeInfo | None) -> str:
        """The options as the settings box shows them: general ones, then every setting of the
        recipe with its value now."""
        budget = "" if self.budget is None else self.budget
        parts = [f"n={self.n}", f"split={self.split}", f"budget={budget}"]
        parts += [f"target={self.target}", f"seed={self.seed}"]
        if self.label:
            parts.append(f"label={self.label}")
        if self.dataset:
            parts.append(f"dataset={self.dataset}")
        mine = self.recipe_settings()
        for s in info.settings if info else []:
            parts.append(f"{s.name}={_show(mine.get(s.name, s.default))}")
        for name, value in mine.items():
            if info is None or name not in {s.name for s in info.settings}:
                parts.append(f"{name}={_show(value)}")
        return " ".join(shlex.quote(p) if " " in p else p for p in parts)

    def apply(self, text: str, info: P.RecipeInfo | None) -> None:
        """Take name=value pairs typed in the settings box; ValueError saying what is wrong
        (nothing is changed then). Bounds are the engine's to check: it names them."""
        try:
            tokens = shlex.split(text)
        except ValueError as exc:
            raise ValueError(f"could not read the settings: {exc}") from None
        kinds = {s.name: s.type for s in info.settings} if info else {}
        defaults = {s.name: s.default for s in info.settings} if info else {}
        general: dict[str, Any] = {}
        mine = self.recipe_settings()
        for token in tokens:
            name, eq, value = token.partition("=")
            name = name.strip()
            if not eq or not name:
                raise ValueError(f"write name=value, got {token!r}")
            if name == "budget" and not value.strip():
                general[name] = None  # the recipe's default
            elif name in GENERAL:
                general[name] = convert(name, value, GENERAL[name])
            elif name in kinds:
                typed = convert(name, value, kinds[name])
                if typed == defaults[name] and type(typed) is type(defaults[name]):
                    mine.pop(name, None)
                else:
                    mine[name] = typed
            else:
                mine[name] = guess(value)
        for name, value in general.items():
            setattr(self, name, value)
        if self.recipe:
            self.settings[self.recipe] = mine

    def call(
        self, run_id: str, ensemble: Sequence[str], text: str | None, trace: bool
    ) -> P.AttackRun:
        """The attack of a typed text (text given), or of n examples of the split."""
        common: dict[str, Any] = {
            "run_id": run_id,
            "recipe": self.recipe,
            "target": self.target,
            "budget": self.budget,
            "settings": self.recipe_settings(),
            "trace": trace,
            "ensemble": list(ensemble),
        }
        if text is not None:
            return P.AttackRun(texts=[text], labels=[self.label] if self.label else [], **common)
        return P.AttackRun(
            dataset=self.dataset, split=self.split, n=self.n, seed=self.seed, **common
        )

    def describe(self) -> Text:
        """The options in one line: the recipe, what is attacked, budget, target, settings."""
        line = Text(self.recipe or "—", style="bold")
        line.append(f" · {self.split} n={self.n}")
        line.append(f" · budget {'default' if self.budget is None else self.budget}")
        line.append(f" · target {self.target}" if self.target else " · untargeted")
        if self.label:
            line.append(f" · label {self.label}")
        for name, value in self.recipe_settings().items():
            line.append(f" {name}={_show(value)}", style="dim")
        return line

    def to_state(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "n": self.n,
            "split": self.split,
            "seed": self.seed,
            "budget": self.budget,
            "target": self.target,
            "settings": self.settings,
        }

    @classmethod
    def from_state(cls, state: Any) -> AttackOptions:
        out = cls()
        if not isinstance(state, dict):
            return out
        for name, kind in (("recipe", str), ("split", str), ("target", str)):
            if isinstance(state.get(name), kind):
                setattr(out, name, state[name])
        for name in ("n", "seed", "budget"):
            value = state.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(out, name, value)
        settings = state.get("settings")
        if isinstance(settings, dict):
            out.settings = {
                str(k): {str(n): v for n, v in v.items() if isinstance(v, int | float | str)}
                for k, v in settings.items()
                if isinstance(v, dict)
            }
        return out


def _show(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------- drawing


def marked(text: str, spans: Sequence[tuple[int, int]], style: Style) -> Text:
    """text with each changed span in [[ ]] (a mark that is not only colour) and style."""
    out = Text()
    at = 0
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if end < start:
            continue
        if merged and start <= merged[-1][1] and end > start:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        out.append(text[at:start])
        out.append(OPEN, style="bold")
        out.append(text[start:end], style=style)
        out.append(CLOSE, style="bold")
        at = end
    out.append(text[at:])
    return out


def probability_rows(labels: Sequence[str], probs: Sequence[float], width: int) -> Text:
    """Every class with its probability and bar, the most probable first."""
    out = Text()
    if not probs:
        return out
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    name_width = min(14, max(len(n) for n in labels)) if labels else 6
    top = order[0]
    for i in order[:4]:
        name = labels[i] if i < len(labels) else str(i)
        style = "bold" if i == top else ""
        out.append("  " + name[:name_width].ljust(name_width), style=style)
        out.append(f" {probs[i]:6.1%} ")
        out.append(probability_bar(probs[i], width), style="green" if style else "")
        out.append("\n")
    out.rstrip()
    return out


RESULT_STYLE = {"Successful": "bold red", "Failed": "bold green", "Skipped": "yellow"}


def example_view(res: P.AttackResult, ex: P.AttackExample, bar: int = 16) -> RenderableType:
    """One attacked example: how it ended and after how many queries, both predictions with
    bars, the texts with the changes marked, and for embedding attacks both verdicts."""
    head = Text(ex.result_type, style=RESULT_STYLE.get(ex.result_type, "bold"))
    head.append(f" · {ex.num_queries:,} queries", style="")
    if ex.seconds:
        head.append(f" · {ex.seconds:.2f} s", style="dim")
    where = f"row {ex.row:,}" if ex.row >= 0 else "typed"
    head.append(f" · {where} · truth {ex.ground_truth_output}", style="dim")
    parts: list[RenderableType] = [head]
    before = Text("original  → ", style="bold")
    before.append(ex.original_output, style="bold")
    before.append(f"  score {ex.original_score:.3f}", style="dim")
    after = Text("perturbed → ", style="bold")
    flipped = ex.perturbed_output != ex.original_output
    after.append(ex.perturbed_output, style="bold red" if flipped else "bold")
    after.append(f"  score {ex.perturbed_score:.3f}", style="dim")
    parts += [before, probability_rows(res.labels, ex.original_probabilities, bar)]
    parts += [after, probability_rows(res.labels, ex.perturbed_probabilities, bar)]
    old = [(c.start, c.end) for c in ex.changes]
    new = [(c.new_start, c.new_end) for c in ex.changes]
    parts.append(Text("original text", style="dim"))
    parts.append(marked(ex.original_text, old, OLD))
    parts.append(Text("perturbed text", style="dim"))
    if ex.perturbed_text == ex.original_text and not ex.changes:
        parts.append(Text("(unchanged)", style="dim"))
    else:
        parts.append(marked(ex.perturbed_text, new, NEW))
    if ex.changes:
        edits = "  ".join(f"{c.old!r}→{c.new!r}" for c in ex.changes[:8])
        more = f" (+{len(ex.changes) - 8})" if len(ex.changes) > 8 else ""
        plural = "s" if len(ex.changes) != 1 else ""
        parts.append(
            Text(
                f"{len(ex.changes)} change{plural} ({ex.perturbed_words} of {ex.words} "
                f"words): {edits}{more}",
                style="dim",
            )
        )
    if ex.embedding_flipped is not None:
        line = Text("embedding space: ", style="dim")
        line.append("flipped" if ex.embedding_flipped else "not flipped", style="bold")
        if ex.perturbation_norm is not None:
            line.append(f" · norm {ex.perturbation_norm:.4f}", style="dim")
        line.append(" · after snapping: ", style="dim")
        line.append("flipped" if ex.result_type == "Successful" else "not flipped", style="bold")
        parts.append(line)
    if ex.steps:
        parts.append(Text(f"{len(ex.steps)} steps traced: t shows them", style="dim"))
    if ex.note:
        parts.append(Text(ex.note, style="yellow"))
    return Group(*parts)


def result_line(res: P.AttackResult, name: str = "") -> Text:
    """What was attacked (called name, else the engine's description), with what, in a line."""
    line = Text(name or res.description, style="bold")
    if name and res.ensemble:
        line.append(f" + {len(res.ensemble)} voting", style="bold")
    line.append(f" · {res.recipe}", style="")
    if res.dataset or res.split:
        line.append(f" · {res.dataset} {res.split}".rstrip(), style="dim")
    if res.target:
        line.append(f" · target {res.target}", style="dim")
    return line


def summary_view(
    current: P.AttackResult | None,
    kept: P.AttackResult | None,
    name: Callable[[P.AttackResult], str] = lambda _: "",
) -> Text:
    """The summary table; with a result kept as A, A and the current one (B) side by side
    (name: what to call a result's model)."""
    out = Text()
    if current is None and kept is None:
        out.append("b attacks n examples of the split; / attacks a typed text", style="dim")
        return out
    if kept is not None and current is not None and current is not kept:
        out.append("A ", style="bold")
        out.append_text(result_line(kept, name(kept)))
        out.append("\nB ", style="bold")
        out.append_text(result_line(current, name(current)))
        out.append("\n\n")
        rows = side_by_side(kept.summary, current.summary)
        name_w = max(len(n) for n, _, _ in rows)
        a_w = max(8, *(len(a) for _, a, _ in rows))
        out.append(" " * name_w + "  " + "A".rjust(a_w) + "  " + "B".rjust(8) + "\n", "bold")
        for name, a, b in rows:
            out.append(name.ljust(name_w) + "  ")
            out.append(a.rjust(a_w) + "  ", style="")
            out.append(b.rjust(8), style="bold" if a != b else "")
            out.append("\n")
        out.rstrip()
        return out
    res = current or kept
    assert res is not None
    out.append("A " if res is kept else "", style="bold")
    out.append_text(result_line(res, name(res)))
    out.append("\n\n")
    rows = summary_rows(res.summary)
    name_w = max(len(n) for n, _ in rows)
    for name, value in rows:
        out.append(name.ljust(name_w) + "  ")
        out.append(value.rjust(8) + "\n", style="bold")
    if res is not kept:
        out.append("a keeps this as A to compare it with the next attack", style="dim")
    out.rstrip()
    return out


def recipe_view(info: P.RecipeInfo | None) -> Text:
    """A recipe, what it does and its settings (shown before anything is attacked)."""
    if info is None:
        return Text("no recipe yet: the engine lists them", style="dim")
    out = Text(f"{info.name}: {info.title}", style="bold")
    out.append(
        f" ({info.kind}{', needs gradients' if info.needs_gradients else ''})\n", style="dim"
    )
    out.append(info.description + "\n")
    for s in info.settings:
        bounds = ""
        if s.low is not None or s.high is not None:
            bounds = f" [{_bound(s.low)}, {_bound(s.high)}]"
        elif s.choices:
            bounds = " [" + "|".join(s.choices) + "]"
        out.append(f"  {s.name}={_show(s.default)}", style="bold")
        out.append(f"{bounds} {s.help}\n", style="dim")
    out.append(
        "r changes the recipe, o edits the settings, / attacks a text, b a split", style="dim"
    )
    return out


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def example_cells(i: int, ex: P.AttackExample) -> tuple[str | Text, ...]:
    """One row of the examples table."""
    text = " ".join(ex.perturbed_text.split())
    outputs = f"{ex.original_output[:8]}→{ex.perturbed_output[:8]}"
    result = Text(ex.result_type[:4], style=RESULT_STYLE.get(ex.result_type, ""))
    return (str(i + 1), result, outputs, f"{ex.num_queries:,}", text[:160])


def trace_cells(step: P.AttackStep) -> tuple[str, ...]:
    p = max(step.probabilities) if step.probabilities else 0.0
    return (
        str(step.step),
        f"{step.loss:.4f}",
        step.label,
        f"{p:.3f}",
        f"{step.norm:.4f}",
        " ".join(step.snapped_text.split())[:160],
    )
