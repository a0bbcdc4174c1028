"""The monitor's head: the watched run's state, step and epoch; its best validation score and
test score; its ETA, time trained, wall time and latest notice; the bar of its epoch with the
learning rate, speed and device beside it. Redrawn only when what it shows changed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from engine import protocol as P
from screens.training.model import best_text, epoch_progress, fmt_epoch, fmt_eta, fmt_value
from screens.training.runs import STATE_STYLE
from workbench.widgets.series import fmt_duration


def run_line(
    run: P.RunInfo,
    eta: float | None = None,
    best_step: int | None = None,
    wall: float | None = None,
) -> Text:
    """Three lines: name, state, step and epoch; the best validation score and the test score;
    the ETA (while it trains), time trained, wall time and the run's latest notice."""
    total = f"/{run.total_steps:,}" if run.total_steps else ""
    test = run.test.get(run.metric)
    if test is None and run.test:
        test = next(iter(run.test.values()))
    parts = []
    if run.state == "running" and eta is not None:
        parts.append(f"ETA {fmt_eta(eta)}")
    parts += [
        f"trained {fmt_duration(run.active) if run.active else '-'}",
        f"wall {fmt_duration(wall)}",
    ]
    return Text.assemble(
        (run.name, "bold"),
        " ",
        (run.state, STATE_STYLE.get(run.state, "")),
        f" · step {run.step:,}{total} · epoch {fmt_epoch(run.epoch)}",
        "\n",
        (best_text(run, best_step), "bold"),
        f" · test {fmt_value(test)}" if test is not None else " · test -",
        "\n",
        " · ".join(parts),
        (f" · {run.message}" if run.message else "", "dim"),
    )


def speed_line(run: P.RunInfo, last: dict[str, float | None], device: P.DeviceInfo | None) -> str:
    """Learning rate, samples and tokens a second, the device and its memory."""
    lr, sps, tps = last.get("lr"), last.get("samples_per_s"), last.get("tokens_per_s")
    mem = f"{device.memory_used / 2**30:.1f}/{device.memory_total / 2**30:.1f}G" if device else "-"
    util = f" {device.utilisation:.0f}%" if device and device.utilisation is not None else ""
    parts = []
    if lr is not None:
        parts.append(f"lr {lr:.2e}")
    if sps:
        parts.append(f"{sps:,.0f} samples/s")
    if tps:
        parts.append(f"{tps:,.0f} tok/s")
    parts.append(f"{run.device or 'device'} {mem}{util}")
    return " · ".join(parts)


class RunStats(Vertical):
    """#tr-stats over the epoch bar (#tr-epoch, #tr-progress) and #tr-speed."""

    DEFAULT_CSS = "RunStats { height: auto; }"

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._shown: tuple[str, str, int, float] | None = None

    def compose(self) -> ComposeResult:
        yield Static("no run selected: start one with `workbench train CONFIG.toml`", id="tr-stats")
        with Horizontal(id="tr-epoch-row"):
            yield Label("epoch", id="tr-epoch")
            # a total from the start: without one the bar animates, writing while idle
            yield ProgressBar(total=1.0, id="tr-progress", show_eta=False)
            yield Static("", id="tr-speed")

    def show(self, text: Text, speed: str, run: P.RunInfo) -> None:
        # the bar is the current epoch's progress; the text above has the whole run's
        epoch, done = epoch_progress(run)
        shown = (text.markup, speed, epoch, round(done, 3))
        if shown == self._shown:
            return  # nothing changed: nothing drawn
        self._shown = shown
        self.query_one("#tr-stats", Static).update(text)
        self.query_one("#tr-epoch", Label).update(f"in epoch {epoch}")
        self.query_one("#tr-progress", ProgressBar).update(total=1.0, progress=done)
        self.query_one("#tr-speed", Static).update(Text(speed, style="dim"))
