"""The stored form: info, paging and filtering against a brute-force filter, rows, stats."""

from __future__ import annotations

import random
import re
import statistics
import time
from pathlib import Path

import pyarrow as pa
import pytest

from engine.core.errors import EngineError
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import DATA_FILE, Meta, StoredWriter, plan_columns
from engine.protocol import DatasetRows

WORDS = ["good", "bad", "Great", "film", "plot", "Élan", "café", "naïve", "x", "GOOD", "fun"]
LABELS = ["pos", "neg", "neutral", None]
SPLITS = ["train", "validation", "test", ""]


def make_dataset(
    folder: Path,
    texts: list[str],
    labels: list[str | None],
    splits: list[str],
    extras: dict[str, list[str]] | None = None,
    batch: int = 700,
) -> StoredDataset:
    """Write a stored dataset in several record batches (so the columns have many chunks)."""
    columns: dict[str, pa.Array] = {
        "text": pa.array(texts, pa.string()),
        "label": pa.array(labels, pa.string()),
        "split": pa.array(splits, pa.string()),
    }
    columns.update({k: pa.array(v, pa.string()) for k, v in (extras or {}).items()})
    table = pa.table(columns)
    plan = plan_columns(table.column_names, "text", "label", "split", "test data")
    with StoredWriter(folder, plan) as writer:
        for b in table.to_batches(max_chunksize=batch):
            writer.write(b)
    Meta(
        name="corpus",
        source="test",
        format="test",
        text_column="text",
        label_column="label",
        columns=plan.stored_extras,
    ).write(folder)
    return StoredDataset.open(folder)


def random_corpus(n: int, seed: int = 7) -> tuple[list[str], list[str | None], list[str]]:
    rng = random.Random(seed)
    texts = [
        ("  " if rng.random() < 0.1 else "")
        + " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
        for _ in range(n)
    ]
    labels = [rng.choice(LABELS) for _ in range(n)]
    splits = [rng.choice(SPLITS) for _ in range(n)]
    return texts, labels, splits


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoredDataset, dict[str, list]]:
    texts, labels, splits = random_corpus(3000)
    source = [f"s{i % 17}" for i in range(3000)]
    ds = make_dataset(tmp_path_factory.mktemp("corpus"), texts, labels, splits, {"source": source})
    return ds, {"text": texts, "label": labels, "split": splits, "source": source}


def brute(data: dict[str, list], search: str, regex: bool, label, split) -> list[int]:
    out = []
    for i, text in enumerate(data["text"]):
        if label is not None and data["label"][i] != label:
            continue
        if split is not None and data["split"][i] != split:
            continue
        if search:
            if regex:
                if not re.search(search, text, re.IGNORECASE):
                    continue
            elif search.lower() not in text.lower():
                continue
        out.append(i)
    return out


def test_info_counts_match_the_data(corpus) -> None:
    ds, data = corpus
    info = ds.info()
    assert info.rows == 3000
    expected = {k: data["label"].count(k) for k in ("pos", "neg", "neutral")}
    assert info.labels == expected
    assert list(info.labels.values()) == sorted(info.labels.values(), reverse=True)
    assert info.classes == 3
    assert info.splits == {s: data["split"].count(s) for s in ("train", "validation", "test")}
    assert info.columns == ["source"]
    assert (info.text_column, info.label_column, info.source) == ("text", "label", "test")


FILTERS = [
    ("", False, None, None),
    ("good", False, None, None),
    ("GOOD film", False, None, None),
    ("élan", False, None, None),
    ("café", False, "pos", None),
    ("", False, "neg", None),
    ("", False, None, "test"),
    ("", False, None, ""),
    ("", False, "nosuchlabel", None),
    (r"^\s*good\b", True, None, None),
    (r"(bad|fun) (plot|film)$", True, "neutral", "train"),
    ("plot", False, "pos", "validation"),
]


@pytest.mark.parametrize(("search", "regex", "label", "split"), FILTERS)
def test_pages_match_a_brute_force_filter(corpus, search, regex, label, split) -> None:
    ds, data = corpus
    want = brute(data, search, regex, label, split)
    seen: list[int] = []
    offset = 0
    while True:
        page = ds.rows(
            DatasetRows(
                name="corpus",
                offset=offset,
                limit=137,
                search=search,
                regex=regex,
                label=label,
                split=split,
                max_chars=0,
            )
        )
        assert page.total == len(want)
        assert page.offset == offset
        if not page.rows:
            break
        for row in page.rows:
            i = row.index
            assert row.text == data["text"][i]
            assert row.label == data["label"][i]
            assert row.split == data["split"][i]
            assert row.extra == {"source": data["source"][i]}
            assert row.text_len == len(data["text"][i])
        seen += [r.index for r in page.rows]
        offset += 137
    assert seen == want


def test_texts_are_cut_to_max_chars_in_characters(tmp_path: Path) -> None:
    texts = ["naïve café über", "short", ""]
    ds = make_dataset(tmp_path, texts, ["a", "b", "a"], ["", "", ""])
    page = ds.rows(DatasetRows(name="corpus", max_chars=4))
    assert [r.text for r in page.rows] == ["naïv", "shor", ""]
    assert [r.text_len for r in page.rows] == [15, 5, 0]
    assert ds.row(0).text == texts[0]


def test_page_past_the_end_is_empty(corpus) -> None:
    ds, _ = corpus
    page = ds.rows(DatasetRows(name="corpus", offset=5000, limit=10))
    assert page.total == 3000
    assert page.rows == []


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, -5), (0, 10_001)])
def test_bad_page_arguments(corpus, offset: int, limit: int) -> None:
    ds, _ = corpus
    with pytest.raises(EngineError) as err:
        ds.rows(DatasetRows(name="corpus", offset=offset, limit=limit))
    assert err.value.code == "bad_input"
    assert str(offset if offset < 0 else limit) in err.value.message.replace(",", "")


def test_bad_regex_says_why(corpus) -> None:
    ds, _ = corpus
    with pytest.raises(EngineError) as err:
        ds.rows(DatasetRows(name="corpus", search="(good", regex=True))
    assert err.value.message.startswith("invalid regex '(good'")
    assert "missing )" in err.value.message
    assert "RE2" in err.value.hint


def test_row_gives_the_whole_text_and_refuses_out_of_range(corpus) -> None:
    ds, data = corpus
    row = ds.row(2999)
    assert (row.index, row.text, row.label) == (2999, data["text"][2999], data["label"][2999])
    for bad in (-1, 3000):
        with pytest.raises(EngineError) as err:
            ds.row(bad)
        assert err.value.code == "not_found"
        assert "rows are 0 to 2999" in err.value.message


def test_stats_against_brute_force(corpus) -> None:
    ds, data = corpus
    for split in (None, "train", ""):
        picked = [i for i in range(3000) if split is None or data["split"][i] == split]
        words = [len(data["text"][i].split()) for i in picked]
        chars = [len(data["text"][i]) for i in picked]
        stats = ds.stats(split, bins=7)
        assert stats.rows == len(picked)
        assert stats.split == split
        assert sum(stats.words.counts) == len(picked)
        assert len(stats.words.edges) == 8
        assert stats.words.mean == pytest.approx(statistics.mean(words))
        assert stats.words.median == pytest.approx(statistics.median(words))
        assert stats.characters.max == max(chars)
        assert stats.characters.unit == "characters"
        labels = [data["label"][i] for i in picked if data["label"][i]]
        assert stats.labels == {k: labels.count(k) for k in set(labels)}


def test_stats_refuses_bad_bins_and_missing_splits(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, ["a b", "c"], ["x", "y"], ["train", "train"])
    with pytest.raises(EngineError, match="bins must be between 1 and 1000"):
        ds.stats(None, bins=0)
    with pytest.raises(EngineError) as err:
        ds.stats("test")
    assert err.value.code == "empty"
    assert "train (2)" in err.value.hint
    with pytest.raises(EngineError, match="no split 'dev'"):
        ds.stats("dev")


def test_stored_file_loads_with_datasets(corpus) -> None:
    datasets = pytest.importorskip("datasets")
    ds, data = corpus
    hf = datasets.Dataset.from_file(str(ds.path / DATA_FILE))
    assert hf.column_names == ["text", "label", "split", "source"]
    assert hf.num_rows == 3000
    assert hf[10]["text"] == data["text"][10]


def test_open_reports_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        StoredDataset.open(tmp_path / "nope")
    assert err.value.code == "not_found"
    (tmp_path / "half").mkdir()
    with pytest.raises(EngineError, match=r"has no meta\.json"):
        StoredDataset.open(tmp_path / "half")


def test_filtered_page_is_fast_on_100k_rows(tmp_path: Path) -> None:
    texts, labels, splits = random_corpus(100_000, seed=3)
    ds = make_dataset(tmp_path, texts, labels, splits, batch=20_000)
    for req in (
        DatasetRows(name="corpus", limit=100),
        DatasetRows(name="corpus", limit=100, search="good film", label="pos"),
        DatasetRows(name="corpus", limit=100, search=r"fun\s+plot", regex=True, split="train"),
    ):
        total = ds.rows(req).total  # the first call filters; later pages reuse it
        assert total > 300
        times = []
        for k in range(15):
            started = time.perf_counter()
            page = ds.rows(DatasetRows(**{**_fields(req), "offset": (k * 97) % (total - 100)}))
            times.append(time.perf_counter() - started)
            assert len(page.rows) == 100
        assert statistics.median(times) < 0.02, times


def _fields(req: DatasetRows) -> dict:
    return {f: getattr(req, f) for f in req.__struct_fields__}
