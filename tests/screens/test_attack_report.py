"""The attack tables and files shared by the CLI and the attack screen (no engine): TextAttack's
summary rows, two results side by side, the CSV in TextAttack's log columns, changed spans
marked; and the screen's options typed in one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from engine import protocol as P
from screens.attack.model import OLD, AttackOptions, example_view, marked, summary_view
from workbench.attack_report import (
    COLUMNS,
    csv_row,
    mark_changes,
    side_by_side,
    summary_rows,
    table_lines,
    write_csv,
)

SUMMARY = P.AttackSummary(
    examples=4,
    successful=2,
    failed=1,
    skipped=1,
    original_accuracy=75.0,
    accuracy_under_attack=25.0,
    attack_success_rate=66.66666,
    avg_perturbed_word_pct=12.5,
    avg_words_per_input=6.25,
    avg_queries=31.333,
    seconds_per_example=0.0123,
)


def example(result: str = "Successful", **kw: object) -> P.AttackExample:
    base: dict[str, object] = {
        "row": 3,
        "ground_truth_output": "pos",
        "original_text": 'a great, "fine" film',
        "perturbed_text": 'a grxat, "fine" film',
        "original_output": "pos",
        "perturbed_output": "neg",
        "original_score": 0.1,
        "perturbed_score": 0.7,
        "num_queries": 17,
        "result_type": result,
        "original_probabilities": [0.1, 0.9],
        "perturbed_probabilities": [0.7, 0.3],
        "changes": [P.TextChange(start=2, end=7, new_start=2, new_end=7, old="great", new="grxat")],
        "words": 4,
        "perturbed_words": 1,
    }
    base.update(kw)
    return P.AttackExample(**base)  # type: ignore[arg-type]


def result(summary: P.AttackSummary = SUMMARY) -> P.AttackResult:
    return P.AttackResult(
        run_id="r1",
        description="run r1 (embedding-bag on three)",
        recipe="charedit",
        settings={},
        labels=["neg", "pos"],
        summary=summary,
        examples=[example(), example("Skipped", perturbed_text='a great, "fine" film', changes=[])],
        dataset="three",
        split="test",
    )


def test_summary_rows_are_textattack_s_table() -> None:
    rows = dict(summary_rows(SUMMARY))
    assert rows["Number of successful attacks:"] == "2"
    assert rows["Number of failed attacks:"] == "1"
    assert rows["Number of skipped attacks:"] == "1"
    assert rows["Original accuracy:"] == "75.0%"
    assert rows["Accuracy under attack:"] == "25.0%"
    assert rows["Attack success rate:"] == "66.67%"
    assert rows["Average perturbed word %:"] == "12.5%"
    assert rows["Average num. words per input:"] == "6.25"
    assert rows["Avg num queries:"] == "31.33"
    assert rows["Seconds per example:"] == "0.012"
    assert "Epsilon:" not in rows  # only for embedding-space attacks
    pgd = summary_rows(
        P.AttackSummary(
            **{
                **{f: getattr(SUMMARY, f) for f in SUMMARY.__struct_fields__},
                "epsilon": 0.5,
                "norm": "inf",
                "embedding_flip_rate": 80.0,
                "snapped_flip_rate": 40.0,
            }
        )
    )
    tail = dict(pgd)
    assert tail["Epsilon:"] == "0.5" and tail["Norm:"] == "L-inf"
    assert tail["Flip rate in embedding space:"] == "80.0%"
    assert tail["Flip rate after snapping:"] == "40.0%"


def test_side_by_side_aligns_rows_by_name() -> None:
    other = P.AttackSummary(**{**{f: getattr(SUMMARY, f) for f in SUMMARY.__struct_fields__}})
    other.successful, other.epsilon = 0, 0.1
    rows = side_by_side(SUMMARY, other)
    assert rows[0] == ("Number of successful attacks:", "2", "0")
    assert rows[-1] == ("Epsilon:", "", "0.1")
    lines = table_lines([list(r) for r in rows], ["", "A", "B"])
    assert lines[0].startswith("+-") and len({len(line) for line in lines}) == 1


def test_marks_wrap_changed_spans() -> None:
    assert mark_changes("a great film", [(2, 7)]) == "a [[great]] film"
    assert mark_changes("abcdef", [(3, 5), (0, 1), (4, 6)]) == "[[a]]bc[[def]]"
    assert mark_changes("abc", []) == "abc"
    text = marked("a great film", [(2, 7)], OLD)
    assert text.plain == "a [[great]] film"


def test_csv_has_textattack_s_columns_and_rows(tmp_path: Path) -> None:
    res = result()
    path = tmp_path / "log.csv"
    assert write_csv(res, path) == 2
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert (
        tuple(rows[0])
        == COLUMNS
        == (
            "ground_truth_output",
            "num_queries",
            "original_output",
            "original_score",
            "original_text",
            "perturbed_output",
            "perturbed_score",
            "perturbed_text",
            "result_type",
        )
    )
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["perturbed_text"] == 'a grxat, "fine" film'
    assert first["num_queries"] == "17" and float(first["perturbed_score"]) == 0.7
    assert first["result_type"] == "Successful" and rows[2][-1] == "Skipped"
    assert '"a great, ""fine"" film","neg",0.7' in path.read_text()  # strings quoted
    assert csv_row(res.examples[0], markers=True)[7] == 'a [[grxat]], "fine" film'


def test_options_typed_in_one_line() -> None:
    info = P.RecipeInfo(
        name="pgd",
        kind="embedding",
        title="PGD",
        description="",
        needs_gradients=True,
        settings=[
            P.RecipeSetting(name="epsilon", type="float", default=0.5, help="", low=0, high=10),
            P.RecipeSetting(name="norm", type="str", default="inf", help="", choices=["inf", "2"]),
            P.RecipeSetting(name="steps", type="int", default=10, help=""),
        ],
    )
    opts = AttackOptions(recipe="pgd")
    assert "epsilon=0.5" in opts.entry(info) and "budget= " in opts.entry(info)
    opts.apply("n=5 split=validation epsilon=1.5 norm=2 steps=10 budget=0 target=pos", info)
    assert (opts.n, opts.split, opts.budget, opts.target) == (5, "validation", 0, "pos")
    assert opts.recipe_settings() == {"epsilon": 1.5, "norm": "2"}  # steps is its default
    call = opts.call("r1", ["r2"], None, False)
    assert (call.n, call.split, call.budget, call.ensemble) == (5, "validation", 0, ["r2"])
    assert call.settings == {"epsilon": 1.5, "norm": "2"} and not call.texts
    typed = opts.call("r1", [], "a text", True)
    assert typed.texts == ["a text"] and typed.trace and typed.labels == []
    opts.apply("budget= wild=3", info)
    assert opts.budget is None and opts.recipe_settings()["wild"] == 3  # the engine refuses
    with pytest.raises(ValueError, match="n must be a whole number"):
        opts.apply("n=many", info)
    with pytest.raises(ValueError, match="name=value"):
        opts.apply("epsilon", info)
    again = AttackOptions.from_state(opts.to_state())
    assert again == opts


def test_views_show_both_predictions_and_the_summaries() -> None:
    import io

    from rich.console import Console

    def plain(renderable: object) -> str:
        console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
        console.print(renderable)
        return console.export_text()

    res = result()
    view = plain(example_view(res, res.examples[0]))
    assert "Successful" in view and "17 queries" in view
    assert "a [[great]]" in view and "a [[grxat]]" in view
    assert "90.0%" in view and "70.0%" in view
    kept = result()
    both = plain(summary_view(res, kept))
    assert "A run r1" in both and "B run r1" in both and "66.67%" in both
