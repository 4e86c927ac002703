"""Plans as data: which sources a plan scans, its measures or components, its filters (parsed
once, as `CheckedFilter` values with the columns they read) and `columns_read()`, the one
list of columns the preflight checks and the experiment's scans select."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.check import check
from metricspec.filters import CheckedFilter, parse_filter
from metricspec.parse import load
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.kpi import plan_kpi
from metricspec.plan.lower import Conversion, InternalError, Measure, checked_filter
from metricspec.plan.metric_query import plan_metric_query
from metricspec.plan.monitor import N_COLUMN, plan_monitor
from metricspec.semantic import Index

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_a_ratio_of_filtered_counts_is_one_scan_with_two_measures(index: Index) -> None:
    plan = plan_metric_query(index, ["csat"])
    assert [scan.source.name for scan in plan.scans] == ["feedback"]
    measures = plan.scans[0].measures
    assert [(m.name, m.func, m.column) for m in measures] == [
        ("csat__1", "count", None), ("csat__2", "count", None)]
    assert all(isinstance(m.filter, CheckedFilter) for m in measures)
    assert [m.filter.text for m in measures if m.filter] == ["thumbs = 'up'",
                                                            "thumbs is not null"]
    assert [m.filter.columns for m in measures if m.filter] == [("thumbs",), ("thumbs",)]
    assert plan.conversions == ()
    assert plan.columns_read() == {"feedback": ("thumbs", "ts")}


def test_columns_read_lists_dimensions_values_filters_and_time(index: Index) -> None:
    plan = plan_metric_query(index, ["cost_per_query", "latency_p95"],
                             dimensions=("channel",))
    assert list(plan.sources) == ["messages"]
    assert plan.columns_read() == {"messages": ("channel", "cost_usd", "role", "latency_ms",
                                                "ts")}


def test_a_conversion_reads_the_entity_and_only_its_end_sources_own_dimensions(
        index: Index) -> None:
    plan = plan_metric_query(index, ["thumbs_up_within_a_day"], dimensions=("locale",))
    [conv] = plan.conversions
    assert (conv.entity, conv.start_source, conv.end_source, conv.within_seconds) == (
        "user_id", "conversations", "feedback", 86400)
    assert conv.start_filter is None
    assert conv.end_filter == parse_filter("thumbs = 'up'")[0]
    assert conv.end_filter is not None and conv.end_filter.columns == ("thumbs",)
    # the end source is joined, not grouped: it has no `locale` and is not asked for one
    assert plan.columns_read() == {"conversations": ("locale", "user_id", "started_ts"),
                                   "feedback": ("user_id", "thumbs", "ts")}


def test_identical_aggregates_are_one_measure(index: Index) -> None:
    """`csat_7d` rolls `csat` up: the same two filtered counts, computed once."""
    plan = plan_metric_query(index, ["csat", "csat_7d"])
    assert [m.name for m in plan.scans[0].measures] == ["csat__1", "csat__2"]


def test_an_experiment_plan_as_data(index: Index) -> None:
    plan = plan_experiment(index, "summarizer_v2")
    assert plan.unit == "user_id"
    assert plan.assignment.name == "assignments"
    assert plan.assignment_where is not None
    assert plan.assignment_where.text == "experiment_id = 'summarizer_v2'"
    assert plan.assignment_where.columns == ("experiment_id",)
    assert plan.assignment_filter == "experiment_id = 'summarizer_v2'"
    assert [(b.name, b.kind) for b in plan.bases] == [
        ("csat", "ratio"), ("task_completion", "ratio"), ("cost_per_query", "ratio"),
        ("csat_score", "ratio"), ("latency_p95", "quantile"), ("hallucination_rate", "ratio")]
    csat = plan.bases[0]
    assert csat.x is not None and csat.y is not None
    assert (csat.x.source, csat.x.func, csat.x.filter) == (
        "feedback", "count", parse_filter("thumbs = 'up'")[0])
    latency = plan.bases[4].quantile
    # one `Measure` type: a query's column, a per-unit component, an event-level percentile
    assert isinstance(csat.x, Measure) and isinstance(latency, Measure)
    assert latency.func == "quantile"
    assert (latency.source, latency.column, latency.quantile) == ("messages", "latency_ms", 0.95)
    assert latency.columns_read == ("latency_ms", "role")
    assert plan.scan_sources() == ["feedback", "conversations", "messages"]
    assert plan.scan_columns("messages") == ("ts", "cost_usd", "role", "latency_ms",
                                             "hallucinated")
    assert plan.columns_read() == {
        "feedback": ("user_id", "thumbs", "csat_score", "ts"),
        "conversations": ("user_id", "resolved", "escalation_turn", "started_ts"),
        "messages": ("user_id", "cost_usd", "role", "latency_ms", "hallucinated", "ts"),
        "assignments": ("user_id", "variant", "platform", "experiment_id", "assigned_ts"),
    }


def test_an_experiment_conversion_is_counted_per_unit(tmp_path: Path) -> None:
    """An experiment's conversion is the metric query's `Conversion`, its entity the
    experiment's unit; the columns it reads are the unit and its filters'."""
    text = (SPECS / "experiments" / "summarizer_v2.mspec").read_text(encoding="utf-8")
    (tmp_path / "conv.mspec").write_text(
        text.replace("summarizer_v2", "conv_v2").replace(
            "secondary task_completion", "secondary thumbs_up_within_a_day, task_completion"),
        encoding="utf-8")
    loaded = load([SPECS, tmp_path])
    assert not [d for d in check(loaded.project) if d.severity == "error"]
    plan = plan_experiment(Index(loaded.project), "conv_v2")
    [base] = [b for b in plan.bases if b.conversion is not None]
    assert isinstance(base.conversion, Conversion)
    assert (base.conversion.entity, base.conversion.start_source,
            base.conversion.end_source) == ("user_id", "conversations", "feedback")
    assert base.conversion.end_filter == parse_filter("thumbs = 'up'")[0]
    assert plan.columns_read()["feedback"][:2] == ("user_id", "thumbs")


def test_every_column_a_plan_reads_is_declared_by_its_source(index: Index) -> None:
    """columns_read() over every experiment, monitor and KPI tree of specs/: each name is a
    declared column of the source it is listed under (the preflight's own list)."""
    plans = ([plan_experiment(index, name) for name in index.experiments]
             + [plan_monitor(index, name) for name in [*index.monitors, *index.guardrails]]
             + [plan_kpi(index, name) for name in index.kpis])
    assert plans
    for plan in plans:
        for source, columns in plan.columns_read().items():
            declared = {c.name for c in index.sources[source].all_columns()}
            assert columns and set(columns) <= declared, (source, columns)


def test_a_monitor_counts_its_sample_from_the_last_measure_with_its_filter(
        index: Index) -> None:
    name = next(iter(index.monitors))
    plan = plan_monitor(index, name)
    measures = {m.name: m for scan in plan.series.scans for m in scan.measures}
    sample = measures[N_COLUMN]
    assert isinstance(sample, Measure) and sample.func == "count"
    assert plan.columns_read() == plan.series.columns_read()


def test_a_filter_the_checker_would_refuse_is_an_internal_error() -> None:
    from metricspec import ir
    bad = ir.Filter(span=ir.Span.unknown(), sql="1 = 1; DROP TABLE users")
    with pytest.raises(InternalError, match="MS403"):
        checked_filter(bad)
    assert checked_filter(None) is None
