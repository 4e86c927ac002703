"""`metricspec diff [BASE] [HEAD]`: what a change to the specs means, for review and CI.

Exit status: 0 nothing breaking, 1 breaking (an object removed, or a meaning change that
reaches a running experiment), 2 usage (an unknown revision, a missing folder)."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from metricspec.cli.common import (
    DEFAULT_WAREHOUSE,
    app,
    dialects_or_exit,
    error_line,
    load_or_exit,
    local_time,
    parse_time,
    usage_error,
)

if TYPE_CHECKING:
    from metricspec.diff import SpecDiff
    from metricspec.diff.numbers import Numbers
    from metricspec.workspace import Workspace


# the SQL diff's default dialect is the default warehouse's
DEFAULT_DIALECT = DEFAULT_WAREHOUSE.split(":", 1)[0]


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    github = "github"


def _load(folder: Path, side: str) -> Workspace:
    """A side's specs; a folder without spec files is an empty project (every object of
    the other side added or removed), said in a warning."""
    from metricspec import ir
    from metricspec.parse import spec_files
    from metricspec.workspace import Workspace

    if folder.is_dir() and not spec_files([folder]):
        error_line(f"{side} has no spec files; comparing with an empty project",
                   label="warning")
        return Workspace(project=ir.Project(span=ir.Span.unknown()), diagnostics=[])
    ws = load_or_exit([folder])
    if not ws.ok:
        error_line(f"{side} has {len(ws.errors)} spec error(s); comparing what could be read",
                   label="warning")
    return ws


def _numbers(result: SpecDiff, before: Workspace, after: Workspace, url: str,
             since: str | None, until: str | None, day: dt.date) -> Numbers:
    """The changed metrics' numbers under both definitions; a warehouse that cannot run
    them exits 3, as `run` does."""
    from metricspec.cli.run_commands import warehouse
    from metricspec.diff.numbers import warehouse_numbers

    start = parse_time(since, "--since", after.index.calendar)
    end = parse_time(until, "--until", after.index.calendar) or dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time())
    if start is None or start >= end:
        usage_error(f"the range {since} .. {end:%Y-%m-%d %H:%M} is empty")
    with warehouse(url) as conn:
        return warehouse_numbers(result, before.index, after.index, conn, start, end)


@app.command()
def diff(
    base: Annotated[str | None, typer.Argument(
        help="A folder or git revision (default: the merge base with the main branch).",
        show_default=False)] = None,
    head: Annotated[str | None, typer.Argument(
        help="A folder or git revision (default: the working tree).", show_default=False)] = None,
    spec_dir: Annotated[Path, typer.Option(
        "--spec-dir", "-s", help="The spec folder compared at each git revision.")] = Path(
        "specs"),
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = (
        DiffFormat.text),
    dialect: Annotated[list[str] | None, typer.Option(
        "--dialect", "-d", help="Dialect(s) of the SQL diff (default: duckdb).",
        show_default=False)] = None,
    today: Annotated[str | None, typer.Option(
        "--today", help="The date experiments are judged running against (default: today).",
        show_default=False)] = None,
    sql: Annotated[bool, typer.Option(help="Show the SQL diff of affected objects.")] = True,
    url: Annotated[str | None, typer.Option(
        "--warehouse", "-w", help="Also run the old and the new definition of each changed "
        "metric on this warehouse (needs --since).", show_default=False)] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Start of the range the numbers cover (YYYY-MM-DD[THH:MM]).",
        show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="End of that range, exclusive (default: the day after --today).",
        show_default=False)] = None,
) -> None:
    """Compare two revisions or folders of specs: what changed, its impact, the SQL diff.

    Objects added, removed and changed (in meaning or metadata only), and what they touch.
    """
    from metricspec.diff import compare
    from metricspec.diff.render import render
    from metricspec.diff.revisions import RevisionError, materialize, merge_base, repository_root
    from metricspec.diff.sqldiff import sql_changes

    backends = dialects_or_exit(dialect, (DEFAULT_DIALECT,))
    if url is not None and since is None:
        usage_error("--warehouse needs --since: the numbers cover [--since, --until)")
    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        usage_error(f"--today `{today}` is not a date (use YYYY-MM-DD)")
    folders = [Path(s) for s in (base, head) if s is not None and Path(s).is_dir()]
    with tempfile.TemporaryDirectory(prefix="metricspec-diff-") as tmp:
        try:
            repo = None if len(folders) == 2 else repository_root(spec_dir.resolve())
            relative = spec_dir.resolve().relative_to(repo).as_posix() if repo else "."
            base_side = base if base is not None else merge_base(repo) if repo else ""
            base_dir = materialize(base_side, repo, relative, Path(tmp) / "base")
            head_dir = (materialize(head, repo, relative, Path(tmp) / "head")
                        if head is not None else spec_dir)
        except (RevisionError, ValueError, OSError) as exc:
            usage_error(str(exc))
        before, after = _load(base_dir, "BASE"), _load(head_dir, "HEAD")
        if day is None:  # today where the head's calendar cuts its periods
            day = local_time(after.index.calendar).date()
        result = compare(before.index, after.index, day)
        changes = [change for backend in (backends if sql else [])
                   for change in sql_changes(result, before.index, after.index, backend)]
        extracted = Path(tmp) / "head"

        def file_name(path: str) -> str:  # a revision's files, named as in the repository
            return (Path(path).relative_to(extracted).as_posix()
                    if Path(path).is_relative_to(extracted) else path)

        numbers = (None if url is None else
                   _numbers(result, before, after, url, since, until, day))
        text = render(result, changes, fmt.value, file_name, numbers)
    sys.stdout.write(text)
    raise typer.Exit(1 if result.breaking else 0)
