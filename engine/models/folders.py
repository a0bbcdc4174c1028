"""A classifier from a folder rather than a run: a Hugging Face sequence-classification folder
(what `workbench runs export` writes for a fine-tuned BERT-family run, or any local one with a
tokenizer.json), or the folder `runs export` writes for the other families (model.safetensors,
config.toml, tokenizer.json, labels.txt). Either comes back as a TrainedModel, so it predicts,
explains and predicts in batch as a run does. Local files only, never remote code."""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.core.errors import EngineError
from engine.models.loading import TrainedModel, TrainedRun, load_trained
from engine.models.pretrained import TOKENIZER_FILE, PretrainedClassifier, load_pretrained
from engine.models.registry import get_spec

MAX_CONFIG = 1 << 20  # bytes of a config.json / config.toml worth reading


def is_folder_name(name: str) -> bool:
    """Whether a model name is a folder path rather than a run id (ids have no slash)."""
    return "/" in name


def folder_stamp(folder: Path) -> float:
    """When the folder's weights last changed (a cached model is reloaded after)."""
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "config.toml"):
        if (folder / name).is_file():
            return (folder / name).stat().st_mtime
    return 0.0


def _tokenizer(folder: Path) -> tuple[object, int]:
    from tokenizers import Tokenizer

    path = folder / TOKENIZER_FILE
    if not path.is_file():
        raise EngineError(
            f"{folder} has no {TOKENIZER_FILE}, so its texts cannot be tokenized",
            hint="save the tokenizer with the model (a fast tokenizer writes tokenizer.json)",
        )
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()  # batches are padded to their own longest text
    tok.no_truncation()  # the model's own limit cuts, and says so
    pad = next(
        (tok.token_to_id(t) for t in ("[PAD]", "<pad>", "<PAD>") if tok.token_to_id(t) is not None),
        0,
    )
    return tok, int(pad)


def _truncation(data: dict[str, object]) -> object:
    """How the exported run read long texts (None: the head)."""
    from engine.models.truncation import Truncation

    how = Truncation.from_data(dict(data))
    return None if how.how == "head" else how


def _small_file(path: Path) -> str:
    if not path.is_file() or path.stat().st_size > MAX_CONFIG:
        raise EngineError(f"{path} is not a model configuration this engine reads")
    return path.read_text(encoding="utf-8")


def load_folder(name: str) -> tuple[TrainedModel, int]:
    """(the folder's classifier in eval mode, the tokens it reads of a text)."""
    folder = Path(name)
    if not folder.is_absolute():
        raise EngineError(
            f"the folder '{name}' is relative, and the engine does not run in your folder",
            hint="give its full path",
        )
    if not folder.is_dir():
        raise EngineError(f"there is no folder {folder}", code="not_found")
    if (folder / "config.json").is_file():
        return _hugging_face(folder)
    if (folder / "config.toml").is_file():
        return _exported_run(folder)
    raise EngineError(
        f"{folder} holds no model: it has no config.json (a Hugging Face folder) or config.toml "
        "(a folder `workbench runs export` wrote)",
        code="not_found",
    )


def _hugging_face(folder: Path) -> tuple[TrainedModel, int]:
    import json

    from transformers import AutoModelForSequenceClassification

    config = json.loads(_small_file(folder / "config.json"))
    tok, pad = _tokenizer(folder)
    try:
        hf = load_pretrained(AutoModelForSequenceClassification, folder)
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(
            f"{folder} does not load as a sequence classifier: {str(exc)[:300]}",
            hint="give a folder save_pretrained wrote for a ...ForSequenceClassification model",
        ) from None
    labels_of = hf.config.id2label or {}
    labels = [str(labels_of.get(i, f"LABEL_{i}")) for i in range(hf.config.num_labels)]
    model = PretrainedClassifier(hf, folder, pad).eval()
    run = TrainedRun(
        run_id=str(folder),
        folder=folder,
        checkpoint=folder,
        arch="bert-finetune",
        params={"folder": str(folder)},
        tokenizer=tok,
        pad_id=pad,
        labels=labels,
        description=f"the folder {folder} ({config.get('model_type', 'a model')})",
    )
    reads = int(getattr(hf.config, "max_position_embeddings", 512) or 512)
    return TrainedModel(run, model, get_spec("bert-finetune"), folder, 0), min(reads, 512)


def _exported_run(folder: Path) -> tuple[TrainedModel, int]:
    config = tomllib.loads(_small_file(folder / "config.toml"))
    model_table = dict(config.get("model", {}))
    arch = str(model_table.pop("arch", ""))
    model_table.pop("vectors", None)
    model_table.pop("freeze_vectors", None)
    labels_path = folder / "labels.txt"
    if not labels_path.is_file():
        raise EngineError(f"{folder} has no labels.txt naming its classes")
    labels = [line for line in _small_file(labels_path).splitlines() if line]
    tok, pad = _tokenizer(folder)
    run = TrainedRun(
        run_id=str(folder),
        folder=folder,
        checkpoint=folder,
        arch=arch,
        params=model_table,
        tokenizer=tok,
        pad_id=pad,
        labels=labels,
        description=f"the exported run in {folder} ({arch})",
        truncation=_truncation(config.get("data", {})),
    )
    if get_spec(arch).task != "classify":
        raise EngineError(f"{folder} holds a language model: it predicts no labels")
    reads = int(config.get("data", {}).get("max_length", 256))
    return load_trained(run), reads
