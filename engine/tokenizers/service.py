"""The tokenizer registry: built-ins, trained and added tokenizers, and the calls that use them;
what other domains call to get a tokenizer and its padding id.

A saved tokenizer is a folder under data_dir/tokenizers/NAME holding tokenizer.json and
meta.json, written in a temporary folder, renamed into place, then registered in the store.
Loaded tokenizers are shared between threads and never reconfigured after loading.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from tokenizers import Tokenizer

from engine import protocol as P
from engine.core.catalog import Changes, LoadOnce, check_new_name, sweep_orphans
from engine.core.errors import EngineError, JobContext
from engine.core.store import Store, StoreError
from engine.paths import Home
from engine.tokenizers import build, encodings, sources, stats
from engine.tokenizers.encode import encode
from engine.tokenizers.specials import pad_token, unk_id

log = logging.getLogger("engine.tokenizers")
TALLY_CACHE = 8  # (tokenizer, dataset, split) token counts kept for instant re-stats
META_FILE = "meta.json"

TextsOf = Callable[[str, str | None], list[str]]


@dataclass(frozen=True)
class Loaded:
    tokenizer: Tokenizer
    unk_id: int | None
    stamp: float  # when it was saved (0 for built-ins): part of every cache key


class TokenizerService:
    """Lists, loads, trains, adds and deletes tokenizers, and answers the calls using them."""

    def __init__(self, home: Home, store: Store, texts_of: TextsOf, changes: Changes) -> None:
        self.home = home
        self.store = store
        self.texts_of = texts_of
        self.changes = changes
        self.dir = home.data_dir / "tokenizers"
        self._lock = threading.RLock()
        self._loaded: LoadOnce[str, Loaded] = LoadOnce()
        self._tallies: OrderedDict[tuple[object, ...], stats.TokenTally] = OrderedDict()
        self._vectorizers = encodings.VectorizerCache()
        self._sweep_temporary()

    def _sweep_temporary(self) -> None:
        registered = {Path(t["path"]).name for t in self.store.tokenizers()}
        sweep_orphans(self.dir, registered, "tokenizer")

    # ------------------------------------------------------------- listing

    def list(self) -> list[P.TokenizerInfo]:
        """Built-ins first (available or not), then saved ones, oldest first."""
        out = [
            sources.builtin_info(
                spec, found.tokenizer if (found := self._loaded.peek(name)) else None
            )
            for name, spec in sources.BUILTINS.items()
        ]
        saved = self.store.tokenizers()
        out += [_info_from_row(r) for r in saved if r["name"] not in sources.BUILTINS]
        return out

    def info(self, name: str) -> P.TokenizerInfo:
        spec = sources.BUILTINS.get(name)
        if spec is not None:
            loaded = self._loaded.peek(name)
            return sources.builtin_info(spec, loaded.tokenizer if loaded else None)
        row = self.store.tokenizer(name)
        if row is None:
            raise self._unknown(name)
        return _info_from_row(row)

    def _unknown(self, name: str) -> EngineError:
        names = [t.name for t in self.list()]
        return EngineError(
            f"no tokenizer named '{name}'",
            hint="tokenizers are: " + ", ".join(names),
            code="not_found",
        )

    # ------------------------------------------------------------- loading

    def get(self, name: str) -> Tokenizer:
        """The named tokenizer, loaded once and shared: encode with it, never reconfigure it."""
        return self._get(name).tokenizer

    def pad_id(self, name: str) -> int:
        """The id the named tokenizer pads with (0 when it has no padding token)."""
        return self.pad_id_of(self.get(name))

    @staticmethod
    def pad_id_of(tok: Tokenizer) -> int:
        """The id a tokenizer pads with (0 when it has no padding token)."""
        pad = pad_token(tok)
        return pad[1] if pad is not None else 0

    @staticmethod
    def pair_vocabulary(
        level: str, texts: list[str], specials: list[str], where: str, ctx: JobContext
    ) -> Tokenizer:
        """A sequence-to-sequence run's own vocabulary: a char or word WordLevel tokenizer
        built from its training pairs' texts (sources and targets), specials first in their
        order, case kept (the targets' case is part of the task)."""
        req = P.TokenizerTrain(
            name="pairs",
            kind="char" if level == "char" else "word",
            dataset=where,
            split=None,
            vocab_size=200_000,
            specials=specials,
            lowercase=False,
            template="none",
        )
        return build.train_tokenizer(req, texts, ctx)

    def unk_id(self, name: str) -> int | None:
        """The id of the named tokenizer's unknown token; None when it has none (byte-level)."""
        return self._get(name).unk_id

    def _get(self, name: str) -> Loaded:
        return self._loaded.get(name, self._load)

    def _load(self, name: str) -> Loaded:
        spec = sources.BUILTINS.get(name)
        if spec is not None:
            tok = sources.load_builtin(spec)
            return Loaded(tok, unk_id(tok), 0.0)
        row = self.store.tokenizer(name)
        if row is None:
            raise self._unknown(name)
        path = Path(row["path"]) / sources.TOKENIZER_FILE
        try:
            tok = sources.plain(Tokenizer.from_file(str(path)))
        except Exception as exc:  # a missing or damaged file: say which and how to recover
            raise EngineError(
                f"tokenizer '{name}' cannot be read from {path}: {exc}",
                hint=f"delete it and train or add it again: workbench tokenizers delete {name}",
                code="not_found",
            ) from None
        return Loaded(tok, unk_id(tok), float(row["created"]))

    # ------------------------------------------------------------- changes

    def check_new_name(self, name: str) -> None:
        """Raise EngineError unless name is usable and free (built-ins included)."""
        check_new_name(
            "tokenizer",
            name,
            taken=name in sources.BUILTINS or self.store.tokenizer(name) is not None,
        )

    def train(self, req: P.TokenizerTrain, ctx: JobContext) -> P.TokenizerResult:
        """Train req.kind on the dataset's texts, save it and register it (a job)."""
        self.check_new_name(req.name)
        build.check_request(req)
        ctx.progress(0, 1, f"reading {build.where_of(req)}")
        texts = self.texts_of(req.dataset, req.split)
        tok = build.train_tokenizer(req, texts, ctx)
        info = P.TokenizerInfo(
            name=req.name,
            kind=req.kind,
            vocab_size=tok.get_vocab_size(with_added_tokens=True),
            specials=list(req.specials),
            source=f"{req.dataset}/{req.split}" if req.split else req.dataset,
            lowercase=req.lowercase,
            template=req.template,
            created=time.time(),
            description=f"{req.kind} tokenizer of {tok.get_vocab_size():,} tokens trained on "
            f"{len(texts):,} texts of {build.where_of(req)}, minimum frequency "
            f"{req.min_frequency}",
        )
        ctx.check_cancelled()
        return P.TokenizerResult(tokenizer=self._save(tok, info))

    def add(self, name: str, path: str) -> P.TokenizerResult:
        """Copy a tokenizer.json, or a Hugging Face tokenizer folder's, in under name."""
        self.check_new_name(name)
        tok, kind, source = sources.load_path(path)
        return P.TokenizerResult(
            tokenizer=self._save(tok, sources.path_info(name, tok, kind, source))
        )

    def _save(self, tok: Tokenizer, info: P.TokenizerInfo) -> P.TokenizerInfo:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            tok.save(str(tmp / sources.TOKENIZER_FILE))
            meta = {
                k: v
                for k, v in msgspec.to_builtins(info).items()
                if k in ("kind", "specials", "lowercase", "template", "source", "created")
            }
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            with self._lock:
                self.check_new_name(info.name)  # another train or add may have taken it
                final = self.dir / info.name
                if final.exists():  # an unregistered leftover: keep it aside, never overwrite
                    final.rename(final.with_name(f".orphan-{info.name}-{uuid.uuid4().hex[:8]}"))
                tmp.rename(final)
                try:
                    summary = msgspec.to_builtins(info)
                    self.store.add_tokenizer(info.name, info.kind, info.source, str(final), summary)
                except StoreError as exc:
                    shutil.rmtree(final, ignore_errors=True)
                    raise EngineError(str(exc), "choose another name", "exists") from None
            log.info("saved tokenizer %s (%s) in %s", info.name, info.kind, final)
            self.changes.added(info.name)
            return self.info(info.name)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def delete(self, name: str) -> None:
        """Remove a saved tokenizer and its folder; built-ins cannot be deleted."""
        if name in sources.BUILTINS:
            raise EngineError(
                f"'{name}' is built in and cannot be deleted",
                hint="uninstall its package to hide it",
            )
        row = self.store.tokenizer(name)
        if row is None:
            raise self._unknown(name)
        with self._lock:
            self._loaded.forget(name)
            self.store.delete_tokenizer(name)
            for key in [k for k in self._tallies if k[0] == name]:
                del self._tallies[key]
        shutil.rmtree(row["path"], ignore_errors=True)
        self.changes.deleted(name)

    def forget_dataset(self, name: str) -> None:
        """Drop what is cached about a dataset's texts (call when it is re-split or deleted)."""
        with self._lock:
            for key in [k for k in self._tallies if k[2] == name]:
                del self._tallies[key]
        self._vectorizers.forget(lambda key: isinstance(key, tuple) and key[:1] == (name,))

    # ------------------------------------------------------------- using

    def tokenize(self, req: P.Tokenize) -> P.TokenizeResult:
        """req.texts as the tokenizer encodes them (see engine.tokenizers.encode.encode)."""
        loaded = self._get(req.tokenizer)
        return encode(loaded.tokenizer, req, loaded.unk_id)

    def stats(self, req: P.TokenizerStats) -> P.TokenStatsResult:
        """Token statistics of a dataset; token counts are cached, so changing the batch size,
        max length, bins or top answers at once."""
        stats.check_request(req)
        loaded = self._get(req.tokenizer)
        with self._lock:
            tally = self._tallies.get(self._tally_key(req, loaded))
        if tally is None:
            texts = self.texts_of(req.dataset, req.split)
            if not texts:
                where = f"dataset '{req.dataset}'" + (f" split '{req.split}'" if req.split else "")
                raise EngineError(
                    f"{where} has no texts", hint="choose another split", code="empty"
                )
            tally = stats.count_tokens(loaded.tokenizer, texts, loaded.unk_id)
            with self._lock:  # keyed after reading: a built-in dataset is registered on first use
                self._tallies[self._tally_key(req, loaded)] = tally
                while len(self._tallies) > TALLY_CACHE:
                    self._tallies.popitem(last=False)
        return stats.summarise(tally, loaded.tokenizer, req)

    def _tally_key(self, req: P.TokenizerStats, loaded: Loaded) -> tuple[object, ...]:
        stamp = self._dataset_stamp(req.dataset)
        return (req.tokenizer, loaded.stamp, req.dataset, stamp, req.split)

    def encode(self, req: P.Encode) -> P.EncodeResult:
        """req.text as one-hot, bag-of-words or TF-IDF over the dataset's vocabulary."""
        encodings.check_request(req)
        key = (*encodings.cache_key(req), self._dataset_stamp(req.dataset))
        texts: list[str] | None = None
        if key[-1] is None and key not in self._vectorizers:
            # Reading a built-in dataset registers it: read first, so the key stays stable.
            texts = self.texts_of(req.dataset, req.split)
            key = (*encodings.cache_key(req), self._dataset_stamp(req.dataset))
        source = texts if texts is not None else lambda: self.texts_of(req.dataset, req.split)
        return encodings.encode_text(source, req, self._vectorizers, key)

    def _dataset_stamp(self, name: str) -> object:
        """What changes when a dataset is replaced or re-split (None: not in the store)."""
        row = self.store.dataset(name)
        if row is None:
            return None
        return (row["created"], json.dumps(row["summary"].get("splits", {}), sort_keys=True))


def builtin_vocab(name: str) -> dict[str, int]:
    """A built-in tokenizer's vocabulary (a pretrained model reads ids with it)."""
    return dict(sources.load_builtin(sources.BUILTINS[name]).get_vocab())


def _info_from_row(row: dict[str, object]) -> P.TokenizerInfo:
    summary = row.get("summary")
    try:
        info = msgspec.convert(summary, P.TokenizerInfo)
    except msgspec.ValidationError:  # an older or damaged summary: what the row itself says
        info = P.TokenizerInfo(
            name=str(row["name"]), kind=str(row["kind"]), vocab_size=0, source=str(row["source"])
        )
    info.name = str(row["name"])
    info.created = float(row["created"])  # type: ignore[arg-type]
    return info
