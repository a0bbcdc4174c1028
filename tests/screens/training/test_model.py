"""The monitor's logic without Textual or an engine: history, plot settings, what a plot draws
(whatever the data), the value readout, the runs table, durations, the ETA, class codes."""

from __future__ import annotations

import itertools
import math

import pytest
from textual_plotext.plot import Plot

from engine import protocol as P
from screens.training.matrix import SHADES, class_codes, matrix_layout, shade
from screens.training.model import (
    AXES,
    PLOTS,
    SMOOTHING,
    PlotSettings,
    RunHistory,
    best_eval,
    best_text,
    epoch_progress,
    fmt_epoch,
    fmt_eta,
    fmt_value,
    scored_test_text,
    smoothed_eta,
    split_names,
    trained_seconds,
    wall_seconds,
)
from screens.training.plots import apply_spec, legend
from screens.training.plotspec import cursor_stops, move_cursor, nice_ticks, plot_spec, readout
from screens.training.runtable import (
    COLUMNS,
    SORT_KEYS,
    column_title,
    matches,
    next_sort_key,
    run_cells,
    sort_runs,
    table_runs,
)
from screens.training.stats import run_line

NG20 = (
    "alt.atheism comp.graphics comp.os.ms-windows.misc comp.sys.ibm.pc.hardware "
    "comp.sys.mac.hardware comp.windows.x misc.forsale rec.autos rec.motorcycles "
    "rec.sport.baseball rec.sport.hockey sci.crypt sci.electronics sci.med sci.space "
    "soc.religion.christian talk.politics.guns talk.politics.mideast talk.politics.misc "
    "talk.religion.misc"
).split()


def run(**kw: object) -> P.RunInfo:
    base: dict[str, object] = dict(
        run_id="r1", name="tiny", arch="a", dataset="d", state="running", created=0.0
    )
    base.update(kw)
    return P.RunInfo(**base)  # type: ignore[arg-type]


def history(
    run_id: str = "r1",
    loss: list[float] | None = None,
    start: float = 1000.0,
    evals: list[P.EvalReport] | None = None,
) -> P.RunHistory:
    loss = loss if loss is not None else [3.0, 2.0, 1.0]
    steps = range(1, len(loss) + 1)
    return P.RunHistory(
        run=run(run_id=run_id),
        series={
            "train_loss": list(zip(steps, loss, strict=True)),
            "val_loss": [(s, v) for s, v in zip(steps, loss, strict=True) if s % 2 == 0],
            "epoch": [(s, s / 2) for s in steps],
        },
        evals=evals if evals is not None else [P.EvalReport(step=2, epoch=1.0, metrics={})],
        config_toml="",
        times=[(s, start + 60 * s) for s in steps],
    )


def point(run_id: str, step: int, value: float, series: str = "train_loss") -> P.MetricPoint:
    return P.MetricPoint(
        run_id=run_id, series=series, step=step, epoch=step / 2, time=2000.0 + step, value=value
    )


# --------------------------------------------------------------------- settings


def test_settings_cycle_describe_and_come_back_from_the_view_state() -> None:
    s = PlotSettings()
    for _ in PLOTS:
        s.cycle_plot()
    for _ in AXES:
        s.cycle_axis()
    assert (s.plot_index, s.axis) == (0, "step")
    s.cycle_smoothing()
    assert s.smoothing == SMOOTHING[2]
    s.toggle_log()
    assert s.describe(2) == "smoothing 0.9 · log · +2 runs"
    assert s.series_names == ["train_loss", "val_loss"]
    s.cycle_plot()
    s.cycle_axis()
    again = PlotSettings.from_state(s.to_state())
    assert again == s
    # a hand-edited or old file: every bad value falls back to the default
    bad = PlotSettings.from_state({"plot": "nope", "axis": 3, "smoothing": 0.5, "log": "yes"})
    assert bad == PlotSettings()


# --------------------------------------------------------------------- history


def test_live_points_join_only_runs_whose_history_is_loaded() -> None:
    h = RunHistory()
    h.append([point("r1", 0, 9.0)])
    assert h.series == {}  # the history, when it comes, includes that point
    h.load("r1", history())
    h.append([point("r1", 4, 0.5, "epoch"), point("r1", 4, 0.5), point("r1", 4, 0.01, "lr")])
    assert h.points("r1", "train_loss")[-1] == (4, 0.5)
    assert h.last("r1", "lr") == 0.01 and h.last("r1", "nothing") is None
    assert h.last(None, "lr") is None
    assert h.x("r1", 4, "epoch") == 2.0
    assert h.times["r1"][4] == 2004.0 and h.last_time("r1") == 2004.0


def test_live_points_that_came_before_their_history_join_it_once() -> None:
    """The engine reads a history, then sends it: the points stored in between may come
    first (to the old history, or none); the load keeps those past it, once."""
    h = RunHistory()
    h.load("r1", history(loss=[5.0, 4.0]))
    early = [
        point("r1", s, v, n)
        for s, v in ((2, 4.0), (3, 3.0), (4, 2.0))
        for n in ("epoch", "train_loss")
    ]
    h.append(early)
    h.load("r1", history(loss=[5.0, 4.0]), arrived=[*early, point("r2", 5, 1.0)])
    assert h.points("r1", "train_loss") == [(1, 5.0), (2, 4.0), (3, 3.0), (4, 2.0)]
    assert list(h.times["r1"]) == [1, 2, 3, 4] and h.epochs["r1"][4] == 2.0
    assert "r2" not in h.series
    h.load("r1", history(loss=[5.0, 4.0]))  # nothing arrived: exactly the history
    assert h.points("r1", "train_loss") == [(1, 5.0), (2, 4.0)]


def test_a_replayed_step_after_a_resume_replaces_what_came_after_it() -> None:
    h = RunHistory()
    h.load("r1", history(loss=[5.0, 4.0, 3.0, 2.0, 1.0]))
    # resumed from the checkpoint at step 2: steps 3.. arrive again
    h.append([point("r1", 3, 9.0, "epoch"), point("r1", 3, 9.0)])
    assert h.points("r1", "train_loss") == [(1, 5.0), (2, 4.0), (3, 9.0)]
    assert list(h.times["r1"]) == [1, 2, 3] and h.times["r1"][3] == 2003.0
    assert list(h.epochs["r1"]) == [1, 2, 3]


def test_evals_by_split_and_an_overlay_keeps_none() -> None:
    h = RunHistory()
    h.load("r2", history("r2"), evals=False)
    assert h.evals["r2"]  # a first load keeps them anyway
    h.load("r1", history())
    h.add_eval("r1", P.EvalReport(step=4, epoch=2.0, metrics={"accuracy": 0.7}))
    h.add_eval("r1", P.EvalReport(step=4, epoch=2.0, metrics={"accuracy": 0.8}, split="test"))
    h.add_eval("r1", P.EvalReport(step=4, epoch=2.0, metrics={"accuracy": 0.9}))  # again
    latest = h.last_eval("r1")
    assert latest is not None and latest.metrics == {"accuracy": 0.9}
    assert [e.step for e in h.evals["r1"] if e.split == "validation"] == [2, 4]
    tested = h.last_eval("r1", "test")
    assert tested is not None and tested.metrics == {"accuracy": 0.8}
    h.forget("r1")
    assert h.last_eval("r1") is None and "r1" not in h.series


def test_by_time_is_wall_seconds_since_the_first_point_with_gaps_kept() -> None:
    h = RunHistory()
    hist = history(loss=[4.0, 3.0, 2.0, 1.0])
    # a second session 10 minutes after the first ended
    hist.times[2:] = [(3, 3000.0), (4, 3060.0)]
    h.load("r1", hist)
    assert [h.x("r1", s, "time") for s in (1, 2, 3, 4)] == [0.0, 60.0, 1940.0, 2000.0]
    assert [h.x("r1", 2, axis) for axis in AXES] == [2.0, 1.0, 60.0]
    assert h.x("r1", 9, "epoch") is None and h.x("r1", 9, "time") is None
    spec = plot_spec(h, ["r1"], {}, PlotSettings(axis="time", smoothing=0.0), 70)
    (train, _val) = spec.lines
    assert train.xs == [0.0, 1.0, 1940 / 60, 2000 / 60]  # minutes: no pile at 0
    assert spec.xlabel == "wall time (min)"


# --------------------------------------------------------------------- what a plot draws


def _odd_histories() -> dict[str, list[float]]:
    return {
        "empty": [],
        "one point": [0.7],
        "nan and inf": [math.nan, math.inf, -math.inf],
        "some nan": [1.0, math.nan, 0.5, math.inf, 0.25],
        "negative": [-3.0, -2.0, -1.0],
        "zero and negative": [0.0, -1.0, 2.0],
        "flat": [0.5, 0.5, 0.5],
        "huge range": [1e-12, 1.0, 1e12],
        "long": [1.0 / (1 + i) for i in range(5000)],
    }


@pytest.mark.parametrize("case", list(_odd_histories()))
def test_every_plot_axis_and_scale_draws_whatever_the_data(case: str) -> None:
    """No plot state may crash the app: plotext builds every one (log included) of empty,
    one-point, NaN/inf, negative, flat and huge-range series, overlaid or not."""
    values = _odd_histories()[case]
    h = RunHistory()
    evals = [P.EvalReport(step=2, epoch=1.0, metrics={"loss": 0.5})] if len(values) > 1 else []
    h.load("r1", history(loss=values, evals=evals))
    h.load("r2", history("r2", loss=values[::-1]), evals=False)
    plt = Plot()
    plt.plotsize(60, 16)
    settings = PlotSettings()
    for _ in itertools.product(PLOTS, AXES, (False, True), SMOOTHING[:2]):
        for runs in (["r1"], ["r1", "r2"]):
            spec = plot_spec(h, runs, {"r1": "a", "r2": "b"}, settings, 50, 2, 1)
            apply_spec(plt, spec)
            assert isinstance(plt.build(), str)
            legend(spec)
            for line in spec.lines:
                assert all(math.isfinite(v) for v in line.xs + line.ys)
            if settings.log_scale and not spec.lines and values:
                assert "not drawn" in spec.note or settings.series_names[0] not in (
                    "train_loss",
                    "val_loss",
                )
            if settings.axis == "step":
                assert all(float(t).is_integer() for t in spec.xticks[0]), spec.xticks
            if h.points("r1", settings.series_names[0]) and len(runs) == 1:
                readout(h, runs, {}, settings, 1)
        settings.smoothing = SMOOTHING[1] if settings.smoothing == SMOOTHING[0] else SMOOTHING[0]
        if settings.smoothing == SMOOTHING[0]:
            settings.toggle_log()
            if not settings.log_scale:
                settings.cycle_axis()
                if settings.axis == "step":
                    settings.cycle_plot()


def test_log_scale_draws_log10_and_says_what_it_left_out() -> None:
    h = RunHistory()
    h.load("r1", history(loss=[100.0, 10.0, 0.0, -1.0, 0.1, 0.01]))
    spec = plot_spec(h, ["r1"], {}, PlotSettings(smoothing=0.0, log_scale=True), 70)
    train = spec.lines[0]
    assert train.ys == [2.0, 1.0, -1.0, -2.0]
    assert "3 points ≤ 0, NaN or inf not drawn" in spec.note  # train 0 and -1, val -1
    assert spec.ylabel.endswith("· log")
    assert "0.01" in spec.yticks[1] and "100" in spec.yticks[1]  # labelled with the values


def test_ticks_are_round_and_steps_whole() -> None:
    assert nice_ticks(0, 10, 5) == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert nice_ticks(1, 3, 5, integer=True) == [1.0, 2.0, 3.0]  # never 1.5
    assert nice_ticks(0, 3616, 5, integer=True) == [0.0, 1000.0, 2000.0, 3000.0]
    assert nice_ticks(5, 5) == [5]
    assert nice_ticks(math.nan, 1) == []
    h = RunHistory()
    h.load("r1", history(loss=[2.0, 1.0]))
    spec = plot_spec(h, ["r1"], {}, PlotSettings(smoothing=0.0), 70)
    assert spec.xticks == ([1.0, 2.0], ["1", "2"])


def test_the_best_checkpoint_and_the_cursor_are_marked() -> None:
    h = RunHistory()
    evals = [
        P.EvalReport(step=2, epoch=1.0, metrics={"loss": 0.9}),
        P.EvalReport(step=4, epoch=2.0, metrics={"loss": 0.4}),
        P.EvalReport(step=6, epoch=3.0, metrics={"loss": 0.4}),
    ]
    h.load("r1", history(loss=[3.0, 0.9, 2.0, 0.4, 1.0, 0.4], evals=evals))
    r = run(metric="loss", best=0.4)
    best = best_eval(r, h.evals["r1"])
    assert best is not None and best.step == 4  # the first to reach it: its checkpoint
    assert best_text(r, best.step) == "best val loss 0.4000 @ step 4"
    spec = plot_spec(h, ["r1"], {}, PlotSettings(), 70, best_step=4, cursor_step=5)
    assert spec.best == (4.0, 0.4) and spec.cursor_x == 5.0
    text = legend(spec).plain
    assert "◆ best (step 4)" in text and "⣿ train_loss" in text and "• val_loss" in text
    by_epoch = plot_spec(h, ["r1"], {}, PlotSettings(axis="epoch"), 70, best_step=4)
    assert by_epoch.best == (2.0, 0.4)


def test_overlaid_lines_read_without_colour() -> None:
    h = RunHistory()
    h.load("r1", history())
    h.load("r2", history("r2", loss=[5.0, 4.0]))
    spec = plot_spec(h, ["r1", "r2"], {"r1": "tiny", "r2": "other"}, PlotSettings(), 70)
    labels = [(line.label, line.glyph) for line in spec.lines]
    assert labels == [
        ("tiny:train_loss", "⣿"),
        ("tiny:val_loss", "•"),
        ("other:train_loss", "x"),
        ("other:val_loss", "+"),
    ]
    assert len({line.color for line in spec.lines}) == 4


# --------------------------------------------------------------------- readout


def test_the_readout_gives_every_series_at_the_cursor() -> None:
    h = RunHistory()
    h.load("r1", history(loss=[4.0, 3.0, 2.0, 1.0, 0.5]))
    h.load("r2", history("r2", loss=[9.0, 8.0]))
    flat = PlotSettings(smoothing=0.0)
    lines = readout(h, ["r1", "r2"], {"r1": "tiny", "r2": "other"}, flat, 5)
    assert lines[0] == "step 5 · epoch 2.50 · 4m00s wall"
    assert lines[1] == "tiny: train_loss 0.5000 · val_loss 1.0000 @4"
    assert lines[2] == "other: train_loss 8.0000 @2 · val_loss 8.0000 @2"  # it ended at 2
    smooth = readout(h, ["r1"], {}, PlotSettings(smoothing=0.6), 2)
    assert smooth[0].endswith("(~ smoothed)") and "train_loss 3.0000 (~3." in smooth[1]
    by_epoch = readout(h, ["r1"], {}, PlotSettings(axis="epoch", smoothing=0.0), 3)
    assert by_epoch[1] == "train_loss 2.0000 · val_loss 3.0000 @2"


def test_the_cursor_stops_evenly_and_starts_at_the_end() -> None:
    h = RunHistory()
    h.load("r1", history(loss=[1.0] * 101))
    stops = cursor_stops(h, "r1", 11)
    assert stops == list(range(1, 102, 10))
    assert move_cursor(stops, None, -1) == 101
    assert move_cursor(stops, 101, -1) == 91
    assert move_cursor(stops, 93, 1) == 101  # from the nearest stop
    assert move_cursor(stops, 1, -10) == 1 and move_cursor(stops, 91, 10) == 101
    assert move_cursor([], None, 1) is None


# --------------------------------------------------------------------- runs table


def _runs() -> list[P.RunInfo]:
    return [
        run(run_id="a", name="bag small", state="finished", created=1.0, started=10.0,
            ended=70.0, resumed=10.0, active=50.0, best=0.8, metric="macro_f1",
            test={"macro_f1": 0.78}, summary="adamw lr 0.01 · batch 32"),
        run(run_id="b", name="gru", arch="gru", state="running", created=2.0, started=20.0,
            resumed=20.0, active=30.0, best=0.9, metric="macro_f1"),
        run(run_id="c", name="lm", arch="transformer-lm", state="queued", created=3.0),
        run(run_id="d", name="killed", state="interrupted", created=4.0, started=5.0,
            resumed=5.0, active=12.0, best=0.6, metric="macro_f1"),
    ]  # fmt: skip


def test_run_cells_are_one_text_per_column_cut_with_a_marker() -> None:
    a, _, c, _ = _runs()
    cells = dict(zip([col.key for col in COLUMNS], run_cells(a, True, 100.0), strict=True))
    assert cells["mark"] == "◆" and cells["state"] == "finished"
    assert cells["best"] == "macro_f1 0.8000" and cells["test"] == "macro_f1 0.7800"
    assert cells["trained"] == "50s" and cells["wall"] == "1m00s"
    assert cells["settings"] == "adamw lr 0.01 · batch 32"
    long = run(name="x" * 40)
    assert run_cells(long, False, 0.0)[1] == "x" * 17 + "…"
    assert run_cells(c, False, 100.0)[5:8] == ("-", "-", "-")  # never started


def test_sorted_by_any_column_either_way_with_missing_values_last() -> None:
    runs = _runs()
    now = 100.0
    assert [r.run_id for r in sort_runs(runs, "best", False, now)] == ["d", "a", "b", "c"]
    assert [r.run_id for r in sort_runs(runs, "best", True, now)] == ["b", "a", "d", "c"]
    assert [r.run_id for r in sort_runs(runs, "test", True, now)] == ["a", "b", "c", "d"]
    assert [r.run_id for r in sort_runs(runs, "name", False, now)] == ["a", "b", "d", "c"]
    assert [r.run_id for r in sort_runs(runs, "trained", True, now)] == ["a", "b", "d", "c"]
    assert [r.run_id for r in sort_runs(runs, "started", True, now)] == ["b", "a", "d", "c"]
    for key in SORT_KEYS:  # every column sorts, both ways, and keeps every run
        for reverse in (False, True):
            assert sorted(r.run_id for r in sort_runs(runs, key, reverse, now)) == list("abcd")
    keys = [SORT_KEYS[0]]
    while (nxt := next_sort_key(keys[-1])) != keys[0]:
        keys.append(nxt)
    assert keys == SORT_KEYS
    assert column_title(COLUMNS[3], "best", True) == "best val ▼"
    assert column_title(COLUMNS[3], "name", True) == "best val"


def test_the_filter_matches_every_word_anywhere() -> None:
    runs = _runs()
    assert [r.run_id for r in runs if matches(r, "GRU")] == ["b"]
    assert [r.run_id for r in runs if matches(r, "bag adamw")] == ["a"]
    assert [r.run_id for r in runs if matches(r, "interrupted")] == ["d"]
    assert [r.run_id for r in runs if matches(r, "")] == list("abcd")
    shown = table_runs(runs, "macro_f1", "best", True, 0.0)
    assert [r.run_id for r in shown] == ["b", "a", "d"]


# --------------------------------------------------------------------- durations and ETA


def test_time_trained_and_wall_time_are_kept_apart() -> None:
    a, b, c, d = _runs()
    assert trained_seconds(a) == 50.0 and wall_seconds(a, 1e9) == 60.0
    assert wall_seconds(b, 100.0) == 80.0  # training now: until now
    assert wall_seconds(c, 100.0) is None and trained_seconds(c) is None
    # a dead engine left no end: the last recorded point ends it, if known
    assert wall_seconds(d, 100.0) is None and wall_seconds(d, 100.0, last_time=45.0) == 40.0
    # resumed: the first start counts, the old end of the earlier session does not
    resumed = run(state="finished", started=10.0, resumed=500.0, ended=590.0, active=100.0)
    assert wall_seconds(resumed, 1e9) == 580.0
    again = run(state="interrupted", started=10.0, resumed=500.0, ended=90.0)
    assert wall_seconds(again, 1e9, last_time=530.0) == 520.0


def test_the_eta_is_smoothed_and_ignores_pauses_and_slow_steps() -> None:
    times = {s: s * 0.1 for s in range(1, 501)}  # 0.1 s a step
    assert smoothed_eta(times, 500, 1500) == pytest.approx(100.0)
    paused = dict(times)
    for s in range(300, 501):
        paused[s] += 600.0  # a 10-minute pause at step 300
    assert smoothed_eta(paused, 500, 1500) == pytest.approx(100.0)
    evals = {s: s * 0.1 + (s // 100) * 0.5 for s in range(1, 501)}  # an evaluation every 100
    assert smoothed_eta(evals, 500, 1500) == pytest.approx(105.0, rel=0.01)  # counted in
    assert smoothed_eta(times, 1500, 1500) is None and smoothed_eta({}, 1, 10) is None
    assert fmt_eta(123.0) == "~2m00s" and fmt_eta(127.0) == "~2m10s" and fmt_eta(3) == "~10s"
    assert fmt_eta(1800.0) == "~30m" and fmt_eta(None) == "-"


def test_the_head_hides_the_eta_unless_training_and_prints_rounded_numbers() -> None:
    going = run(state="running", step=10, total_steps=100, epoch=0.4, best=0.812345,
                metric="macro_f1", test={"macro_f1": 0.8}, active=65.0)  # fmt: skip
    text = run_line(going, eta=90.0, best_step=40, wall=100.0).plain
    assert "ETA ~1m30s" in text and "epoch 0.40" in text
    assert "best val macro_f1 0.8123 @ step 40 · test 0.8000" in text
    assert "trained 1m05s · wall 1m40s" in text
    paused = run(state="paused", step=10, total_steps=100)
    assert "ETA" not in run_line(paused, eta=90.0).plain
    assert fmt_epoch(1.0) == "1.00" and fmt_value(0.1234567) == "0.1235"
    assert fmt_value(1.2e-5) == "1.20e-05" and fmt_value(12345.6) == "12,346"
    assert (
        scored_test_text(run(test={"accuracy": 0.5}, metric="accuracy")) == "test accuracy 0.5000"
    )


def test_epoch_bar_at_a_boundary_shows_the_epoch_just_finished() -> None:
    assert epoch_progress(run(state="running", step=5, epoch=0.25)) == (1, 0.25)
    assert epoch_progress(run(state="running", step=10, epoch=2.0)) == (2, 1.0)
    assert epoch_progress(run(state="finished", step=10, epoch=1.5)) == (1, 1.0)
    assert epoch_progress(run(state="queued")) == (1, 0.0)


# --------------------------------------------------------------------- confusion matrix


def test_twenty_classes_get_short_unique_codes_that_fit_80_columns() -> None:
    code_w, label_w = matrix_layout(20, 78)
    assert (code_w + 1 + label_w + 1) + 20 * (code_w + 1) <= 78
    for width in (2, 3, 4):
        codes = class_codes(NG20, width)
        assert len(set(codes)) == 20 and all(1 <= len(c) <= width for c in codes), codes
    assert class_codes(NG20, 3)[:4] == ["aa", "cg", "com", "csi"]
    assert class_codes(["pos", "neg"], 3) == ["pos", "neg"]  # short labels stay
    assert class_codes(["interest", "internal"], 3) == ["int", "ine"]
    assert matrix_layout(2, 40) == (4, 16)


def test_shading_reads_without_colour() -> None:
    assert [shade(n, 100) for n in (0, 5, 20, 40, 60, 90)] == list(SHADES)
    assert shade(3, 0) == " "


def test_split_names_come_from_the_run_configuration() -> None:
    assert split_names('[data]\nvalidation_split = "test"\n') == ("test", None)
    assert split_names('[data]\ntest_split = "held"\n') == ("validation", "held")
    assert split_names("not toml [") == ("validation", "test")
