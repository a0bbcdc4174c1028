"""Classifying texts with a trained run: a few texts at once (the console, `workbench
predict`), or every text of a file or dataset split as a job (batch.py writes and scores it).
A run's model is loaded once and kept until the checkpoint it predicts with changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import protocol as P
from engine.core.errors import EngineError
from engine.core.jobs import Job
from engine.datasets.service import DatasetService
from engine.models import service as models
from engine.training import batch
from engine.training.config import RunConfig
from engine.training.runs import RunBook

MAX_PREDICT_TEXTS = 256  # texts one prediction call classifies (a batch job does more)
MAX_PREDICT_CHARS = 100_000  # characters of one text
MAX_EXPLAIN_TEXTS = 16  # texts one call explains (each costs up to hundreds of passes)
LIVE = ("running", "paused", "queued")  # a run that trains: it predicts with its latest


class Predictions:
    """Predictions of the training domain's runs; the service hands it what it reads."""

    def __init__(
        self,
        datasets: DatasetService,
        book: RunBook,
        config_of: Callable[[str], RunConfig],
        trained_run: Callable[[str, str], models.TrainedRun],
        checkpoint_of: Callable[[str, str], Path],
    ) -> None:
        self.datasets = datasets
        self.book = book
        self._config_of = config_of
        self.trained_run = trained_run
        self.checkpoint_of = checkpoint_of
        self._configs: dict[str, RunConfig] = {}  # a run's configuration does not change
        self._loaded: dict[str, models.TrainedModel] = {}  # run -> the model last loaded
        self._folders: dict[str, tuple[float, models.TrainedModel, int]] = {}  # path -> model

    def forget(self, run_id: str) -> None:
        self._loaded.pop(run_id, None)
        self._configs.pop(run_id, None)

    def config_of(self, run_id: str) -> RunConfig:
        """The run's configuration, read once (a prediction asks for it per call)."""
        if run_id not in self._configs:
            self._configs[run_id] = self._config_of(run_id)
        return self._configs[run_id]

    def predict(self, call: P.RunPredict) -> P.RunPredictResult:
        """Classify texts with the run's best checkpoint (while it trains: its latest complete
        one), loaded once and kept until that checkpoint changes."""
        if not 1 <= len(call.texts) <= MAX_PREDICT_TEXTS:
            raise EngineError(f"give 1 to {MAX_PREDICT_TEXTS} texts, not {len(call.texts):,}")
        longest = max(len(t) for t in call.texts)
        if longest > MAX_PREDICT_CHARS:
            raise EngineError(
                f"a text of {longest:,} characters is over the {MAX_PREDICT_CHARS:,} a "
                "prediction reads",
                hint="cut it, or predict a file as a batch",
            )
        empty = [i + 1 for i, t in enumerate(call.texts) if not t.strip()]
        if empty:
            raise EngineError(
                f"text {empty[0]} is empty: there is nothing to classify"
                + (f" ({len(empty)} texts are)" if len(empty) > 1 else "")
            )
        if call.explain and len(call.texts) > MAX_EXPLAIN_TEXTS:
            raise EngineError(
                f"explain up to {MAX_EXPLAIN_TEXTS} texts at a time, not {len(call.texts):,}",
                hint="explanations cost many forward passes: give fewer texts",
            )
        kept, max_length, which = self._model(call.run_id)
        explainer = self._explainer(kept, call) if call.explain else None
        predictions = models.predict_texts(kept, list(call.texts), max_length, explainer)
        return P.RunPredictResult(
            run_id=call.run_id,
            step=kept.step,
            checkpoint=which,
            labels=list(kept.run.labels),
            max_length=max_length,
            predictions=predictions,
        )

    def classifier(self, name: str) -> tuple[models.TrainedModel, int, str]:
        """What predicts for a run id or folder path (see _model): attacks read it too."""
        return self._model(name)

    def _model(self, name: str) -> tuple[models.TrainedModel, int, str]:
        """(the classifier a run id or a folder path names, the tokens it reads of a text,
        which weights: "best", "latest" while the run trains, or "folder")."""
        if models.is_folder_name(name):
            stamp = models.folder_stamp(Path(name))
            kept = self._folders.get(name)
            if kept is None or kept[0] != stamp:
                model, reads = models.load_folder(name)
                kept = (stamp, model, reads)
                self._folders = {name: kept}  # one folder model at a time: they are large
            return kept[1], kept[2], "folder"
        cfg = self.config_of(name)
        task = models.get_spec(cfg.arch).task
        if task != "classify":
            kind = "a language model" if task == "lm" else "a sequence-to-sequence model"
            raise EngineError(
                f"run {name} is {kind}: it predicts no labels",
                hint="generate with it (workbench generate)"
                if task == "lm"
                else "translate with it (workbench translate)",
            )
        live = self.book.info(name).state in LIVE
        return self._predictor(name, live), cfg.max_length, "latest" if live else "best"

    def _explainer(
        self, kept: models.TrainedModel, call: P.RunPredict
    ) -> Callable[[int, str, Any, int], P.Explanation]:
        """explain(index, text, encoding, predicted id) for predict_texts, checked first."""
        labels = list(kept.run.labels)
        models.check_explanation(call.explain, kept.model, kept.run.arch, call.steps)
        if call.target and call.target not in labels:
            raise EngineError(
                f"run {call.run_id} has no class '{call.target}'",
                hint="its classes: " + ", ".join(labels),
            )

        def one(_index: int, text: str, enc: Any, predicted: int) -> P.Explanation:
            target = labels.index(call.target) if call.target else predicted
            return models.explain(
                kept.model,
                kept.run.arch,
                enc.ids,
                enc.special_tokens_mask,
                enc.offsets,
                text,
                target,
                labels[target],
                call.explain,
                kept.run.pad_id,
                call.steps,
            )

        return one

    def _predictor(self, run_id: str, live: bool) -> models.TrainedModel:
        """The run's model to predict with: loaded once, again when its checkpoint changes
        (only the checkpoint's pointer is read per call, not the run's tokenizer)."""
        which = "latest" if live else "best"
        checkpoint = self.checkpoint_of(run_id, which)
        kept = self._loaded.get(run_id)
        if kept is None or kept.checkpoint != checkpoint:
            kept = models.load_trained(self.trained_run(run_id, which))
            self._loaded[run_id] = kept
        return kept

    def check_batch(self, call: P.RunPredictBatch) -> None:
        """Refuse a batch prediction before it becomes a job: the output file, the source,
        and a run that classifies."""
        batch.check_out(call.out)
        if bool(call.source) == bool(call.dataset):
            raise EngineError(
                "give a file (source) or a dataset with its split, not both or neither",
                hint="workbench predict --run ID --file texts.csv --out preds.csv",
            )
        if call.source and not Path(call.source).is_absolute():
            raise EngineError(
                f"the file '{call.source}' is relative, and the engine does not run in your folder",
                hint="give its full path",
            )
        if call.dataset and self.datasets.split_rows(call.dataset, call.split or None) == 0:
            raise EngineError(f"dataset '{call.dataset}' has no rows in split '{call.split}'")
        self._model(call.run_id)  # a classifier with weights to predict with

    def predict_batch(self, call: P.RunPredictBatch, job: Job) -> P.BatchPredictResult:
        """Every text of the file or split through the run's model into call.out; scored
        when the texts have labels."""
        out = batch.check_out(call.out)
        kept, max_length, _ = self._model(call.run_id)
        if call.source:
            texts, labels = self.datasets.read_file(
                call.source, call.format, call.text_column, call.label_column, job
            )
            rows = list(range(len(texts)))
        else:
            split = call.split or None
            texts = self.datasets.texts(call.dataset, split)
            given = self.datasets.labels(call.dataset, split)
            labels = given if any(v is not None for v in given) else None
            rows = self.datasets.split_indices(call.dataset, split)
        proba = batch.predict_in_chunks(
            lambda part: models.class_probabilities(
                kept, part, max_length, check=job.check_cancelled
            ),
            texts,
            job.progress,
        )
        names = list(kept.run.labels)
        job.progress(len(texts), len(texts), f"writing {out.name}")
        batch.write_predictions(out, rows, texts, labels, proba, names)
        scores = batch.score(rows, texts, labels, proba, names) if labels is not None else {}
        return P.BatchPredictResult(
            run_id=call.run_id,
            step=kept.step,
            rows=len(texts),
            out=str(out),
            labels=names,
            **scores,  # type: ignore[arg-type]
        )

    # --------------------------------------------------------------- two runs

    def _dataset_of(self, call: P.RunDisagree) -> str:
        if call.dataset:
            return call.dataset
        if models.is_folder_name(call.run_a):
            raise EngineError(
                "a folder has no dataset of its own", hint="name the dataset to compare over"
            )
        return self.config_of(call.run_a).dataset

    def check_disagree(self, call: P.RunDisagree) -> None:
        """Refuse a comparison before it becomes a job: two different classifier runs with
        checkpoints and the same classes, and a split with rows."""
        if call.run_a == call.run_b:
            raise EngineError("compare two different runs", hint="give another run as B")
        a = self._model(call.run_a)[0].run
        b = self._model(call.run_b)[0].run
        if list(a.labels) != list(b.labels):
            raise EngineError(
                f"runs {call.run_a} and {call.run_b} have different classes, so their labels "
                "cannot be compared",
                hint=f"A: {', '.join(a.labels)[:200]}; B: {', '.join(b.labels)[:200]}",
            )
        dataset = self._dataset_of(call)
        if self.datasets.split_rows(dataset, call.split or None) == 0:
            raise EngineError(f"dataset '{dataset}' has no rows in split '{call.split}'")

    def disagree(self, call: P.RunDisagree, job: Job) -> P.DisagreeResult:
        """Both runs over the split; the rows they label differently, surest first."""
        dataset = self._dataset_of(call)
        split = call.split or None
        texts = self.datasets.texts(dataset, split)
        given = self.datasets.labels(dataset, split)
        rows = self.datasets.split_indices(dataset, split)
        proba = []
        for n, run_id in enumerate((call.run_a, call.run_b)):
            kept, max_length, _ = self._model(run_id)

            def step(done: float, total: float, message: str = "", n: int = n) -> None:
                job.progress(n * total + done, 2 * total, message)

            proba.append(
                batch.predict_in_chunks(
                    lambda part, kept=kept, reads=max_length: models.class_probabilities(
                        kept, part, reads, check=job.check_cancelled
                    ),
                    texts,
                    step,
                )
            )
        names = list(kept.run.labels)
        return batch.disagreements(call, dataset, rows, texts, given, proba[0], proba[1], names)
