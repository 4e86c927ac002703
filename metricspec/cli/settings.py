"""Options every command shares: the project configuration, `--quiet` and `--verbose`.

The configuration (`metricspec.config`) becomes the `default_map` of click (inside Typer), so
each option keeps click's own precedence: the command line, then the option's environment
variable, then the file, then the built-in default. `--quiet`, `--verbose` and `--config`
are global options that may also be written after the command's name (`metricspec check
-q`): the group moves them to the front before click parses anything.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

FLAGS = {"-q", "--quiet", "-v", "--verbose"}
WITH_VALUE = {"--config"}
# commands that do not read a project (so a broken configuration does not stop them)
NO_PROJECT = {"init", "schema"}


@dataclass
class Verbosity:
    quiet: bool = False
    verbose: bool = False


VERBOSITY = Verbosity()
# the configuration of this run (None: no file found, or a command that reads no project)
CONFIG: list[Any] = []


class Group(TyperGroup):
    """The `metricspec` group: global options are accepted anywhere before `--`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist(args))


def hoist(args: list[str]) -> list[str]:
    """Move the global options to the front (before the command's name).

    >>> hoist(["check", "specs", "-q", "--config", "x.toml"])
    ['-q', '--config', 'x.toml', 'check', 'specs']
    >>> hoist(["sql", "--", "-q"])
    ['sql', '--', '-q']
    """
    front: list[str] = []
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest.append(arg)
            rest.extend(items)
            break
        if arg in FLAGS or arg.split("=", 1)[0] in WITH_VALUE:
            front.append(arg)
            if arg in WITH_VALUE:
                front.append(next(items, ""))
        else:
            rest.append(arg)
    return front + rest


def configure(ctx: typer.Context, config: Path | None, quiet: bool, verbose: bool) -> None:
    """Apply the global options and the project configuration to the command about to run."""
    from metricspec.cli.common import err
    from metricspec.config import ConfigError, load_config

    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    VERBOSITY.quiet, VERBOSITY.verbose = quiet, verbose
    CONFIG.clear()
    logger = logging.getLogger("metricspec")
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
    if ctx.invoked_subcommand in NO_PROJECT or ctx.resilient_parsing:
        return
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        from metricspec.diagnostics import SourceCache, render_text

        cache = SourceCache({exc.file: exc.text})
        for diagnostic in exc.diagnostics:
            err.print(render_text(diagnostic, cache), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if loaded.file is None:
        return
    CONFIG[:] = [loaded]
    verbose_note(f"configuration: {loaded.file}")
    group = ctx.command
    assert isinstance(group, TyperGroup)
    ctx.default_map = {name: defaults(name, command, loaded)
                       for name, command in group.commands.items()}


def _shown(path: Path) -> str:
    """A configured path as the user would type it: relative to the current folder when
    inside it (diagnostics then name files as `specs/…`)."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def defaults(name: str, command: Any, config: Any) -> dict[str, Any]:
    """The options of one command the configuration gives a default to."""
    found: dict[str, Any] = {}
    specs = [_shown(p) for p in config.specs]
    for param in command.params:
        key = param.name
        if key in ("paths", "spec_dir") and param.param_type_name == "option":
            found[key] = specs if param.multiple else specs[0]
        elif key == "url" and name != "plan" and config.warehouse:
            found[key] = config.warehouse
        elif key == "dialect" and param.multiple and config.dialects is not None:
            found[key] = list(config.dialects)
        elif key == "out_dir" and config.out is not None:
            found[key] = _shown(config.out)
        elif key == "output" and name == "docs" and config.site is not None:
            found[key] = _shown(config.site)
        elif key == "strict" and config.strict is not None:
            found[key] = config.strict
    return found


def root_for(paths: list[Path]) -> Path:
    """The project root spec file names are recorded relative to in outputs: the
    configuration's folder, else the spec folder's parent (`metricspec.config.project_root`)."""
    from metricspec.config import Config, project_root

    return project_root(CONFIG[0] if CONFIG else Config.default(), paths)


def note(message: str) -> None:
    """An informational line on stdout (a summary, a file written), not printed with -q."""
    from metricspec.cli.common import out

    if not VERBOSITY.quiet:
        out.print(message, markup=False)


def verbose_note(message: str) -> None:
    """A line on stderr printed only with --verbose."""
    from metricspec.cli.common import err

    if VERBOSITY.verbose:
        err.print(message, markup=False, highlight=False)


class Stopwatch:
    """`--verbose` timings: each step named with the seconds since the previous one."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def step(self, name: str) -> None:
        now = time.perf_counter()
        verbose_note(f"[{now - self.started:6.2f} s] {name} ({now - self.last:.2f} s)")
        self.last = now
