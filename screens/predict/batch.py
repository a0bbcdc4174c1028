"""The prediction console's batch tab: a split of model A's dataset predicted into a file as a
job (its scores and surest mistakes to browse), or where models A and B disagree over it; enter
on a row predicts its text. A base of PredictScreen, which holds the state it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.widgets import DataTable, Static

from engine import protocol as P
from screens.predict.model import batch_summary, disagreement_summary
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen


def free_name(folder: Path, stem: str) -> Path:
    """folder/stem.csv, or stem-2.csv, stem-3.csv ... when it is taken."""
    path, n = folder / f"{stem}.csv", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.csv"
    return path


class BatchTab(TabbedScreen):
    """The batch tab's actions; the screen sets runs, model_a, model_b, options, batch,
    disagreement, shows_disagreement, listed, job_id and _ended, and gives _predict_text
    (enter on a row predicts its text)."""

    runs: list[P.RunInfo]
    model_a: str
    model_b: str
    options: Any
    batch: P.BatchPredictResult | None
    disagreement: P.DisagreeResult | None
    shows_disagreement: bool
    listed: list[str]
    job_id: str | None
    _ended: P.JobEnded | None

    def _show_batch_head(self) -> None:
        run = next((r for r in self.runs if r.run_id == self.model_a), None)
        head = self.query_one("#pr-batch-head", Static)
        where = f"{run.dataset}'s {self.options.split} split" if run else "a split"
        line = Text(f"p predicts {where} with model A into a file, d compares A with B there")
        line.append("; s changes the split\n")
        if self.job_id:
            job = self.shell.link_state.jobs.get(self.job_id)
            done = f" {job.done:,.0f} of {job.total:,.0f}" if job and job.total else ""
            line.append(f"predicting…{done}", style="yellow")
        elif self.disagreement is not None and self.shows_disagreement:
            line.append_text(disagreement_summary(self.disagreement))
        elif self.batch is not None:
            line.append_text(batch_summary(self.batch))
        head.update(line)

    def action_cycle_split(self) -> None:
        self.options.cycle_split()
        self._show_batch_head()

    def action_batch(self) -> None:
        from workbench.widgets.path_dialog import PathDialog, for_engine, path_machine

        run = next((r for r in self.runs if r.run_id == self.model_a), None)
        if run is None:
            return
        if self.job_id:
            self.notify("a batch prediction is running already", timeout=3)
            return
        state = self.shell.link_state  # the engine writes the file, on its machine
        stem = f"predictions-{run.run_id}-{self.options.split}"
        # a free name in this folder only when this is the engine's machine; elsewhere the
        # engine says whether its file exists (it never overwrites one)
        default = "" if state.remote else str(free_name(Path.cwd(), stem))

        def check(path: str) -> str | None:
            target = Path(path).expanduser()
            if target.suffix.lower() not in (".csv", ".jsonl"):
                return "the file must end in .csv or .jsonl"
            if not state.remote and target.exists():
                return f"{target} exists: choose a new file (nothing is overwritten)"
            return None

        def chosen(path: str | None) -> None:
            if path:
                self.start_batch(run, for_engine(state, path))

        dialog = PathDialog(
            "Predict into the file",
            default,
            check,
            where=path_machine(state, "engine"),
            placeholder=f"/full/path/{stem}.csv",
        )
        self.app.push_screen(dialog, chosen)

    def action_disagree(self) -> None:
        run = next((r for r in self.runs if r.run_id == self.model_a), None)
        if run is None or not self.model_b:
            return
        if self.job_id:
            self.notify("a batch job is running already", timeout=3)
            return
        call = P.RunDisagree(
            run_a=run.run_id, run_b=self.model_b, dataset=run.dataset, split=self.options.split
        )
        self.start_job(call)

    def start_batch(self, run: P.RunInfo, out: str) -> None:
        call = P.RunPredictBatch(
            run_id=run.run_id, out=out, dataset=run.dataset, split=self.options.split
        )
        self.start_job(call)

    @work(exclusive=True, group="pr-batch", exit_on_error=False)
    async def start_job(self, call: P.RunPredictBatch | P.RunDisagree) -> None:
        try:
            started = await self.shell.ask(call)
        except EngineError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.job_id = started.job_id
        self._show_batch_head()
        ended, self._ended = self._ended, None
        if ended is not None and ended.job.job_id == started.job_id:
            self._job_ended(ended)

    def _job_ended(self, event: P.JobEnded) -> None:
        gen = self.generation
        if gen is not None and event.job.job_id == gen.job_id:
            if event.error is not None:
                gen.error = event.error.message
            elif isinstance(event.result, P.GenerateResult):
                gen.finish(event.result)
            self._show_lm()
            self.refresh_bindings()
            return
        if self.job_id is None:
            self._ended = event  # it may end before the call that started it answers
            return
        if event.job.job_id != self.job_id:
            return
        self.job_id = None
        if event.error is not None:
            self.notify(event.error.message, severity="error", timeout=8)
        elif isinstance(event.result, P.BatchPredictResult):
            self.batch, self.shows_disagreement = event.result, False
            self._show_mistakes()
        elif isinstance(event.result, P.DisagreeResult):
            self.disagreement, self.shows_disagreement = event.result, True
            self._show_mistakes()
        self._show_batch_head()

    def _show_progress(self) -> None:
        if self.job_id and self.active_tab == "batch":
            self._show_batch_head()

    def _show_mistakes(self) -> None:
        """The batch's surest mistakes, or the texts A and B label differently."""
        table = self.query_one("#pr-mistakes", DataTable)
        table.clear(columns=True)
        self.listed = []
        if self.shows_disagreement and self.disagreement is not None:
            table.add_columns("row", "label", "A", "B", "text")
            for d in self.disagreement.disagreements:
                table.add_row(
                    f"{d.index:,}",
                    d.label or "",
                    f"{d.a_label} {d.a_probability:.2f}",
                    f"{d.b_label} {d.b_probability:.2f}",
                    " ".join(d.text.split())[:120],
                )
                self.listed.append(d.text)
            return
        table.add_columns("row", "label", "predicted", "p", "text")
        for m in self.batch.mistakes if self.batch else []:
            text = " ".join(m.text.split())
            table.add_row(f"{m.index:,}", m.label, m.predicted, f"{m.probability:.3f}", text[:120])
            self.listed.append(m.text)

    @on(DataTable.RowSelected, "#pr-mistakes")
    def _mistake_chosen(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row < len(self.listed):
            self._predict_text(self.listed[event.cursor_row])
