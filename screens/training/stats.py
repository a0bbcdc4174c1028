"""The monitor's head: the selected run's state, step, ETA, speed and device, and the bar of
its current epoch."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from engine import protocol as P
from screens.training.model import epoch_progress
from screens.training.runs import STATE_STYLE
from workbench.widgets.series import eta_seconds, fmt_duration


def run_line(run: P.RunInfo, last: dict[str, float | None], device: P.DeviceInfo | None) -> Text:
    """Two lines: name, state, step and ETA; learning rate, speed, device and its memory."""
    lr, sps, tps = last.get("lr"), last.get("samples_per_s"), last.get("tokens_per_s")
    eta = eta_seconds(run.step, run.total_steps, last.get("steps_per_s") or 0.0)
    mem = f"{device.memory_used / 2**30:.1f}/{device.memory_total / 2**30:.1f}G" if device else "-"
    util = f" {device.utilisation:.0f}%" if device and device.utilisation is not None else ""
    return Text.assemble(
        (run.name, "bold"),
        " ",
        (run.state, STATE_STYLE.get(run.state, "")),
        f"  step {run.step:,}/{run.total_steps:,}",
        f"  ETA {fmt_duration(eta)}" if run.state in ("running", "paused") else "",
        "\n",
        f"lr {lr:.2e}  " if lr is not None else "",
        f"{sps:,.0f} samples/s  " if sps else "",
        f"{tps:,.0f} tok/s  " if tps else "",
        f"{run.device} {mem}{util}",
    )


class RunStats(Vertical):
    """#tr-stats over the epoch bar (#tr-epoch, #tr-progress)."""

    DEFAULT_CSS = "RunStats { height: auto; }"

    def compose(self) -> ComposeResult:
        yield Static("no run selected: start one with `workbench train CONFIG.toml`", id="tr-stats")
        with Horizontal(id="tr-epoch-row"):
            yield Label("epoch", id="tr-epoch")
            yield ProgressBar(id="tr-progress", show_eta=False)

    def show(
        self, run: P.RunInfo, last: dict[str, float | None], device: P.DeviceInfo | None
    ) -> None:
        self.query_one("#tr-stats", Static).update(run_line(run, last, device))
        # the bar is the current epoch's progress; the text above has the whole run's
        epoch, done = epoch_progress(run)
        self.query_one("#tr-epoch", Label).update(f"epoch {epoch}")
        self.query_one("#tr-progress", ProgressBar).update(total=1.0, progress=done)
