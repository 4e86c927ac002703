"""Property: every project `check` accepts compiles, for every backend in `backends/`.

`check` is the one judge of a spec: when it reports no error, no later stage may refuse the
project or crash on it. Two kinds of input, both derandomised hypothesis:

- the example specs (`specs/`) with a few targeted mutations: a name replaced by another
  name of the project or by one metricspec uses itself (`period`, `sample_n`, `x__y`, a
  twin in another case), a duration, a table path or a source query swapped for another,
  a line (a `time` column…) deleted or duplicated;
- small generated projects built from every construct of the language: sources with and
  without a time column, table paths and queries (reads and writes), every metric shape,
  KPI trees, experiments, monitors and guardrails.

For each project without errors, `compile_all` — what `metricspec compile` runs — compiles
every metric group, every metric, experiment, monitor, guardrail and KPI tree for every
backend; any failure (a refusal or a crash) fails the test. A backend whose SQL a source
query is not (MS702, a warning without `--dialect`) is left out for that project.
`HYPOTHESIS_SCALE=10` runs ten times more examples.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from metricspec import ir
from metricspec.backends import Backend, all_backends
from metricspec.pipeline import compile_all, series_sql
from metricspec.source_queries import UNPARSED, source_query_problem
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
SPEC_FILES = sorted([*SPECS.rglob("*.mspec"), *SPECS.rglob("*.yaml")])
SCALE = int(os.environ.get("HYPOTHESIS_SCALE", "1"))
BACKENDS = list(all_backends().values())


def examples(n: int) -> settings:
    # No shrinking: a failure prints the whole project, and compiling every candidate of a
    # shrink for five backends would take minutes.
    return settings(max_examples=n * SCALE, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="metricspec-compiles-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def backends_for(ws: Workspace) -> list[Backend]:
    """Every backend, but those a source query of the project does not parse for, and
    those without an approximate distinct count when a metric asks for one (both MS702 and
    MS455 are warnings without `--dialect` that name the backends left out)."""
    unparsed = {b.name for s in ws.project.sources if s.query is not None for b in BACKENDS
                if source_query_problem(s.query, b.sqlglot_dialect) == UNPARSED}
    if any(isinstance(n, ir.Aggregate) and n.approximate
           for m in ws.project.metrics for n in ir.walk(m.expr)):
        unparsed |= {b.name for b in BACKENDS if b.spellings.approx_count_distinct is None}
    return [b for b in BACKENDS if b.name not in unparsed]


def assert_compiles(ws: Workspace, *, per_metric: bool) -> bool:
    """When `check` found no error, every object compiles for every backend. Returns
    whether the project was accepted (so a test can count what it really compiled)."""
    if not ws.ok:
        return False
    compiled, failed = compile_all(ws.index, backends_for(ws), per_metric=per_metric)
    assert not failed, "check accepted a project that does not compile:\n" + "\n".join(
        str(f) for f in failed) + "\n\n" + "\n".join(
        f"--- {name}\n{text}" for name, text in sorted(ws.texts.items()))
    assert compiled
    for query in compiled:  # and the series query of the monitor page
        if query.kind in ("monitor", "guardrail"):
            assert series_sql(query)
    return True


# ---------------------------------------------------------------- mutated example specs

# Names metricspec builds or uses itself, and names that differ from a real one by case.
HOSTILE_NAMES = ["period", "sample_n", "value", "baseline", "streak", "entity", "first_at",
                 "converted", "units", "stats", "spine", "series", "exposures", "a__b",
                 "csat__1", "CSAT", "Messages", "feedback_agg", "messages_units", "alert",
                 "judged", "alert_limit"]
DURATIONS = ["1 day", "7 days", "36 hours", "90 minutes", "1 hour", "5 minutes", "2 weeks",
             "1 week", "30 days"]
TABLES = ["table a.b.c.d", "table shop..orders", "table x", "table c.s.t",
          'query "SELECT * FROM support.feedback"',
          'query "WITH f AS (SELECT * FROM support.feedback) SELECT * FROM f"',
          'query "SELECT * FROM support.feedback; DROP TABLE support.feedback"',
          'query "DELETE FROM support.feedback"',
          'query "SELECT * FROM `support.feedback`"',
          'query "SELECT * FROM a.x UNION SELECT * FROM a.y"']
_NAME = re.compile(r"\b[a-z_][a-z0-9_]*\b")
_DURATION = re.compile(r"\b\d+ (?:minute|hour|day|week)s?\b")
_ORIGIN = re.compile(r"table [\w.]+")

Edit = tuple[str, int, int]


@st.composite
def spec_edits(draw: st.DrawFn) -> tuple[Path, list[Edit]]:
    path = draw(st.sampled_from([p for p in SPEC_FILES if p.suffix == ".mspec"]
                                + [p for p in SPEC_FILES if p.suffix != ".mspec"]))
    ops = ["name", "name", "hostile", "duration", "origin", "delete", "duplicate", "no_time"]
    edits = draw(st.lists(st.tuples(st.sampled_from(ops), st.integers(0, 10_000),
                                    st.integers(0, 10_000)), min_size=1, max_size=3))
    return path, edits


def mutate(text: str, edits: list[Edit]) -> str:
    for op, i, j in edits:
        names = sorted(set(_NAME.findall(text)))
        if op in ("name", "hostile"):
            spots = list(_NAME.finditer(text))
            pool = names if op == "name" else HOSTILE_NAMES
            if spots:
                spot = spots[i % len(spots)]
                text = text[:spot.start()] + pool[j % len(pool)] + text[spot.end():]
        elif op == "duration":
            spots = list(_DURATION.finditer(text))
            if spots:
                spot = spots[i % len(spots)]
                text = text[:spot.start()] + DURATIONS[j % len(DURATIONS)] + text[spot.end():]
        elif op == "origin":
            spots = list(_ORIGIN.finditer(text))
            if spots:
                spot = spots[i % len(spots)]
                text = text[:spot.start()] + TABLES[j % len(TABLES)] + text[spot.end():]
        else:
            lines = text.split("\n")
            if op == "no_time":
                timed = [k for k, line in enumerate(lines) if line.strip().startswith("time ")]
                if timed:
                    del lines[timed[i % len(timed)]]
            elif op == "delete":
                del lines[i % len(lines)]
            else:
                lines.insert(i % len(lines), lines[j % len(lines)])
            text = "\n".join(lines)
    return text


@pytest.mark.slow
@examples(8)
@given(case=spec_edits())
def test_mutated_example_specs_that_check_accepts_compile(
        scratch: Path, case: tuple[Path, list[Edit]]) -> None:
    path, edits = case
    folder = scratch / "specs"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SPECS, folder)
    target = folder / path.relative_to(SPECS)
    target.write_text(mutate(path.read_text(encoding="utf-8"), edits), encoding="utf-8")
    assert_compiles(Workspace.load(folder), per_metric=False)


# ---------------------------------------------------------------- small generated projects

def mostly(good: list[str], hostile: list[str]) -> st.SearchStrategy[str]:
    """Usually a choice `check` accepts, sometimes one it should judge."""
    return st.sampled_from(good * 8 + hostile)


def names(good: list[str], hostile: list[str], most: int) -> st.SearchStrategy[list[str]]:
    """Distinct names, usually good ones; now and then one is replaced by a hostile one."""
    return st.tuples(st.lists(st.sampled_from(good), min_size=1, max_size=most, unique=True),
                     st.integers(0, 5), st.sampled_from(hostile)).map(
        lambda t: [*t[0][:-1], t[2]] if t[1] == 0 and t[2] not in t[0] else t[0])


SOURCE_NAMES = names(["ev", "orders", "signups"], ["Ev", "x__y", "conv"], 3)
METRIC_NAMES = names(["m1", "m2", "m3", "m4", "m5", "m6"],
                     ["M1", "period", "sample_n", "value", "conv", "ev", "a__b"], 6)
DIMENSIONS = mostly(["country", "plan"], ["period", "value", "entity", "converted", "d__x",
                                          "Country"])
QUERIES = mostly(['"SELECT * FROM shop.t"', '"WITH a AS (SELECT * FROM shop.t) SELECT * FROM a"',
                  '"SELECT * FROM shop.t -- note"', '"(SELECT * FROM shop.t)"'],
                 ['"SELECT * FROM shop.t /* x */; DROP TABLE t"', '"DELETE FROM shop.t"',
                  '"SELECT * INTO shop.c FROM shop.t"', '"PRAGMA version"',
                  '"SELECT * FROM `shop.t`"', '"SELECT 1 AS a UNION SELECT 2"',
                  '"SELECT * FROM shop.t FOR UPDATE"', '""', '"COPY t TO \'x.csv\'"'])
TABLE_PATHS = mostly(["shop.t", "t", "c.shop.t"], ["a.b.c.d"])
AGGREGATES = [
    "count({s})", "sum({s}.amount)", "avg({s}.amount)", "p95({s}.amount)", "median({s}.amount)",
    "count_distinct({s}.user_id)", "count({s} where amount > 1)", "min({s}.amount)",
    "count({s}) / count({t})", "sum({s}.amount) / count({s})",
    "conversion({s} -> {t}, within 1 day)", "conversion({s} -> {t}, within 2 hours, by user_id)",
    "count({s}) - count({s} where amount > 5)", "5%", "0.5 * 2", "-3",
    "sum({s}.amount, last per user_id)", "avg({s}.amount where amount > 1, first)",
    "count_distinct({s}.user_id, approximate)",
]
DERIVED = [
    "{m} + {n}", "{m} * 2", "{m} / {n}", "weighted({m}: 0.5, {n}: 0.5)", "1 - {m}",
    "rolling({m}, 7 days)", "rolling({m}, 36 hours)", "rolling({m}, 12 hours)",
    "rolling(5%, 7 days)", "cumulative({m})", "p95({s}.amount) / 2",
    "{m} * count({s})",
]


@st.composite
def small_projects(draw: st.DrawFn) -> str:
    out: list[str] = []
    sources = draw(SOURCE_NAMES)
    for name in sources:
        origin = (f"table {draw(TABLE_PATHS)}" if draw(st.integers(0, 3))
                  else f"query {draw(QUERIES)}")
        time = "time ts; " if draw(st.integers(0, 7)) else ""
        dims = ["country", *draw(st.lists(DIMENSIONS, max_size=1, unique=True))]
        dimension = f"dimension {', '.join(dict.fromkeys(dims))}; "
        out.append(f"source {name} = {origin} {{ entity user_id; {time}{dimension}"
                   "column amount: number, variant: string }")
    metrics = draw(METRIC_NAMES)
    for position, name in enumerate(metrics):
        shape = draw(st.sampled_from(AGGREGATES + (DERIVED if position else [])))
        earlier = metrics[:position] or ["missing"]
        expr = shape.format(s=draw(st.sampled_from(sources)), t=draw(st.sampled_from(sources)),
                            m=draw(st.sampled_from(earlier)), n=draw(st.sampled_from(earlier)))
        out.append(f"metric {name} = {expr} {{ direction up }}")
    pick = st.sampled_from(metrics)
    kinds = draw(st.sets(st.sampled_from(["kpi", "experiment", "monitor", "guardrail"]),
                         max_size=2))
    if len(metrics) >= 2 and "kpi" in kinds:
        a, b, *rest = draw(st.permutations(metrics))
        if rest:
            composition = draw(mostly(["sum", "product", "drivers", "weighted"], ["ratio"]))
            drivers = (f"{b}: 0.5, {rest[0]}: 0.5" if composition == "weighted"
                       else f"{b}, {rest[0]}")
        else:
            composition, drivers = "drivers", b
        out.append(f"kpi tree {{ north_star {a}; {a} <- {composition}({drivers}) }}")
    if "experiment" in kinds:
        segment = draw(DIMENSIONS)
        extras = "; ".join(draw(st.lists(st.sampled_from(
            ["cuped 7 days", "sequential", "correction bh", f"winsorize {metrics[0]} at 99%",
             "mde 2% relative", "traffic 1000 per day"]), max_size=3, unique=True)))
        assignment = draw(st.sampled_from([*sources, "asg"]))
        if assignment == "asg":  # a source of its own, sometimes without its time column
            time = "time ts; " if draw(st.booleans()) else ""
            out.append(f"source asg = table shop.asg {{ entity user_id; {time}"
                       "dimension country; column variant: string }")
        out.append(
            f"experiment exp {{ unit user_id; assignment {assignment} "
            "variant variant; variants control 50% control, treatment 50%; "
            f"window 2026-10-01 .. 2026-10-14; primary {metrics[0]}; "
            + (f"secondary {', '.join(metrics[1:-1])}; " if len(metrics) > 2 else "")
            + (f"guardrail {metrics[-1]} max_increase 10%; " if len(metrics) > 1 else "")
            + (f"segments {segment}; " if draw(st.booleans()) else "") + f"{extras} }}")
    if "monitor" in kinds:
        dims = draw(st.lists(DIMENSIONS, max_size=1))
        dimension = f"; dimensions {dims[0]}" if dims else ""
        alert = draw(st.sampled_from(["below baseline by 15%", "above 100",
                                      "zscore below -3", "above baseline by 10% for 3 windows"]))
        out.append(f"monitor mon {{ metric {draw(pick)}; every 5 minutes; "
                   f"baseline trailing 1 hour; alert when {alert}; min_n 10{dimension} }}")
    if "guardrail" in kinds:
        out.append(f"guardrail g = {draw(pick)} <= 5 every 1 hour")
    return "\n".join(out) + "\n"


@pytest.mark.slow
@examples(250)
@given(text=small_projects())
def test_generated_projects_that_check_accepts_compile(scratch: Path, text: str) -> None:
    path = scratch / "small.mspec"
    path.write_text(text, encoding="utf-8")
    assert_compiles(Workspace.load(path), per_metric=True)


@pytest.mark.parametrize("kind", ["source", "experiment", "monitor", "kpi", "guardrail"])
def test_the_generator_reaches_projects_check_accepts(scratch: Path, kind: str) -> None:
    """The property above must not pass vacuously: the generator makes projects `check`
    accepts with each kind of object (and those compile)."""

    def accepted(text: str) -> bool:
        if f"\n{kind} " not in f"\n{text}":
            return False
        path = scratch / "sample.mspec"
        path.write_text(text, encoding="utf-8")
        return assert_compiles(Workspace.load(path), per_metric=False)

    found = find(small_projects(), accepted, settings=settings(
        max_examples=400, derandomize=True, database=None, deadline=None,
        phases=[Phase.generate]))
    assert f"{kind} " in found
