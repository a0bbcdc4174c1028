"""Batch prediction: every text of a file or of a dataset's split through a run's model, written
to a CSV or JSONL file, and scored (accuracy, macro-F1, the confusion matrix, the surest
mistakes) when the texts come with labels."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine import protocol as P
from engine.core.errors import EngineError
from engine.training.metrics import classification_scores

CHUNK = 512  # texts between two progress reports
MISTAKES = 100  # mistakes a result carries
FORMATS = (".csv", ".jsonl")


def check_out(out: str) -> Path:
    """The file a batch prediction writes: absolute, .csv or .jsonl, in a folder that exists,
    and not there yet (nothing is overwritten)."""
    path = Path(out).expanduser()
    if not path.is_absolute():
        raise EngineError(
            f"the output file '{out}' is relative, and the engine does not run in your folder",
            hint="give its full path",
        )
    if path.suffix.lower() not in FORMATS:
        raise EngineError(
            f"the output file '{path.name}' must end in .csv or .jsonl", hint="e.g. preds.csv"
        )
    if not path.parent.is_dir():
        raise EngineError(f"there is no folder {path.parent} to write {path.name} in")
    if path.exists():
        raise EngineError(
            f"{path} is already there; a batch prediction does not overwrite a file",
            hint="give a new name, or remove that file first",
            code="exists",
        )
    return path


def predict_in_chunks(
    predict: Callable[[list[str]], np.ndarray],
    texts: list[str],
    progress: Callable[[float, float, str], None],
) -> np.ndarray:
    """predict(texts) CHUNK texts at a time, with progress after each chunk."""
    parts = []
    for start in range(0, len(texts), CHUNK):
        parts.append(predict(texts[start : start + CHUNK]))
        done = min(start + CHUNK, len(texts))
        progress(done, len(texts), f"{done:,} of {len(texts):,} texts")
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def write_predictions(
    path: Path,
    rows: list[int],
    texts: list[str],
    labels: list[str | None] | None,
    proba: np.ndarray,
    names: list[str],
) -> None:
    """One line per text: its row, text, label (when labelled), the predicted label, its
    probability and every class's; written beside path and moved there whole (0600)."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            predicted = proba.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
            if path.suffix.lower() == ".csv":
                writer = csv.writer(fh)
                head = ["row", "text"] + (["label"] if labels is not None else [])
                writer.writerow([*head, "predicted", "probability", *(f"p_{n}" for n in names)])
                for i, text in enumerate(texts):
                    p = proba[i]
                    given = [labels[i] or ""] if labels is not None else []
                    writer.writerow(
                        [
                            rows[i],
                            text,
                            *given,
                            names[predicted[i]],
                            f"{p[predicted[i]]:.6f}",
                            *(f"{x:.6f}" for x in p),
                        ]
                    )
            else:
                for i, text in enumerate(texts):
                    p = proba[i]
                    line: dict[str, object] = {"row": rows[i], "text": text}
                    if labels is not None:
                        line["label"] = labels[i]
                    line["predicted"] = names[predicted[i]]
                    line["probability"] = float(p[predicted[i]])
                    line["probabilities"] = {n: float(x) for n, x in zip(names, p, strict=True)}
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def score(
    rows: list[int],
    texts: list[str],
    labels: list[str | None],
    proba: np.ndarray,
    names: list[str],
    max_chars: int = 400,
) -> dict[str, object]:
    """The scores of the labelled rows whose label the run knows, and the surest mistakes."""
    index = {n: i for i, n in enumerate(names)}
    known = [i for i, label in enumerate(labels) if label is not None and label in index]
    unknown = sum(1 for label in labels if label is not None and label not in index)
    if not known:
        return {"scored": 0, "unknown_labels": unknown}
    y_true = np.array([index[str(labels[i])] for i in known])
    y_pred = proba[known].argmax(axis=1)
    got = classification_scores(y_true, y_pred, len(names), names)
    wrong = sorted(
        (
            (float(proba[i, p]), i, int(p), int(t))
            for i, p, t in zip(known, y_pred, y_true, strict=True)
            if p != t
        ),
        reverse=True,
    )  # the surest mistakes first
    mistakes = [
        P.ExampleRow(
            index=rows[i],
            text=texts[i][:max_chars],
            label=names[t],
            predicted=names[p],
            probability=sure,
            true_probability=float(proba[i, t]),
        )
        for sure, i, p, t in wrong[:MISTAKES]
    ]
    return {
        "metrics": {"accuracy": got["accuracy"], "macro_f1": got["macro_f1"]},
        "confusion": got["confusion"],
        "per_class": {
            c["label"]: {k: float(c[k]) for k in ("precision", "recall", "f1", "support")}
            for c in got["per_class"]
        },
        "scored": len(known),
        "unknown_labels": unknown,
        "mistakes": mistakes,
    }


def disagreements(
    call: P.RunDisagree,
    dataset: str,
    rows: list[int],
    texts: list[str],
    labels: list[str | None],
    a: np.ndarray,
    b: np.ndarray,
    names: list[str],
    max_chars: int = 400,
) -> P.DisagreeResult:
    """Where runs A and B (their probabilities a and b over the same texts) pick different
    classes, the surest first; each run's accuracy on the labelled texts."""
    pa, pb = a.argmax(axis=1), b.argmax(axis=1)
    index = {n: i for i, n in enumerate(names)}
    known = [i for i, label in enumerate(labels) if label is not None and label in index]
    truth = np.array([index[str(labels[i])] for i in known], dtype=np.int64)

    def accuracy(pred: np.ndarray) -> float | None:
        return float((pred[known] == truth).mean()) if known else None

    differ = sorted(
        (int(i) for i in np.flatnonzero(pa != pb)),
        key=lambda i: -max(float(a[i, pa[i]]), float(b[i, pb[i]])),
    )
    return P.DisagreeResult(
        run_a=call.run_a,
        run_b=call.run_b,
        dataset=dataset,
        split=call.split,
        rows=len(texts),
        agreed=int((pa == pb).sum()),
        a_accuracy=accuracy(pa),
        b_accuracy=accuracy(pb),
        disagreements=[
            P.Disagreement(
                index=rows[i],
                text=texts[i][:max_chars],
                label=labels[i],
                a_label=names[int(pa[i])],
                a_probability=float(a[i, pa[i]]),
                b_label=names[int(pb[i])],
                b_probability=float(b[i, pb[i]]),
            )
            for i in differ[:MISTAKES]
        ],
    )
