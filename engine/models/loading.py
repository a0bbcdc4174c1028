"""A trained model back from its run folder: the one way to get one, for prediction, attacks,
export and a run's embedding table as vectors.

The run says what to rebuild (architecture, settings, tokenizer, class names) and which
checkpoint holds the weights (its best, else its last complete one: the training domain, which
writes checkpoints, picks it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import protocol as P
from engine.core.errors import EngineError
from engine.models.registry import (
    ArchSpec,
    Model,
    build_model,
    config_from_dict,
    get_spec,
    token_table,
)


@dataclass(frozen=True)
class TrainedRun:
    """What rebuilds a run's model: its folder, architecture and settings, the tokenizer its
    ids come from (with its padding id), and the class names in id order ([] for an LM)."""

    run_id: str
    folder: Path
    checkpoint: Path  # the ckpt-<step> folder to load
    arch: str
    params: Mapping[str, Any]  # the [model] table, arch and vectors left out
    tokenizer: Any  # a tokenizers.Tokenizer
    pad_id: int
    labels: list[str]
    description: str  # "run ID (arch on dataset)"
    truncation: Any = None  # how a long text is read (engine.models.truncation); None: head


@dataclass(frozen=True)
class TrainedModel:
    """A run's model with trained weights, in eval mode, on the CPU."""

    run: TrainedRun
    model: Model
    spec: ArchSpec
    checkpoint: Path
    step: int


def load_trained(run: TrainedRun) -> TrainedModel:
    """Rebuild the run's model and load its checkpoint's weights."""
    from safetensors.torch import load_model

    spec = get_spec(run.arch)
    ckpt = run.checkpoint
    config = config_from_dict(run.arch, run.params)
    model = build_model(
        run.arch,
        config,
        vocab_size=run.tokenizer.get_vocab_size(),
        num_classes=len(run.labels),
        pad_id=run.pad_id,
    )
    try:
        if spec.trained_by == "fit":  # a fitted regression's tensors, not a state dict
            from safetensors.torch import load_file

            model.load_head(load_file(str(ckpt / "model.safetensors")))  # type: ignore[union-attr]
        else:
            load_model(model, str(ckpt / "model.safetensors"))  # type: ignore[arg-type]
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise EngineError(
            f"checkpoint {ckpt.name} of {run.description} does not fit its model: {exc}",
            hint="the run's settings or tokenizer changed since it was trained",
        ) from None
    model.eval()
    step = int(ckpt.name.removeprefix("ckpt-")) if ckpt.name.startswith("ckpt-") else 0
    return TrainedModel(run, model, spec, ckpt, step)


def class_probabilities(
    trained: TrainedModel,
    texts: list[str],
    max_length: int = 256,
    batch_size: int = 64,
    check: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """Each text's class probabilities [len(texts), classes] from a trained classifier, in
    batches of alike lengths on the CPU; check() runs between batches (it raises to stop)."""

    model = trained.model
    if trained.spec.task != "classify":
        raise EngineError(f"{trained.run.description} is a language model, not a classifier")
    if trained.spec.trained_by == "fit":
        return np.asarray(model.predict_proba(texts), dtype=np.float64)  # type: ignore[union-attr]
    limit = read_limit(trained, max_length)
    reads = [read(trained, e, limit) for e in trained.run.tokenizer.encode_batch_fast(texts)]
    return pooled_probabilities(trained, reads, batch_size, check)


def positions(trained: TrainedModel, encoding: Any, limit: int) -> list[list[int]]:
    """The positions of an encoded text the model reads: one list, or one per window."""
    how = trained.run.truncation
    if how is None or len(encoding.ids) <= limit:
        return [list(range(min(len(encoding.ids), limit)))]
    picked: list[list[int]] = how.pick(encoding.special_tokens_mask, limit)
    return picked


def read(trained: TrainedModel, encoding: Any, limit: int) -> list[list[int]]:
    """The ids the model reads of an encoded text: one list, or one per window."""
    ids = encoding.ids
    return [[ids[i] for i in window] for window in positions(trained, encoding, limit)]


def pooled_probabilities(
    trained: TrainedModel,
    reads: list[list[list[int]]],
    batch_size: int = 64,
    check: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """Probabilities of texts read as one or more windows of ids each: a text of several is
    the softmax of its windows' logits pooled (mean or max, the run's truncation)."""
    flat: list[list[int]] = []
    owner: list[int] = []
    for text, windows in enumerate(reads):
        for window in windows:
            flat.append(window)
            owner.append(text)
    logits = logits_of_ids(trained, flat, batch_size, check)
    if len(flat) == len(reads):
        return _softmax(logits)
    pool = getattr(trained.run.truncation, "pool", "mean")
    out = np.zeros((len(reads), logits.shape[1]), dtype=np.float64)
    at = np.asarray(owner)
    for text in range(len(reads)):
        mine = logits[at == text]
        out[text] = mine.max(axis=0) if pool == "max" else mine.mean(axis=0)
    return _softmax(out)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def probabilities_of_ids(
    trained: TrainedModel,
    encoded: list[list[int]],
    batch_size: int = 64,
    check: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """class_probabilities of texts already encoded (and cut) as token ids."""
    return _softmax(logits_of_ids(trained, encoded, batch_size, check))


def logits_of_ids(
    trained: TrainedModel,
    encoded: list[list[int]],
    batch_size: int = 64,
    check: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """The classifier's logits [len(encoded), classes] for texts encoded as token ids, in
    batches of alike lengths."""
    import torch

    model = trained.model
    out = np.zeros((len(encoded), len(trained.run.labels)), dtype=np.float64)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            check()
            group = order[start : start + batch_size]
            width = max(1, max(len(encoded[i]) for i in group))
            ids = torch.full((len(group), width), trained.run.pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                n = len(encoded[i])
                ids[row, :n] = torch.tensor(encoded[i], dtype=torch.long)
                mask[row, :n] = 1
            mask[:, 0] = 1  # an empty text still has one (padding) position to read
            logits = model(ids, mask)
            out[group] = logits.float().numpy()[:, : out.shape[1]]
    return out


def read_limit(trained: TrainedModel, max_length: int) -> int:
    """Tokens a trained network reads of a text: the run's max_length, or fewer when the model
    has room for fewer positions."""
    room = int(getattr(getattr(trained.model, "config", None), "max_len", 0) or 10**9)
    return min(max_length, room)


def predict_texts(
    trained: TrainedModel,
    texts: list[str],
    max_length: int,
    explain: Callable[[int, str, Any, int], P.Explanation] | None = None,
) -> list[P.Prediction]:
    """Each text's class probabilities with the tokens the model read and where each one is in
    the text, and whether the text was cut to fit; each text encoded once. explain(index, text,
    encoding cut to what the model read, predicted class id), when given, explains each."""
    fit = trained.spec.trained_by == "fit"  # a fitted head reads its encoder's own tokens
    tokenizer = (
        getattr(trained.model, "tokenizer", None) if fit else None
    ) or trained.run.tokenizer
    limit = 10**9 if fit else read_limit(trained, max_length)
    encodings = tokenizer.encode_batch(texts)
    picked = [positions(trained, e, limit) for e in encodings] if not fit else []
    if fit:
        proba = np.asarray(trained.model.predict_proba(texts), dtype=np.float64)  # type: ignore[union-attr]
    else:
        ids = [
            [[e.ids[i] for i in w] for w in windows]
            for e, windows in zip(encodings, picked, strict=True)
        ]
        proba = pooled_probabilities(trained, ids)
    labels = trained.run.labels
    out = []
    for i, (p, enc) in enumerate(zip(proba, encodings, strict=True)):
        whole = len(enc.ids) + sum(len(o.ids) for o in enc.overflowing)
        n = min(len(enc.ids), limit)
        if not fit and picked[i] != [list(range(n))]:  # tail, head+tail or windows
            n = len({p for window in picked[i] for p in window})  # every window's, together
            enc = ReadPart(enc, picked[i][0])  # shown and explained: the (first) window
        elif n < len(enc.ids):
            enc.truncate(n)
        out.append(
            P.Prediction(
                label=labels[int(p.argmax())],
                probabilities=[float(x) for x in p],
                tokens=list(enc.tokens),
                spans=[(int(a), int(b)) for a, b in enc.offsets],
                token_count=whole,
                truncated=whole > n,
                explanation=explain(i, texts[i], enc, int(p.argmax())) if explain else None,
            )
        )
    return out


class ReadPart:
    """The positions of an encoding that a model read (tail, head+tail, every window's),
    with what the prediction console and the explainers read of an encoding."""

    def __init__(self, encoding: Any, keep: list[int]) -> None:
        self.ids = [encoding.ids[i] for i in keep]
        self.tokens = [encoding.tokens[i] for i in keep]
        self.offsets = [encoding.offsets[i] for i in keep]
        self.special_tokens_mask = [encoding.special_tokens_mask[i] for i in keep]
        self.attention_mask = [1] * len(keep)


def embedding_table(trained: TrainedModel) -> tuple[list[str], np.ndarray]:
    """(the tokenizer's tokens in id order, the trained input embedding matrix): the model's
    token table through its embeddings door (registry.token_table)."""
    layer = token_table(trained.spec, trained.model)
    if layer is None:
        raise EngineError(
            f"a {trained.run.arch} model has no embedding table of its own",
            hint="pretrained models use MiniLM's: the minilm-input source",
        )
    vocab = trained.run.tokenizer.get_vocab()
    words = [""] * len(vocab)
    for token, i in vocab.items():
        if i < len(words):
            words[i] = token
    matrix = layer.weight.detach().float().cpu().numpy()[: len(words)]
    return words[: len(matrix)], matrix


def export_trained(trained: TrainedModel, path: str) -> str:
    """The checkpoint as a folder: a Hugging Face one (pipeline() loads it) for fine-tuned
    BERT-family models; weights, run config, tokenizer and labels otherwise."""
    out = Path(path).expanduser().resolve()
    if out.exists() and any(out.iterdir()):
        raise EngineError(f"{out} exists and is not empty", hint="choose a new folder")
    run, ckpt = trained.run, trained.checkpoint
    if run.arch == "bert-finetune":
        from engine.models.pretrained import export

        export(trained.model, out, labels=run.labels)  # type: ignore[arg-type]
        return (
            f"exported {ckpt.name} to {out}; load it with "
            f"pipeline('text-classification', model='{out}')"
        )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ckpt / "model.safetensors", out / "model.safetensors")
    shutil.copy2(run.folder / "config.toml", out / "config.toml")
    run.tokenizer.save(str(out / "tokenizer.json"))
    (out / "labels.txt").write_text("\n".join(run.labels) + "\n", encoding="utf-8")
    return f"exported {ckpt.name} to {out} (weights, config, tokenizer, labels)"
