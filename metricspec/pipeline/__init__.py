"""The pipeline: one driver from a checked project to compiled SQL, above `plan` and `emit`.

`compile(index, name, backend, request)` plans one object through its kind's planner, emits
its sqlglot tree and renders it, returning a `Compiled` (kind, name, backend, plan, sql,
notes); `plan_kind` then `compile_plan` do the same in two steps, for a caller that checks a
request before it knows the warehouse. `compile_all` does every object for several backends
(in worker processes for large projects) and `write_all` writes the files and their
manifest. The kinds of object and how each is planned, emitted and annotated are one
registry (`kinds.KINDS`). The command line, the notebook API (`Workspace`), `run` (which
executes a `Compiled` and never plans) and the docs site all come through here.

May import: `metricspec.plan`, `metricspec.emit`, `metricspec.ir`, `metricspec.semantic`,
`metricspec.backends`, `metricspec.outputs`.
"""

from metricspec.pipeline.batch import compile_all
from metricspec.pipeline.driver import (
    Compiled,
    CompileError,
    compile,
    compile_kind,
    compile_metrics,
    compile_object,
    compile_plan,
    coverage_sql,
    object_kind,
    plan_kind,
    series_sql,
)
from metricspec.pipeline.kinds import (
    KINDS,
    Kind,
    ObjectKind,
    Plan,
    Request,
    metric_groups,
    plan_metrics,
)
from metricspec.pipeline.write import write_all

__all__ = [
    "KINDS",
    "CompileError",
    "Compiled",
    "Kind",
    "ObjectKind",
    "Plan",
    "Request",
    "compile",
    "compile_all",
    "compile_kind",
    "compile_metrics",
    "compile_object",
    "compile_plan",
    "coverage_sql",
    "metric_groups",
    "object_kind",
    "plan_kind",
    "plan_metrics",
    "series_sql",
    "write_all",
]
