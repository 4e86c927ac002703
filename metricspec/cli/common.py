"""What every command shares: the Typer app, the consoles, common options, and the
helpers that turn bad input into a message and exit status 2 instead of a traceback.

Only what every command needs is imported here (Typer, rich's console); the library is
imported inside the functions that use it, so `--version` and `check` start without the
SQL emitter, the statistics engine or a warehouse driver (tests/test_startup.py).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from metricspec.backend_help import dialect_help, warehouse_help
from metricspec.cli.settings import Group
from metricspec.forked import cores
from metricspec.safetext import printable

if TYPE_CHECKING:
    from metricspec import ir
    from metricspec.backends import Backend
    from metricspec.cache import Cache
    from metricspec.run.cost import Budget
    from metricspec.workspace import Workspace

app = typer.Typer(
    name="metricspec",
    help="Declarative metric specs: check them, compile them to warehouse SQL, run experiments "
    "and monitors.",
    no_args_is_help=True,
    cls=Group,  # --quiet, --verbose and --config anywhere (cli/settings.py)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def _width() -> int | None:
    """Piped output (CI logs, files) gets a wide page instead of rich's 80 columns, unless
    COLUMNS asks for a width (as `COLUMNS=80 metricspec demo | less` does)."""
    if sys.stdout.isatty():
        return None
    try:
        return max(40, int(os.environ.get("COLUMNS", "140")))
    except ValueError:
        return 140


# Reports wrap at words inside their boxes (soft wrap would let rich crop them at the edge).
out = Console(highlight=False, soft_wrap=False, width=_width())
err = Console(stderr=True, highlight=False, soft_wrap=True)


PathsArg = Annotated[list[Path] | None, typer.Argument(
    help="Spec files or folders (default: specs/).", show_default=False)]
DialectOpt = Annotated[list[str] | None, typer.Option(
    "--dialect", "-d", help=dialect_help(), show_default=False)]


def error_line(message: str, code: str | None = None, label: str = "error") -> None:
    """Print `error[CODE]: message` on stderr: the message is never read as rich markup, and
    its control characters (from names, paths or data) are shown, not sent to the terminal;
    line breaks stay (a warehouse's message spans lines)."""
    head = f"{label}[{code}]" if code else label
    err.print(f"[bold red]{head}[/]: ", markup=True, end="")
    err.print(printable(message, keep="\n\t"), markup=False, highlight=False)


def usage_error(message: str, code: str | None = None) -> NoReturn:
    """Print `error[CODE]: message` (codes from the MS9xx family) and exit 2."""
    error_line(message, code)
    raise typer.Exit(2)


@contextmanager
def output_errors() -> Iterator[None]:
    """Turn a file that cannot be written into `error[MS910]: cannot write PATH: reason`
    and exit status 3 (an I/O error, like a warehouse error), never a traceback."""
    from metricspec.outputs import OutputError

    try:
        yield
    except OutputError as exc:
        error_line(str(exc), "MS910")
        raise typer.Exit(3) from None


def dialects_or_exit(names: list[str] | None, default: tuple[str, ...] = ()) -> list[Backend]:
    if not (names or default):
        return []
    from metricspec.backends import UnknownBackend, resolve_dialects

    try:
        return resolve_dialects(list(names or default))
    except UnknownBackend as exc:
        usage_error(str(exc), "MS902")


def load_or_exit(paths: list[Path] | None, backends: list[Backend] | None = None,
                 *, relative: bool = False, cache: Cache | None = None,
                 compile_check: bool = True) -> Workspace:
    """Load specs, checked for `backends`; with `relative`, files are named relative to the
    project root (for outputs that must be the same from any folder: SQL headers, plans,
    docs); `compile_check` as in `Workspace.load`."""
    from metricspec.cli.settings import root_for
    from metricspec.workspace import NoSpecFiles, Workspace

    paths = paths or [Path("specs")]
    try:
        return Workspace.load(*paths, backends=backends or [],
                              root=root_for(paths) if relative else None, cache=cache,
                              compile_check=compile_check, workers=cores())
    except NoSpecFiles as exc:
        usage_error(str(exc), exc.code)


GrainOpt = Annotated[str, typer.Option("--grain", "-g",
                                       help="Time grain: minute, 5 minutes, hour, day, week, "
                                       "month, quarter, year, fiscal_quarter, fiscal_year, "
                                       "or none (one total over the range).")]
DimensionOpt = Annotated[list[str] | None, typer.Option(
    "--dimension", "--by", help="Dimension(s) to group by.", show_default=False)]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Start: YYYY-MM-DD[THH:MM], an offset (-7d, -12h, -3mo) or a period "
    "(today, yesterday, this/last week, month, quarter, year: its start).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="End, exclusive: as --since (a period: its end).")]


def cache_or_none(paths: list[Path] | None, no_cache: bool) -> Cache | None:
    """The compile cache of the project (`metricspec.cache`), unless turned off; a folder
    that cannot be used safely is a warning, and the command runs without a cache."""
    from metricspec.cache import (
        ENV_FOLDER,
        Cache,
        CacheRefused,
        default_folder,
        disabled_by_environment,
    )
    from metricspec.cli.settings import CONFIG, root_for

    if no_cache or disabled_by_environment():
        return None
    root = root_for(paths or [Path("specs")]).resolve()
    configured = bool(CONFIG and CONFIG[0].file) or bool(os.environ.get(ENV_FOLDER))
    if not configured and not root.is_relative_to(Path.cwd().resolve()):
        # no configuration names a project: write nothing outside the folder worked in
        # (`metricspec check ../x.mspec` would otherwise create ../../.metricspec_cache)
        return None
    try:
        return Cache.open(default_folder(root))
    except CacheRefused as exc:
        error_line(str(exc), label="warning")
        return None


NoCacheOpt = Annotated[bool, typer.Option(
    "--no-cache", help="Parse and compile everything, without reading or writing the compile "
    "cache (.metricspec_cache/ at the project root, or $METRICSPEC_CACHE_DIR).")]


def parse_time(value: str | None, option: str,
               calendar: ir.Calendar | None = None) -> dt.datetime | None:
    """An ISO date or time, an offset (`-7d`) or a period (`last month`): cli/ranges.py;
    a wall-clock time in the `calendar`'s zone (`today` is today there; default UTC), weeks
    starting on its `week_start` (ISO Monday when None)."""
    from metricspec.cli.ranges import RangeError, resolve
    from metricspec.plan.calendar import WEEKDAYS
    from metricspec.plan.zones import local_now, project_zone

    if value is None:
        return None
    now = local_now(project_zone(calendar)) if calendar is not None else None
    week_start = calendar.week_start if calendar is not None else None
    first = WEEKDAYS.index(week_start) if week_start in WEEKDAYS else 0
    try:
        return resolve(value, "until" if option == "--until" else "since", now,
                       week_start=first)
    except RangeError as exc:
        usage_error(f"{option} {exc}")


def local_time(calendar: ir.Calendar) -> dt.datetime:
    """Now, as a wall-clock time in the calendar's zone (UTC without one): the terms
    experiment windows and ranges are read in, whatever the machine's zone."""
    from metricspec.plan.zones import local_now, project_zone

    return local_now(project_zone(calendar))


DEFAULT_WAREHOUSE = "duckdb:///metricspec.duckdb"
WarehouseOpt = Annotated[str, typer.Option(
    "--warehouse", "-w", help=warehouse_help(), envvar="METRICSPEC_WAREHOUSE")]
MaxScanOpt = Annotated[str | None, typer.Option(
    "--max-scan", envvar="METRICSPEC_MAX_SCAN", show_default=False,
    help="Refuse a query that would read more than this (`10GB`, `500MB`, `5M rows`), "
    "asking the warehouse before it runs.")]


def parse_max_scan(value: str | None) -> Budget | None:
    """The `--max-scan` budget, or a usage error (exit 2) saying how to write one."""
    if value is None:
        return None
    from metricspec.run.cost import parse_budget

    try:
        return parse_budget(value)
    except ValueError as exc:
        usage_error(f"--max-scan: {exc}")


SpecDirOpt = Annotated[list[Path] | None, typer.Option(
    "--spec-dir", "-s", help="Spec files or folders (default: the configuration's `specs`, "
    "else specs/).", show_default=False)]


def load_ok_or_exit(paths: list[Path] | None, *, relative: bool = False,
                    no_cache: bool = False) -> Workspace:
    """Load specs for a command that needs them clean: print the errors and exit 1 if not.
    Files parsed and a project checked before are read from the compile cache (unless
    `no_cache`: `--no-cache`)."""
    ws = load_or_exit(paths, relative=relative, cache=cache_or_none(paths, no_cache))
    if not ws.ok:
        out.print(ws.render("text", ws.errors, out.width), markup=False)
        err.print(f"[red]failed[/]: {len(ws.errors)} spec error(s); run `metricspec check`",
                  markup=True)
        raise typer.Exit(1)
    return ws


def engine_ok_or_exit(ws: Workspace, uses: Iterable[str] = (), *, url: str | None = None,
                      backends: list[Backend] | None = None) -> None:
    """What the engine a command compiles for (`backends`) or runs on (`url`) cannot
    compute, among the metrics of the objects it `uses` (every object when none), printed
    as spec errors, as `check --dialect` reports them; exit 1. Checked before connecting,
    so it is never a failure halfway through; a metric the command does not use may be one
    only another warehouse computes."""
    chosen = [*(backends or []), *(backends_of_url(url) if url is not None else [])]
    found = ws.engine_errors(chosen, uses) if chosen else []
    if found:
        out.print(ws.render("text", found, out.width), markup=False)
        dialects = ",".join(b.name for b in chosen)
        err.print(f"[red]failed[/]: {len(found)} spec error(s) for {dialects}; run "
                  f"`metricspec check --dialect {dialects}`", markup=True)
        raise typer.Exit(1)


def backends_of_url(url: str) -> list[Backend]:
    """The backend a warehouse URL names (none for a URL that names none: connecting
    reports that)."""
    from metricspec.backends import UnknownBackend, backend_for_scheme

    scheme, separator, _ = url.partition("://")
    try:
        return [backend_for_scheme(scheme.lower())] if separator else []
    except UnknownBackend:
        return []


def name_or_exit(ws: Workspace, name: str, kinds: tuple[str, ...]) -> None:
    """Exit 2 with a did-you-mean when `name` is not one of the given kinds of object."""
    from metricspec.diagnostics import did_you_mean

    names = [n for kind in kinds for n in ws.index.objects[kind]]
    if name in names:
        return
    hint = did_you_mean(name, names)
    if hint is None and Path(name).exists():  # `metricspec query csat specs/`
        hint = f"`{name}` is a file or folder: give spec paths with `--spec-dir {name}`"
    known = sorted(names)
    listed = ", ".join(known[:12]) + (f", … ({len(known)} in all)" if len(known) > 12 else "")
    usage_error(f"unknown {' or '.join(kinds)} `{name}`" + (f" — {hint}" if hint else "")
                + ("" if hint or not names else f" (known: {listed})"), "MS901")


@contextmanager
def counting(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar of `label`, done of total, on stderr while the block runs, redrawn
    from the caller's own calls (no thread of its own: the work may fork); None when stderr
    is not a terminal or with --quiet."""
    from metricspec.cli.settings import VERBOSITY

    if not err.is_terminal or VERBOSITY.quiet:
        yield None
        return
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=err,
                   transient=True, auto_refresh=False)
    task = bar.add_task(label, total=None)
    last = [0.0]

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        now = time.monotonic()
        if now - last[0] >= 0.1 or done == total:
            last[0] = now
            bar.refresh()

    with bar:
        yield update
