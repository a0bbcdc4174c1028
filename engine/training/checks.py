"""Refusing a run configuration before any run exists: every check that needs no training.

Shared by starting a run and by the model builder's plan, so both say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.core.device import best_device
from engine.core.errors import EngineError
from engine.datasets.service import DatasetService
from engine.models import service as models
from engine.tokenizers.service import TokenizerService
from engine.training.config import RunConfig, TrainConfig, fitted_refusal

VectorTable = Callable[[str], Any]  # name -> a static table with .vector(word) and .dim


class ConfigChecks:
    """Checks a RunConfig against the datasets, tokenizers and vector sources there are."""

    def __init__(
        self, datasets: DatasetService, tokenizers: TokenizerService, vectors: VectorTable
    ) -> None:
        self.datasets = datasets
        self.tokenizers = tokenizers
        self.vectors = vectors

    def check(self, cfg: RunConfig) -> None:
        """EngineError for the first thing that cannot work."""
        spec = models.get_spec(cfg.arch)
        models.config_from_dict(cfg.arch, cfg.model)
        if spec.trained_by != "fit":
            TrainConfig.from_dict(cfg.train).validate(
                device_type=best_device().type,
                task=spec.task,
                has_validation=cfg.validation_split is not None,
            )
        else:
            refused = fitted_refusal(cfg.arch, cfg.train)
            if refused:
                raise EngineError(refused, hint="leave adversarial and robust_every out of [train]")
        for split in filter(None, (cfg.train_split, cfg.validation_split)):
            if self.datasets.split_rows(cfg.dataset, split) == 0:
                raise EngineError(
                    f"dataset '{cfg.dataset}' has no rows in split '{split}'",
                    hint="split it first: workbench datasets split " + cfg.dataset,
                )
        if spec.task == "seq2seq":
            self.check_pairs(cfg)
        else:
            self.check_tokenizer(cfg)
        if cfg.vectors is not None:
            if spec.pretrained_tokenizer or spec.trained_by == "fit":
                raise EngineError(f"{cfg.arch} cannot take static vectors for its embeddings")
            table = self.vectors(cfg.vectors)  # unknown or contextual source: a clear error
            width = getattr(models.config_from_dict(cfg.arch, cfg.model), "embed_dim", None)
            if width is not None and width != table.dim:
                raise EngineError(
                    f"{cfg.vectors} has {table.dim} dimensions but embed_dim is {width}",
                    hint=f"set embed_dim = {table.dim}",
                )

    def check_pairs(self, cfg: RunConfig) -> None:
        """A sequence-to-sequence run reads (source, target) pairs and builds its own
        vocabulary from them: a dataset with a target column, and no tokenizer named."""
        if cfg.tokenizer:
            raise EngineError(
                f"{cfg.arch} builds its own vocabulary from the pairs (model.level = char or "
                f"word); data.tokenizer ('{cfg.tokenizer}') is not used",
                hint="leave tokenizer out of [data]",
            )
        if not self.datasets.info(cfg.dataset).target_column:
            raise EngineError(
                f"dataset '{cfg.dataset}' has no target column: {cfg.arch} learns from "
                "(source, target) pairs",
                hint="import pairs with a target column (workbench datasets import ... --target "
                "COLUMN), or generate a task: workbench datasets generate dates",
            )

    def check_tokenizer(self, cfg: RunConfig) -> None:
        """The tokenizer must exist, and a pretrained model must read ids from its own one:
        another tokenizer's ids would index the wrong rows of its embedding table."""
        self.tokenizers.info(cfg.tokenizer)
        own = models.own_tokenizer_vocab(cfg.arch, cfg.model)
        if own is not None and self.tokenizers.get(cfg.tokenizer).get_vocab() != own:
            raise EngineError(
                f"{cfg.arch} reads ids with its model's own tokenizer; "
                f"'{cfg.tokenizer}' is a different one",
                hint="use minilm-wordpiece for the bundled MiniLM, or add the folder's "
                "tokenizer.json (workbench tokenizers add PATH) and use that",
            )
