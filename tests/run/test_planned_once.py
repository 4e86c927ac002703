"""`run` executes what the pipeline compiled and never plans again: running an experiment or
a monitor plans it exactly once (it used to be planned, then compiled, which planned it a
second time), and a monitor whose plan the caller made already is not planned at all."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from metricspec.pipeline import KINDS
from metricspec.plan.monitor import plan_monitor
from metricspec.run.connections import Connection
from metricspec.run.execute import run_experiment, run_monitor
from metricspec.workspace import Workspace

DAY = (dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17))


def _count(monkeypatch: pytest.MonkeyPatch, kind: str) -> list[str]:
    """Replace a kind's planner in the registry by one that records each object it plans."""
    calls: list[str] = []
    entry = KINDS[kind]  # type: ignore[index]
    real: Callable[..., Any] = entry.plan

    def counting(index: Any, name: str, request: Any) -> Any:
        calls.append(name)
        return real(index, name, request)

    monkeypatch.setitem(KINDS, kind, dataclasses.replace(entry, plan=counting))  # type: ignore[arg-type]
    return calls


def test_run_imports_no_planner() -> None:
    from metricspec.run import execute

    planners = [name for name in vars(execute) if name.startswith("plan_")]
    assert not planners, f"run/execute.py plans by itself: {planners}"


def test_an_experiment_run_is_planned_once(monkeypatch: pytest.MonkeyPatch,
                                           workspace: Workspace, conn: Connection) -> None:
    calls = _count(monkeypatch, "experiment")
    run = run_experiment(workspace.index, "summarizer_v2", conn)
    assert calls == ["summarizer_v2"]
    assert run.rows and run.plan.experiment.name == "summarizer_v2"


def test_a_monitor_run_is_planned_once_or_not_at_all(monkeypatch: pytest.MonkeyPatch,
                                                     workspace: Workspace,
                                                     conn: Connection) -> None:
    calls = _count(monkeypatch, "monitor")
    index = workspace.index
    planned = run_monitor(index, "csat_drop", conn, since=DAY[0], until=DAY[1])
    assert calls == ["csat_drop"]
    given = plan_monitor(index, "csat_drop", start=DAY[0], end=DAY[1])
    again = run_monitor(index, "csat_drop", conn, since=DAY[0], until=DAY[1], plan=given)
    assert calls == ["csat_drop"]  # the caller's plan was compiled, not made again
    assert again.plan is given
    assert (again.sql, again.alerts, again.coverage) == (planned.sql, planned.alerts,
                                                         planned.coverage)
