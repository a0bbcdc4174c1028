"""The monitor's keys that act on the selected run through the engine: pause and resume, stop,
checkpoint now, a new learning rate, resume from the last checkpoint, rename, delete (each
destructive one asks first, saying what is lost) and the run's whole configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from engine import protocol as P
from screens.training.dialogs import ConfigDialog, learning_rate_dialog, rename_dialog
from screens.training.model import RunHistory, best_text, scored_test_text
from workbench.engine.client import EngineError
from workbench.widgets.base import TabbedScreen
from workbench.widgets.confirm import ConfirmDialog


class RunControls(TabbedScreen):
    """The run controls of the training monitor (TrainingScreen), apart from its drawing: the
    state they read (runs, the selected run, its history) and the methods they call back
    (_fill_list, load_runs, load_history, _save_view, _best_step) are the monitor's."""

    runs: dict[str, P.RunInfo]
    selected: str | None
    marked: set[str]
    history: RunHistory
    configs: dict[str, str]
    _dirty: bool

    if TYPE_CHECKING:

        def _fill_list(self) -> None: ...
        def _save_view(self) -> None: ...
        def _best_step(self) -> int | None: ...
        def load_runs(self) -> object: ...
        def load_history(self, run_id: str) -> object: ...

    @work(group="tr-control", exit_on_error=False)
    async def control(self, action: str, lr: float | None = None) -> None:
        if self.selected is None:
            return
        try:
            res = await self.shell.ask(
                P.RunControl(run_id=self.selected, action=action, lr=lr)  # type: ignore[arg-type]
            )
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs[res.run.run_id] = res.run
        self._fill_list()
        self.refresh_bindings()

    def action_pause(self) -> None:
        self.control("pause")

    def action_unpause(self) -> None:
        self.control("resume")

    def action_stop(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        lost = (
            f"{run.name} stops after this batch (step {run.step:,} of {run.total_steps:,}). "
            "The steps since its last checkpoint are not saved (c saves one now); u resumes "
            "from that checkpoint and trains them again. A stopped run is not scored on its "
            "test split."
        )
        if run.state == "queued":
            lost = f"{run.name} is queued: it will not start."

        def chosen(yes: bool | None) -> None:
            if yes:
                self.control("stop")

        self.app.push_screen(ConfirmDialog(f"Stop run {run.name}?", lost, yes="stop"), chosen)

    def action_checkpoint(self) -> None:
        self.control("checkpoint")

    def action_change_lr(self) -> None:
        if self.selected is None:
            return

        def chosen(value: str | None) -> None:
            if value is None:
                return
            try:
                lr = float(value)
            except ValueError:
                self.notify(f"'{value}' is not a learning rate", severity="warning")
                return
            self.control("set_lr", lr)

        self.app.push_screen(learning_rate_dialog(self.history.last(self.selected, "lr")), chosen)

    @work(group="tr-resume", exit_on_error=False)
    async def action_resume_run(self) -> None:
        if self.selected is None:
            return
        try:
            res = await self.shell.ask(P.RunResume(run_id=self.selected))
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs[res.run.run_id] = res.run
        self.notify(f"resuming {res.run.name} from its last checkpoint")
        self.load_history(res.run.run_id)
        self._fill_list()

    def action_rename(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return

        def chosen(name: str | None) -> None:
            if name is not None and name.strip() and name.strip() != run.name:
                self.rename(run.run_id, name)

        self.app.push_screen(rename_dialog(run), chosen)

    @work(group="tr-rename", exit_on_error=False)
    async def rename(self, run_id: str, name: str) -> None:
        try:
            res = await self.shell.ask(P.RunRename(run_id=run_id, name=name))
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.runs[run_id] = res.run
        self._fill_list()
        self._dirty = True

    def action_delete(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        evals = len(self.history.evals.get(run.run_id, []))
        test = f", its test score ({scored_test_text(run)})" if run.test else ""
        lost = (
            f"{run.name} ({run.run_id}): its checkpoints and trained model, "
            f"{run.step:,} steps of metrics, {evals:,} evaluations{test} and its folder. "
            "This cannot be undone."
        )

        def chosen(yes: bool | None) -> None:
            if yes:
                self.delete(run.run_id)

        self.app.push_screen(ConfirmDialog(f"Delete run {run.name}?", lost), chosen)

    @work(group="tr-delete", exit_on_error=False)
    async def delete(self, run_id: str) -> None:
        try:
            res = await self.shell.ask(P.RunDelete(run_id=run_id))
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(res.message)
        self.runs.pop(run_id, None)
        self.history.forget(run_id)
        self.marked.discard(run_id)
        if self.selected == run_id:
            self.selected = None
        self._save_view()
        self.load_runs()

    def action_config(self) -> None:
        run = self.runs.get(self.selected or "")
        if run is None:
            return
        about = " · ".join(
            x
            for x in (
                run.summary,
                best_text(run, self._best_step()),
                scored_test_text(run),
                f"{run.arch} on {run.dataset}",
                f"trainable {run.trainable:,} · frozen {run.frozen:,}" if run.trainable else "",
            )
            if x
        )
        self.app.push_screen(ConfigDialog(run, self.configs.get(run.run_id, ""), about))
