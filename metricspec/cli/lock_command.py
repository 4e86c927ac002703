"""`metricspec lock`: pin the metric definitions of every experiment whose window started.

The lock (`metricspec.lock`, beside the spec folder) is written through `outputs`. An
experiment already pinned is never pinned again: `--update NAME --reason TEXT` re-pins its
changed metrics, and only once their `version` was bumped.

Exit status: 0 written (or nothing to pin), 1 the specs have errors or the update is
refused, 2 usage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from metricspec.cli.common import (
    NoCacheOpt,
    app,
    cache_or_none,
    error_line,
    load_or_exit,
    local_time,
    out,
    output_errors,
    usage_error,
)

if TYPE_CHECKING:
    from metricspec.pinning import Pinned
    from metricspec.workspace import Workspace


@app.command()
def lock(
    spec_dir: Annotated[Path, typer.Option(
        "--spec-dir", "-s", help="The spec folder (the lock is written beside it).")] = Path(
        "specs"),
    update: Annotated[str | None, typer.Option(
        "--update", help="Re-pin this experiment's changed metrics (their versions bumped).",
        show_default=False)] = None,
    reason: Annotated[str, typer.Option(
        "--reason", help="Why the experiment is re-pinned (recorded in the lock).")] = "",
    today: Annotated[str | None, typer.Option(
        "--today", help="The date windows are judged started against (default: today).",
        show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Pin the metric definitions of started experiments in metricspec.lock."""
    from metricspec import outputs
    from metricspec.lockfile import LockError, lock_path, pin, read
    from metricspec.lockfile import update as update_pins

    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        usage_error(f"--today `{today}` is not a date (use YYYY-MM-DD)")
    ws = load_or_exit([spec_dir], cache=cache_or_none([spec_dir], no_cache))
    blocking = [d for d in ws.errors if d.code != "MS517"]
    if blocking:
        out.print(ws.render("text", blocking, out.width), markup=False)
        error_line(f"the specs have {len(blocking)} error(s); nothing pinned")
        raise typer.Exit(1)
    # today in the project's zone, read once check has judged the zone (MS440)
    day = day or local_time(ws.index.calendar).date()
    path = ws.lock.path if ws.lock is not None and ws.lock.path else lock_path([spec_dir])
    now = dt.datetime.now(dt.UTC)
    try:
        current = read(path)
        if update is not None:
            changed = update_pins(current, ws.index, update, reason, now)
            message = (f"re-pinned {', '.join(f'`{m}`' for m in changed)} of `{update}`"
                       if changed else f"`{update}`: nothing changed since it was pinned")
        else:
            added = pin(current, ws.index, day, now)
            message = (f"pinned {', '.join(f'`{n}`' for n in added)}" if added
                       else "nothing to pin: every started experiment is pinned")
    except LockError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None
    with output_errors():
        outputs.write_text(path, current.dumps())
    out.print(f"{message} ({path.name})", markup=False)


def pinned_or_exit(ws: Workspace, experiment: str, paths: list[Path] | None) -> Pinned:
    """The definitions to analyse `experiment` with: those pinned in metricspec.lock
    (recovered from git when the specs moved on); exit 1 when they cannot be found."""
    from metricspec.pinning import PinnedError, pinned_index

    try:
        return pinned_index(ws.index, ws.lock, experiment, (paths or [Path("specs")])[0])
    except PinnedError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None
