"""Charts rendered offline from Vega-Lite specs: each layer draws one mark per datum, spec
text is escaped SVG text (hostile names included), and the effect-over-time chart draws the
cumulative lift the statistics engine computes from daily sums."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from metricspec.report.charts import (
    EffectPoint,
    ForestRow,
    SeriesPoint,
    Step,
    effect_over_time_chart,
    forest_chart,
    monitor_series_chart,
    waterfall_chart,
)
from metricspec.report.charts import (
    mark_count as marks,
)
from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    MetricSpec,
    Moments,
    VariantData,
    analyze,
)

HOSTILE = '<script>alert("x")</script> & </text><foreignObject>'
# the renderer aborts the process on some control characters: they must never reach it
CONTROLS = "\x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \rover\x08written \x9b2J \u202eevil \x00"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML: no label broke out of its element


def test_control_characters_are_shown_not_rendered() -> None:
    svg = forest_chart([ForestRow(CONTROLS, CONTROLS, 0.05, 0.01, 0.09, CONTROLS)])
    assert "\\x1b[31mRED" in svg and "\x1b" not in svg and "\x07" not in svg
    svg = waterfall_chart([Step(CONTROLS, 1.0, total=True, kind="total")], CONTROLS)
    assert "\x00" not in svg and marks(svg, "bars") == 1
    svg = monitor_series_chart([SeriesPoint(dt.date(2026, 11, 1), 1.0)], CONTROLS)
    assert marks(svg, "value") == 1


def test_forest_escapes_hostile_labels_and_draws_one_mark_per_row() -> None:
    rows = [ForestRow(HOSTILE, "primary", 0.05, 0.01, 0.09, "win"),
            ForestRow("latency", "guardrail", -0.02, -1.7, 0.3, "flat", margin=0.1),
            ForestRow("no data", "secondary", None, None, None, "insufficient data")]
    svg = forest_chart(rows)
    root = parsed(svg)
    assert "<script" not in svg and "<foreignObject" not in svg
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE in t for t in texts)  # shown as text, literally
    assert marks(svg, "points") == 2 and marks(svg, "intervals") == 2
    assert marks(svg, "margins") == 1 and marks(svg, "zero") == 1


def _arm(mean: float, sd: float, n: int) -> Moments:
    s = mean * n
    return Moments(n, {"m.x": s}, {("m.x", "m.x"): s * s / n + (n - 1) * sd * sd})


def cumulative_effect(days: int, seed: int = 3) -> list[EffectPoint]:
    """Per-day sums of a synthetic experiment, accumulated and analysed by the engine."""
    rng = np.random.default_rng(seed)
    config = ExperimentConfig("control", {"control": 1, "treatment": 1})
    totals = {v: [0, 0.0, 0.0] for v in ("control", "treatment")}
    points = []
    start = dt.date(2026, 11, 1)
    for day in range(days):
        for variant, mean in (("control", 10.0), ("treatment", 10.4)):
            x = rng.normal(mean, 3.0, 200)
            t = totals[variant]
            t[0] += x.size
            t[1] += float(x.sum())
            t[2] += float(x @ x)
        data = ExperimentData.single({v: VariantData({"m": Moments(
            int(t[0]), {"m.x": t[1]}, {("m.x", "m.x"): t[2]})}, units=int(t[0]))
            for v, t in totals.items()})
        r = analyze(config, [MetricSpec("m")], data).metric("m")
        assert r.relative is not None
        points.append(EffectPoint(start + dt.timedelta(days=day), r.relative.estimate,
                                  r.relative.ci_lower, r.relative.ci_upper))
    return points


def test_effect_over_time_from_the_engine_narrows_and_draws_each_day() -> None:
    points = cumulative_effect(14)
    widths = [p.ci_high - p.ci_low for p in points]
    assert widths[-1] < widths[0] / 3  # the interval shrinks as the sample grows
    assert all(p.ci_low <= p.lift <= p.ci_high for p in points)
    svg = effect_over_time_chart(points, HOSTILE)
    parsed(svg)
    assert marks(svg, "days") == 14
    assert marks(svg, "band") == 1 and marks(svg, "lift") == 1


def test_monitor_series_marks_alert_windows_and_baseline() -> None:
    hours = [dt.datetime(2026, 11, 3, h) for h in range(24)]
    points = [SeriesPoint(t, 100.0 + (40 if 9 <= t.hour < 12 else 0), 90.0, 110.0,
                          alert=9 <= t.hour < 12) for t in hours]
    svg = monitor_series_chart(points, "p95 latency")
    parsed(svg)
    assert marks(svg, "alert_windows") == 3 and marks(svg, "alerts") == 3
    assert marks(svg, "baseline") == 24 and marks(svg, "value") == 1


def test_monitor_series_without_alerts_or_baseline() -> None:
    points = [SeriesPoint(dt.date(2026, 11, d), float(d)) for d in range(1, 8)]
    svg = monitor_series_chart(points, "volume", threshold=5.0)
    assert marks(svg, "alert_windows") == 0 and marks(svg, "alerts") == 0
    assert marks(svg, "baseline") == 0 and marks(svg, "threshold") == 1


def test_waterfall_draws_every_step() -> None:
    steps = [Step("October", 10.0, total=True, kind="total"), Step(HOSTILE, 2.0),
             Step("b", -1.0), Step("unexplained", 0.5, kind="residual"),
             Step("November", 11.5, total=True, kind="total")]
    svg = waterfall_chart(steps, "cost")
    parsed(svg)
    assert marks(svg, "bars") == 5


@pytest.mark.parametrize("n", [1, 40])
def test_forest_of_many_rows_grows_instead_of_squeezing(n: int) -> None:
    rows = [ForestRow(f"metric {i}", "", 0.01 * i, 0.0, 0.02 * i, "flat") for i in range(n)]
    root = parsed(forest_chart(rows))
    assert float(root.get("height", "0")) >= 30 * n
