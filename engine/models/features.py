"""Feature extraction: a frozen pretrained encoder turns texts into vectors ([CLS] or the masked
mean of the last hidden states), and scikit-learn's LogisticRegression classifies them.

This family is not trained by the generic trainer: nothing in it has gradients. Call fit(texts,
labels) instead; it encodes in batches under inference_mode and fits the regression. Afterwards
it answers like the other classifiers: called with input_ids and attention_mask from its own
tokenizer (tokenizer_path) it returns logits [B, C] (log-probabilities), and predict(texts) /
predict_proba(texts) work on raw texts. The fitted regression is a few arrays (head_tensors),
so it saves with safetensors, never pickle.

Embeddings door (engine.models.common), though this is no nn.Module: input_embeddings() is the
encoder's word embeddings, embed(ids) their rows, and forward_embeddings(embeds, mask) runs the
frozen encoder on them (inputs_embeds) and the fitted regression in torch, from its coef and
intercept: softmax(x W^T + b), or for scikit-learn's binary case (coef of shape (1, F)) the
sigmoid of the one score as the second class's probability. It returns log-probabilities as
__call__ does, equal to them to float rounding, and gradients reach embeds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from engine.core.errors import EngineError, JobContext, NullContext
from engine.models.common import check_choice, check_int
from engine.models.pretrained import TOKENIZER_FILE, load_pretrained, resolve_folder

POOLINGS = ("cls", "mean")


@dataclass
class FeaturesConfig:
    folder: str = ""  # a save_pretrained folder; "" is the bundled MiniLM
    pooling: Literal["cls", "mean"] = "mean"
    batch_size: int = 32  # texts per forward pass
    max_len: int = 256  # tokens read per text, specials included
    C: float = 1.0  # LogisticRegression's inverse regularisation strength
    max_iter: int = 1000

    def validate(self) -> None:
        """Raise EngineError naming the first field that cannot work."""
        if not isinstance(self.folder, str):
            raise EngineError(f"folder must be a path, got {self.folder!r}")
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("batch_size", self.batch_size)
        check_int("max_len", self.max_len, low=2)
        if isinstance(self.C, bool) or not isinstance(self.C, int | float) or self.C <= 0:
            raise EngineError(f"C must be a positive number, got {self.C!r}")
        check_int("max_iter", self.max_iter)
        resolve_folder(self.folder)


@dataclass
class FitReport:
    """What fit did: sizes, how well the regression fits its own training set, and time."""

    examples: int
    features: int
    classes: int
    train_accuracy: float
    iterations: int
    converged: bool
    seconds: float


class FeatureClassifier:
    """A frozen encoder plus a logistic regression: fit() trains it, not the generic trainer."""

    task = "classify"

    def __init__(
        self, config: FeaturesConfig, num_classes: int, encoder: Any, folder: Path
    ) -> None:
        from tokenizers import Tokenizer

        self.config = config
        self.num_classes = num_classes
        self.folder = folder
        self.tokenizer_path = folder / TOKENIZER_FILE
        self.encoder = encoder.eval().requires_grad_(False)
        self.max_len = min(
            config.max_len, int(getattr(encoder.config, "max_position_embeddings", 512))
        )
        self.tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        self.tokenizer.no_padding()  # batches are padded here, to their own longest text
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.pad_id = int(getattr(encoder.config, "pad_token_id", 0) or 0)
        self.classifier: Any = None  # a fitted sklearn LogisticRegression

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    def to(self, device: torch.device | str) -> FeatureClassifier:
        """Move the encoder (the regression runs on the CPU)."""
        self.encoder.to(device)
        return self

    def eval(self) -> FeatureClassifier:
        """Nothing to switch: the encoder always runs in eval mode. Kept for the common surface."""
        return self

    # --- features

    def features_from_ids(self, input_ids: Tensor, attention_mask: Tensor) -> np.ndarray:
        """Pooled last hidden states [B, hidden] of an encoded batch, float32."""
        with torch.inference_mode():
            ids = input_ids.to(self.device)
            mask = attention_mask.to(self.device)
            states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = self.pool(states.float(), mask)
        return pooled.cpu().numpy().astype(np.float32, copy=False)

    def pool(self, states: Tensor, attention_mask: Tensor) -> Tensor:
        """The features of last hidden states [B, T, hidden]: [CLS] or the masked mean."""
        if self.config.pooling == "cls":
            return states[:, 0]
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1)

    def features(self, texts: Sequence[str], context: JobContext | None = None) -> np.ndarray:
        """Pooled features [len(texts), hidden], batch_size texts at a time, shortest first;
        progress in texts and cancellation go through context."""
        context = context or NullContext()
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.config.batch_size):
            group = order[start : start + self.config.batch_size]
            width = max(len(encodings[i].ids) for i in group)
            ids = torch.full((len(group), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                n = len(encodings[i].ids)
                ids[row, :n] = torch.tensor(encodings[i].ids)
                mask[row, :n] = 1
            out[group] = self.features_from_ids(ids, mask)
            context.progress(start + len(group), len(texts), "encoding texts")
            context.check_cancelled()
        return out

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    # --- the regression

    def fit(
        self, texts: Sequence[str], labels: Sequence[int], context: JobContext | None = None
    ) -> FitReport:
        """Encode texts and fit the regression on labels (class ids 0 .. num_classes - 1).
        Encoding reports progress to context and stops with Cancelled when it says so."""
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels):
            raise EngineError(f"{len(texts)} texts but {len(labels)} labels")
        y = np.asarray(labels)
        if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= self.num_classes):
            raise EngineError(f"labels must be class ids from 0 to {self.num_classes - 1}")
        if len(np.unique(y)) < 2:
            raise EngineError(
                "fitting needs examples of at least two classes",
                hint="check the label column and the split",
                code="empty",
            )
        started = time.perf_counter()
        x = self.features(texts, context)
        classifier = LogisticRegression(C=float(self.config.C), max_iter=self.config.max_iter)
        classifier.fit(x, y)
        self.classifier = classifier
        iterations = int(np.max(classifier.n_iter_))
        return FitReport(
            examples=len(texts),
            features=x.shape[1],
            classes=self.num_classes,
            train_accuracy=float((classifier.predict(x) == y).mean()),
            iterations=iterations,
            converged=iterations < self.config.max_iter,
            seconds=time.perf_counter() - started,
        )

    def _fitted(self) -> Any:
        if self.classifier is None:
            raise EngineError("this feature classifier has not been fitted", hint="run fit first")
        return self.classifier

    def proba_of_features(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [n, num_classes]; classes absent from the fit get 0."""
        classifier = self._fitted()
        out = np.zeros((x.shape[0], self.num_classes), dtype=np.float64)
        out[:, classifier.classes_] = classifier.predict_proba(x)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities of each text [len(texts), num_classes]."""
        return self.proba_of_features(self.features(texts))

    def predict(self, texts: Sequence[str]) -> list[int]:
        """The most likely class id of each text."""
        return [int(i) for i in self.predict_proba(texts).argmax(axis=1)]

    def __call__(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Log-probabilities [B, C] of a batch from tokenizer_path: softmax gives them back."""
        proba = self.proba_of_features(self.features_from_ids(input_ids, attention_mask))
        logits = torch.from_numpy(np.log(np.clip(proba, 1e-12, None))).float()
        return logits.to(input_ids.device)

    forward = __call__

    # --- the embeddings door

    def input_embeddings(self) -> nn.Module:
        """The encoder's word embeddings (an nn.Embedding, frozen)."""
        table: nn.Module = self.encoder.get_input_embeddings()
        return table

    def embed(self, input_ids: Tensor) -> Tensor:
        """The word vectors [B, T, hidden] the encoder reads for input_ids (on its device),
        before its position embeddings, LayerNorm and dropout."""
        vectors: Tensor = self.input_embeddings()(input_ids.to(self.device))
        return vectors

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Log-probabilities [B, C] from word vectors [B, T, hidden], in torch end to end:
        the frozen encoder reads them as inputs_embeds, and the regression runs as
        log_proba_of_features does. On embeds' device."""
        mask = attention_mask.to(self.device)
        states = self.encoder(inputs_embeds=embeds.to(self.device), attention_mask=mask)
        features = self.pool(states.last_hidden_state.float(), mask)
        return self.log_proba_of_features(features).to(embeds.device)

    def log_proba_of_features(self, x: Tensor) -> Tensor:
        """log(class probabilities) [n, num_classes] of features x [n, hidden] (float32), from
        the fitted coef and intercept in float64 so that it matches proba_of_features:
        softmax(x W^T + b), or sigmoid for the binary case; classes absent from the fit get
        log(1e-12), as in __call__. Differentiable in x."""
        classifier = self._fitted()
        coef = torch.as_tensor(classifier.coef_, dtype=torch.float64, device=x.device)
        intercept = torch.as_tensor(classifier.intercept_, dtype=torch.float64, device=x.device)
        scores = x.double() @ coef.T + intercept
        if coef.shape[0] == 1:  # scikit-learn's binary case: one score, for classes_[1]
            second = torch.sigmoid(scores[:, 0])
            fitted = torch.stack([1 - second, second], dim=1)
        else:
            fitted = torch.softmax(scores, dim=1)
        classes = torch.as_tensor(classifier.classes_, dtype=torch.long, device=x.device)
        proba = fitted.new_zeros((x.shape[0], self.num_classes)).index_copy(1, classes, fitted)
        return torch.log(proba.clamp(min=1e-12)).float()

    def head_tensors(self) -> dict[str, Tensor]:
        """The fitted regression as tensors (coef, intercept, classes) for safetensors."""
        classifier = self._fitted()
        return {
            "coef": torch.from_numpy(np.ascontiguousarray(classifier.coef_)),
            "intercept": torch.from_numpy(np.ascontiguousarray(classifier.intercept_)),
            "classes": torch.from_numpy(np.asarray(classifier.classes_, dtype=np.int64)),
        }

    def load_head(self, tensors: dict[str, Tensor]) -> None:
        """Restore a regression saved by head_tensors."""
        from sklearn.linear_model import LogisticRegression

        classifier = LogisticRegression(C=float(self.config.C), max_iter=self.config.max_iter)
        classifier.coef_ = tensors["coef"].numpy()
        classifier.intercept_ = tensors["intercept"].numpy()
        classifier.classes_ = tensors["classes"].numpy()
        classifier.n_features_in_ = classifier.coef_.shape[1]
        if classifier.coef_.shape[1] != self.hidden_size:
            raise EngineError(
                f"the saved regression reads {classifier.coef_.shape[1]} features but the "
                f"encoder gives {self.hidden_size}"
            )
        self.classifier = classifier


def build(
    config: FeaturesConfig, vocab_size: int, num_classes: int, pad_id: int
) -> FeatureClassifier:
    """Load the frozen encoder; vocab_size and pad_id are the folder tokenizer's own."""
    from transformers import AutoModel

    folder = resolve_folder(config.folder)
    return FeatureClassifier(config, num_classes, load_pretrained(AutoModel, folder), folder)
