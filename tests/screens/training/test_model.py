"""The monitor's history, plot settings and series selection, without Textual or an engine."""

from __future__ import annotations

import math

from engine import protocol as P
from screens.training.model import AXES, PLOTS, SMOOTHING, PlotSettings, RunHistory, epoch_progress


def run(**kw: object) -> P.RunInfo:
    base: dict[str, object] = dict(
        run_id="r1", name="tiny", arch="a", dataset="d", state="running", created=0.0
    )
    base.update(kw)
    return P.RunInfo(**base)  # type: ignore[arg-type]


def history(run_id: str = "r1", loss: list[float] | None = None) -> P.RunHistory:
    loss = loss if loss is not None else [3.0, 2.0, 1.0]
    return P.RunHistory(
        run=run(run_id=run_id),
        series={
            "train_loss": [(i, v) for i, v in enumerate(loss)],
            "epoch": [(i, i / 2) for i in range(len(loss))],
            "time": [(i, 100.0 + 60 * i) for i in range(len(loss))],
        },
        evals=[P.EvalReport(step=2, epoch=1.0, metrics={"accuracy": 0.5})],
        config_toml="",
    )


def point(run_id: str, step: int, value: float, series: str = "train_loss") -> P.MetricPoint:
    return P.MetricPoint(
        run_id=run_id, series=series, step=step, epoch=1.5, time=400.0, value=value
    )


def test_settings_cycle_and_describe_themselves() -> None:
    s = PlotSettings()
    for _ in PLOTS:
        s.cycle_plot()
    for _ in AXES:
        s.cycle_axis()
    assert (s.plot_index, s.axis) == (0, "step")
    s.cycle_smoothing()
    assert s.smoothing == SMOOTHING[2]
    s.toggle_log()
    assert s.describe(2) == "loss (v) · by step (a) · smoothing 0.9 (s) · log (g) · overlay 2 (o)"
    assert s.series_names == ["train_loss", "val_loss"]


def test_live_points_join_only_runs_whose_history_is_loaded() -> None:
    h = RunHistory()
    h.append([point("r1", 0, 9.0)])
    assert h.series == {}  # the history, when it comes, includes that point
    h.load("r1", history())
    h.append([point("r1", 3, 0.5), point("r1", 3, 0.01, series="lr")])
    assert h.points("r1", "train_loss")[-1] == (3, 0.5)
    assert (
        h.last("r1", "lr") == 0.01
        and h.last("r1", "nothing") is None
        and h.last(None, "lr") is None
    )
    assert h.x("r1", 3, "epoch") == 1.5


def test_evals_load_with_the_history_but_not_with_an_overlay() -> None:
    h = RunHistory()
    h.load("r2", history("r2"), evals=False)
    assert h.last_eval("r2") is None
    h.load("r1", history())
    h.add_eval("r1", P.EvalReport(step=4, epoch=2.0, metrics={}))
    last = h.last_eval("r1")
    assert last is not None and last.step == 4


def test_x_axis_is_step_epoch_or_minutes_since_the_start() -> None:
    h = RunHistory()
    h.load("r1", history())
    assert [h.x("r1", 2, axis) for axis in AXES] == [2.0, 1.0, 2.0]
    assert h.x("r1", 9, "epoch") == 9.0  # a step with no epoch recorded: the step


def test_lines_smooth_train_series_and_label_overlays_by_run_name() -> None:
    h = RunHistory()
    h.load("r1", history())
    h.load("r2", history("r2", loss=[5.0, 4.0]))
    flat = PlotSettings(smoothing=0.0)
    (only,) = h.lines(["r1"], {"r1": "tiny"}, flat, 70)
    assert only.label == "train_loss" and only.ys == [3.0, 2.0, 1.0]
    smooth = h.lines(["r1"], {"r1": "tiny"}, PlotSettings(smoothing=0.9), 70)[0]
    assert smooth.ys[0] == 3.0 and smooth.ys[-1] > 1.0
    both = h.lines(["r1", "r2"], {"r1": "tiny", "r2": "other"}, flat, 70)
    assert [line.label for line in both] == ["tiny:train_loss", "other:train_loss"]
    assert h.lines(["r1"], {}, PlotSettings(plot_index=2), 70) == []  # no macro F1 yet


def test_lines_are_thinned_and_log_scale_drops_what_it_cannot_draw() -> None:
    h = RunHistory()
    h.load("r1", history(loss=[float(i % 7) for i in range(10_000)] + [math.nan]))
    (line,) = h.lines(["r1"], {}, PlotSettings(smoothing=0.0), 50)
    assert len(line.xs) <= 100 and all(math.isfinite(y) for y in line.ys)
    (logged,) = h.lines(["r1"], {}, PlotSettings(smoothing=0.0, log_scale=True), 50)
    assert min(logged.ys) > 0


def test_epoch_bar_at_a_boundary_shows_the_epoch_just_finished() -> None:
    assert epoch_progress(run(state="running", step=5, epoch=0.25)) == (1, 0.25)
    assert epoch_progress(run(state="running", step=10, epoch=2.0)) == (2, 1.0)
    assert epoch_progress(run(state="finished", step=10, epoch=1.5)) == (1, 1.0)
    assert epoch_progress(run(state="queued")) == (1, 0.0)
