"""The compile cache (`metricspec.cache`): a warm build is byte for byte an uncached one,
a change deep in a chain of definitions rebuilds every query that depends on it (and only
those are compiled again), damaged entries are ignored, and a folder others may write to is
never read."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.backends import resolve_dialects
from metricspec.cache import FOLDER_NAME, Cache, CacheRefused
from metricspec.cli import app
from metricspec.parse import load
from metricspec.pipeline import compile_all
from metricspec.semantic import Index

REPO = Path(__file__).parents[2]
runner = CliRunner()

SOURCES = """\
source events = table app.events {
  entity user_id: string
  time ts: timestamp
  column amount: number, kind: string
}

source assignments = table app.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  column experiment_id: string, variant: string
}

source tickets = table app.tickets {
  entity user_id: string
  time opened_ts: timestamp
  column priority: integer
}
"""
METRICS = """\
metric revenue = sum(events.amount)
metric buyers = count(events where kind = 'buy')
metric revenue_per_buyer = revenue / buyers
"""
OTHER = """\
metric tickets_opened = count(tickets)
metric urgent_share = count(tickets where priority > 2) / count(tickets)
"""
EXPERIMENT = """\
experiment pricing {
  unit user_id
  assignment assignments variant variant where experiment_id = 'pricing'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue_per_buyer
}
"""
BACKENDS = resolve_dialects(["duckdb", "bigquery", "snowflake"])


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_project(root: Path) -> Path:
    specs = root / "specs"
    specs.mkdir(parents=True)
    for name, text in (("sources", SOURCES), ("metrics", METRICS), ("other", OTHER),
                       ("experiment", EXPERIMENT)):
        (specs / f"{name}.mspec").write_text(text)
    return specs


def build(specs: Path, cache: Cache | None) -> dict[tuple[str, str, str], str]:
    loaded = load([specs], specs.parent, cache)
    assert not [d for d in loaded.diagnostics if d.is_error]
    compiled, failed = compile_all(Index(loaded.project), BACKENDS, cache=cache)
    assert not failed
    return {(q.backend.name, q.kind, q.name): q.sql for q in compiled}


def sql_counts(cache: Cache, before: tuple[int, int]) -> tuple[int, int]:
    return cache.hits - before[0], cache.misses - before[1]


@pytest.mark.parametrize("change", [
    # a source column that `revenue` sums (revenue -> revenue_per_buyer -> pricing)
    ("sources", "column amount: number, kind: string",
     "column amount: integer, kind: string"),
    # the table every query of the chain reads
    ("sources", "= table app.events {", "= table app.events_v2 {"),
    # the filter of the metric at the bottom of the chain
    ("metrics", "kind = 'buy'", "kind = 'purchase'"),
])
def test_a_change_deep_in_a_chain_rebuilds_every_dependent(
        tmp_path: Path, change: tuple[str, str, str]) -> None:
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    cold = build(specs, cache)
    assert cold == build(specs, None)
    counts = (cache.hits, cache.misses)
    assert build(specs, cache) == cold
    hits, misses = sql_counts(cache, counts)
    assert misses == 0 and hits == 4 + len(cold)  # 4 files, every query

    file, old, new = change
    path = specs / f"{file}.mspec"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    counts = (cache.hits, cache.misses)
    warm = build(specs, cache)
    assert warm == build(specs, None)  # byte for byte the uncached build
    hits, misses = sql_counts(cache, counts)
    # per backend: the events group (revenue, buyers, revenue_per_buyer) and the experiment
    # are rebuilt, the tickets group is read from the cache; one file was parsed again
    assert misses == 1 + 2 * len(BACKENDS)
    assert hits == 3 + len(BACKENDS)
    changed = {k for k in warm if warm[k] != cold[k]}
    assert all(kind != "metrics" or "tickets" not in name for _, kind, name in changed)
    if "amount: number" not in old:  # a type change need not change the SQL
        assert {k[1] for k in changed} == {"metrics", "experiment"}


def test_a_metadata_or_layout_change_gives_the_uncached_output(tmp_path: Path) -> None:
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    build(specs, cache)
    # a new first line moves every span of the file, and a file is renamed: the SQL headers
    # name the files, so what the cache gives must follow
    (specs / "metrics.mspec").write_text("# moved\n" + METRICS)
    (specs / "other.mspec").rename(specs / "tickets.mspec")
    assert build(specs, cache) == build(specs, None)


def test_plans_read_from_the_cache_are_the_plans_planning_makes(tmp_path: Path) -> None:
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    for _ in range(2):  # cold, then every query from the cache
        loaded = load([specs], specs.parent, cache)
        index = Index(loaded.project)
        cached, _ = compile_all(index, BACKENDS, cache=cache)
    fresh, _ = compile_all(index, BACKENDS)
    assert cache.misses == 4 + len(fresh) and cache.hits == 4 + len(fresh)
    assert all("_load_plan" in vars(q) for q in cached)  # loaded only when read
    assert [(q.kind, q.name, q.plan, q.notes, q.sql) for q in cached] == [
        (q.kind, q.name, q.plan, q.notes, q.sql) for q in fresh]
    experiment = next(q.plan for q in cached if q.kind == "experiment")
    assert experiment.experiment is index.experiments["pricing"]  # the project's own object
    assert not any("_load_plan" in vars(q) for q in cached)


def test_damaged_entries_are_ignored_and_rebuilt(tmp_path: Path) -> None:
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    expected = build(specs, cache)
    entries = sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert len(entries) == 4 + len(expected) + 1  # files, queries, the queries' pack
    for number, entry in enumerate(entries):
        data = entry.read_bytes()
        damaged = (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"",
                   b"not a cache entry")[number % 4]
        entry.write_bytes(damaged)
    counts = (cache.hits, cache.misses)
    assert build(specs, cache) == expected
    assert sql_counts(cache, counts) == (0, len(entries) - 1)  # the pack is no lookup
    counts = (cache.hits, cache.misses)
    assert build(specs, cache) == expected  # rebuilt entries are good again
    assert sql_counts(cache, counts) == (len(entries) - 1, 0)


def test_a_damaged_pack_or_a_lost_plan_is_rebuilt(tmp_path: Path) -> None:
    """The queries' SQL is read from one pack, their plans from each query's entry: a
    damaged pack falls back to the entries, and a plan whose entry is lost is planned
    again, equal to the plan planning makes."""
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    expected = build(specs, cache)
    (pack,) = (tmp_path / "cache" / "pack").iterdir()
    pack.write_bytes(pack.read_bytes()[:-1])
    counts = (cache.hits, cache.misses)
    assert build(specs, cache) == expected
    assert sql_counts(cache, counts) == (4 + len(expected), 0)  # from the entries
    for entry in (tmp_path / "cache" / "sql").iterdir():
        entry.unlink()
    loaded = load([specs], specs.parent, cache)
    index = Index(loaded.project)
    counts = (cache.hits, cache.misses)
    cached, _ = compile_all(index, BACKENDS, cache=cache)
    assert sql_counts(cache, counts) == (len(expected), 0)  # the rebuilt pack
    fresh, _ = compile_all(index, BACKENDS)
    assert [(q.plan, q.sql) for q in cached] == [(q.plan, q.sql) for q in fresh]


def test_another_tool_never_reads_these_entries(tmp_path: Path) -> None:
    specs = write_project(tmp_path / "project")
    build(specs, Cache.open(tmp_path / "cache"))
    other = Cache.open(tmp_path / "cache")
    other.fingerprint = "a metricspec with other code"
    build(specs, other)
    assert other.hits == 0


def test_a_folder_others_may_write_to_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(CacheRefused, match="others may write"):
        Cache.open(folder)
    os.chmod(folder, 0o700)
    (folder / "sql").mkdir(mode=0o700)
    os.chmod(folder / "sql", 0o757)
    with pytest.raises(CacheRefused):
        Cache.open(folder)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheRefused):
        Cache.open(tmp_path / "file")


def test_the_command_line_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "repo"
    shutil.copytree(REPO / "specs", checkout / "specs")
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("METRICSPEC_NO_CACHE", raising=False)
    monkeypatch.delenv("METRICSPEC_CACHE_DIR", raising=False)

    def compile_(*extra: str, out: str) -> None:
        result = runner.invoke(app, ["-v", "compile", "specs", "-d", "all", "-o", out, *extra])
        assert result.exit_code == 0, result.output

    compile_(out="cold")
    folder = checkout / FOLDER_NAME
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    compile_(out="warm")
    compile_("--no-cache", out="uncached")
    assert tree(checkout / "cold") == tree(checkout / "warm") == tree(checkout / "uncached")
    assert len(tree(checkout / "warm")) > 50
    result = runner.invoke(app, ["check", "specs"])
    assert result.exit_code == 0, result.output
    shutil.rmtree(folder)  # safe to delete
    compile_(out="again")
    assert tree(checkout / "again") == tree(checkout / "cold")

    monkeypatch.setenv("METRICSPEC_CACHE_DIR", str(tmp_path / "elsewhere"))
    compile_(out="env")
    assert (tmp_path / "elsewhere" / "sql").is_dir()
    os.chmod(tmp_path / "elsewhere", 0o777)
    result = runner.invoke(app, ["compile", "specs", "-o", "refused"])
    assert result.exit_code == 0 and "others may write" in result.stderr
    monkeypatch.setenv("METRICSPEC_NO_CACHE", "1")
    shutil.rmtree(tmp_path / "elsewhere")
    compile_(out="off")
    assert not (tmp_path / "elsewhere").exists()


def test_no_cache_is_written_outside_the_folder_worked_in(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a configuration, `check x.mspec` in a folder would put the cache in the spec
    folder's parent — above where the user works; then nothing is cached. From the parent
    itself (`check p`) the cache is where the README says."""
    project = tmp_path / "a" / "p"
    project.mkdir(parents=True)
    shutil.copy(REPO / "specs" / "sources.mspec", project / "x.mspec")
    monkeypatch.delenv("METRICSPEC_NO_CACHE", raising=False)
    monkeypatch.delenv("METRICSPEC_CACHE_DIR", raising=False)
    monkeypatch.chdir(project)
    assert runner.invoke(app, ["check", "x.mspec"]).exit_code == 0
    assert not (tmp_path / "a" / FOLDER_NAME).exists()
    monkeypatch.chdir(tmp_path / "a")
    assert runner.invoke(app, ["check", "p"]).exit_code == 0
    assert (tmp_path / "a" / FOLDER_NAME).is_dir()


def test_a_project_read_from_the_cache_is_the_parsed_project(tmp_path: Path) -> None:
    """Spec objects are stored as their fields and rebuilt without validation: what is read
    back equals what parsing makes, field for field (and which fields were set), a copy
    with changes leaves the others alone, and the descriptions kept in the parse entries
    are the ones the query keys would compute."""
    from metricspec.cache import describe
    from metricspec.pipeline.cached import QueryKeys

    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    load([specs], specs.parent, cache)
    fresh = load([specs], specs.parent).project
    cached = load([specs], specs.parent, cache).project
    assert cache.hits == 4
    assert cached == fresh and cached.model_dump_json() == fresh.model_dump_json()
    pairs = [(a, b) for kind in ("sources", "metrics", "experiments")
             for a, b in zip(getattr(cached, kind), getattr(fresh, kind), strict=True)]
    assert all(a.model_fields_set == b.model_fields_set for a, b in pairs)
    first, second = cached.metrics[0], cached.metrics[1]
    renamed = first.model_copy(update={"name": "renamed"})
    assert "name" in renamed.model_fields_set and second.name == "buyers"
    assert second.model_fields_set == fresh.metrics[1].model_fields_set
    assert all(cache.description(a) == describe(b) for a, b in pairs)
    index = Index(cached)
    with_kept = QueryKeys(index, cache.fingerprint, cache.description)
    computed = QueryKeys(index, cache.fingerprint)
    for backend in BACKENDS:
        assert (with_kept.query("experiment", "pricing", backend)
                == computed.query("experiment", "pricing", backend))


def test_a_deleted_file_or_a_renamed_object_gives_the_uncached_output(tmp_path: Path) -> None:
    """Deleting a file drops its queries (the pack still holds them: never served, since
    no task asks for their keys); renaming a metric and its use rebuilds what used it, and
    renaming it back serves the first build's entries again."""
    specs = write_project(tmp_path / "project")
    cache = Cache.open(tmp_path / "cache")
    first = build(specs, cache)
    (specs / "other.mspec").unlink()
    without = build(specs, cache)
    assert without == build(specs, None)
    assert not any("tickets" in name for _, _, name in without)
    renamed = METRICS.replace("buyers", "purchasers")
    (specs / "metrics.mspec").write_text(renamed)
    counts = (cache.hits, cache.misses)
    after = build(specs, cache)
    assert after == build(specs, None)
    assert any("purchasers" in sql for sql in after.values())
    assert sql_counts(cache, counts)[1] == 1 + 2 * len(BACKENDS)  # the file, group, experiment
    (specs / "metrics.mspec").write_text(METRICS)
    (specs / "other.mspec").write_text(OTHER)
    counts = (cache.hits, cache.misses)
    assert build(specs, cache) == first
    assert sql_counts(cache, counts) == (4 + len(first), 0)
