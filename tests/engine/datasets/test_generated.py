"""Generated pair tasks and pair imports: deterministic for a seed, correct pairs, the target
column stored and read per split, and the refusals a person can act on."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from engine import protocol as P
from engine.core.errors import EngineError, NullContext
from engine.datasets import generated
from engine.datasets.importer import import_source
from engine.datasets.service import DatasetService
from engine.datasets.stored import StoredDataset
from engine.protocol import DatasetImport
from tests.engine.datasets.conftest import Recorder

MONTH = {m.lower(): i + 1 for i, m in enumerate(generated.MONTHS)}
MONTH |= {m[:3].lower(): i + 1 for i, m in enumerate(generated.MONTHS)}


def parse_written(text: str) -> dt.date:
    """An independent reader of the eight written forms (two-digit years: 50-99 are 19xx)."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    numbers = [w for w in words if w.isdigit()]
    month = next((MONTH[w.lower()] for w in words if w.lower() in MONTH), None)
    if month is None:  # 03/04/98 or 3.4.98: day, month, year
        day, month, year = (int(n) for n in numbers)
    else:
        day, year = int(numbers[0]), int(numbers[1])
    if year < 100:
        year += 1900 if year >= 50 else 2000
    return dt.date(year, month, day)


def test_dates_are_iso_forms_of_the_written_date_and_repeat_for_a_seed() -> None:
    pairs = generated.dates(2000, seed=7)
    assert pairs == generated.dates(2000, seed=7)
    assert pairs != generated.dates(2000, seed=8)
    for written, iso in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso)
        assert parse_written(written) == dt.date.fromisoformat(iso), written
    forms = {re.sub(r"\d+", "9", w) for w, _ in pairs}
    assert len(forms) > 50  # eight forms, abbreviations, ordinals, short years
    years = {int(iso[:4]) for _, iso in pairs}
    assert min(years) >= 1950 and max(years) <= 2049


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (21, "twenty-one"),
        (100, "one hundred"),
        (101, "one hundred and one"),
        (1000, "one thousand"),
        (1005, "one thousand and five"),
        (4207, "four thousand two hundred and seven"),
        (999_999, "nine hundred and ninety-nine thousand nine hundred and ninety-nine"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert generated.number_words(n) == words
    assert generated.number_words(n, with_and=False) == words.replace(" and ", " ")


def test_number_pairs_repeat_for_a_seed_and_spread_over_sizes() -> None:
    pairs = generated.numbers(3000, seed=1)
    assert pairs == generated.numbers(3000, seed=1)
    values = [int(d) for _, d in pairs]
    for (words, _), v in zip(pairs, values, strict=True):
        assert words in (generated.number_words(v), generated.number_words(v, with_and=False))
    assert sum(v < 100 for v in values) > 500 and sum(v >= 10_000 for v in values) > 500


def pairs_file(tmp_path: Path, kind: str) -> Path:
    rows = [("3 March 1998", "1998-03-03", "train"), ("4 May 2001", "2001-05-04", "test")]
    rows.append(("1st of June 77", "1977-06-01", "validation"))
    path = tmp_path / f"pairs.{kind}"
    if kind == "jsonl":
        path.write_text(
            "".join(json.dumps({"src": s, "tgt": t, "split": p}) + "\n" for s, t, p in rows)
        )
    else:
        sep = "," if kind == "csv" else "\t"
        lines = [sep.join(("src", "tgt", "split"))] + [sep.join(r) for r in rows]
        path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl"])
def test_a_pair_file_keeps_its_target_column(tmp_path: Path, kind: str) -> None:
    dest = tmp_path / "stored"
    dest.mkdir()
    req = DatasetImport(
        source=str(pairs_file(tmp_path, kind)),
        name="pairs",
        text_column="src",
        target_column="tgt",
        split_column="split",
    )
    import_source(req, dest, NullContext())
    ds = StoredDataset.open(dest)
    assert ds.info().target_column == "tgt"
    assert ds.texts("train") == ["3 March 1998"] and ds.targets("train") == ["1998-03-03"]
    assert ds.targets() == ["1998-03-03", "2001-05-04", "1977-06-01"]
    assert ds.targets("validation") == ["1977-06-01"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tg", "has no column 'tg'"),
        ("src", "is given for two roles"),
        ("split", "is given for two roles"),
    ],
)
def test_a_bad_target_column_is_refused(tmp_path: Path, target: str, message: str) -> None:
    dest = tmp_path / "stored"
    dest.mkdir()
    req = DatasetImport(
        source=str(pairs_file(tmp_path, "csv")),
        name="pairs",
        text_column="src",
        target_column=target,
        split_column="split",
    )
    with pytest.raises(EngineError, match=message):
        import_source(req, dest, NullContext())


def test_targets_empty_in_every_row_are_refused_and_a_text_dataset_has_none(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("src,tgt\na,\nb, \n")
    dest = tmp_path / "stored"
    dest.mkdir()
    req = DatasetImport(source=str(path), name="e", text_column="src", target_column="tgt")
    with pytest.raises(EngineError, match=r"target column of empty\.csv is empty in every row"):
        import_source(req, dest, NullContext())
    path.write_text("src,tgt\na,x\nb,y\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    import_source(
        DatasetImport(source=str(path), name="p", text_column="src"), plain, NullContext()
    )
    with pytest.raises(EngineError, match="has no target column") as e:
        StoredDataset.open(plain).targets()
    assert "datasets generate dates" in e.value.hint


# ----------------------------------------------------------------- through the service


def test_generate_stores_the_pairs_split_and_announced(
    service: tuple[DatasetService, Recorder],
) -> None:
    svc, seen = service
    made = svc.generate(P.DatasetGenerate(task="dates", size=500, seed=4), NullContext())
    info = made.dataset
    assert info.name == "dates" and info.rows == 500 and info.target_column == "target"
    assert info.splits == {"train": 400, "validation": 50, "test": 50}
    assert info.empty_targets == 0 and info.classes == 0
    assert seen.events == [("dates", "added")]
    pairs = generated.dates(500, seed=4)
    assert sorted(zip(svc.texts("dates"), svc.targets("dates"), strict=True)) == sorted(pairs)
    test_pairs = list(zip(svc.texts("dates", "test"), svc.targets("dates", "test"), strict=True))
    assert len(test_pairs) == 50 and set(test_pairs) <= set(pairs)

    again = svc.generate(
        P.DatasetGenerate(task="dates", name="dates-again", size=500, seed=4), NullContext()
    )
    assert again.dataset.splits == info.splits
    assert svc.texts("dates-again", "test") == svc.texts("dates", "test")  # seeded split too
    assert svc.targets("dates-again", "validation") == svc.targets("dates", "validation")

    numbers = svc.generate(
        P.DatasetGenerate(task="number-words", size=100, seed=1, validation=0.2, test=0.0),
        NullContext(),
    ).dataset
    assert numbers.name == "number-words" and numbers.splits == {"train": 80, "validation": 20}
    assert svc.info("number-words").target_column == "target"  # from the registry's summary


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (P.DatasetGenerate(task="dates", size=9), "size must be 10 to 2,000,000 pairs"),
        (P.DatasetGenerate(task="dates", size=2_000_001), "size must be 10 to 2,000,000 pairs"),
        (P.DatasetGenerate(task="dates", validation=0.6, test=0.5), "leave no pairs for training"),
        (P.DatasetGenerate(task="dates", validation=-0.1), "must not be negative"),
    ],
)
def test_a_generation_that_cannot_be_made_is_refused(
    service: tuple[DatasetService, Recorder], call: P.DatasetGenerate, message: str
) -> None:
    svc, seen = service
    with pytest.raises(EngineError, match=message):
        svc.check_generate(call)
    assert seen.events == [] and svc.store.datasets() == []


def test_generate_refuses_a_taken_name_and_targets_needs_a_target_column(
    service: tuple[DatasetService, Recorder], tmp_path: Path
) -> None:
    svc, _ = service
    svc.generate(P.DatasetGenerate(task="number-words", size=20), NullContext())
    with pytest.raises(EngineError, match="already exists"):
        svc.check_generate(P.DatasetGenerate(task="number-words", size=20))
    with pytest.raises(EngineError, match="already exists"):
        svc.generate(P.DatasetGenerate(task="dates", name="number-words"), NullContext())
    path = tmp_path / "plain.csv"
    path.write_text("text,label\na,x\nb,y\n")
    svc.import_(P.DatasetImport(source=str(path), name="plain", text_column="text"), NullContext())
    with pytest.raises(EngineError, match="dataset 'plain' has no target column") as e:
        svc.targets("plain")
    assert "--target COLUMN" in e.value.hint and "datasets generate dates" in e.value.hint


def test_empty_targets_are_counted_at_import(
    service: tuple[DatasetService, Recorder], tmp_path: Path
) -> None:
    svc, _ = service
    path = tmp_path / "pairs.tsv"
    path.write_text("src\ttgt\none\t1\ntwo\t \nthree\t\nfour\t4\n")
    call = P.DatasetImport(source=str(path), name="pairs", text_column="src", target_column="tgt")
    info = svc.import_(call, NullContext()).dataset
    assert info.target_column == "tgt" and info.empty_targets == 2
    assert svc.info("pairs").empty_targets == 2  # kept in the registry's summary
    assert svc.targets("pairs") == ["1", " ", "", "4"]
