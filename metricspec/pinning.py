"""The definitions an experiment is analysed with: those `metricspec.lock` pinned.

When an experiment's metrics still mean what was pinned, the current specs are used. When
they changed (after a version bump, so `check` passed, but before `metricspec lock --update`,
or for a finished experiment whose metrics moved on), the pinned definitions are recovered
from git: the newest commit whose spec folder gives every pinned meaning hash, extracted with
`diff.revisions`. When no commit gives them, `PinnedError` says so: the current definitions
are never used in their place.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from metricspec.check import check
from metricspec.diff.revisions import RevisionError, extract, repository_root
from metricspec.lockfile import LOCK_NAME, Lock, Pin, current
from metricspec.parse import load, spec_files
from metricspec.semantic import Index

MAX_COMMITS = 500  # how far back the history of the spec folder is searched


class PinnedError(ValueError):
    """The pinned definitions of an experiment cannot be recovered."""


@dataclass(frozen=True)
class Pinned:
    """The index to analyse an experiment with, and where its definitions came from."""

    index: Index
    pin: Pin | None  # None: the experiment is not pinned
    revision: str | None = None  # the commit they came from; None: the current specs

    @property
    def line(self) -> str:
        """`definitions pinned: <short hash> (metricspec.lock)`, or "" when not pinned."""
        if self.pin is None:
            return ""
        where = f", from commit {self.revision[:12]}" if self.revision else ""
        return f"definitions pinned: {self.pin.short} ({LOCK_NAME}{where})"


def _matches(index: Index, experiment: str, pin: Pin) -> bool:
    if experiment not in index.experiments:
        return False
    now = current(index, experiment)
    return all(name in now and now[name].hash == pinned.hash
               for name, pinned in pin.metrics.items())


def _commits(repo: Path, spec_path: str) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(repo), "log", f"--max-count={MAX_COMMITS}", "--format=%H", "--",
         spec_path], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PinnedError(f"git log of {spec_path} failed: {done.stderr.strip()}")
    return done.stdout.split()


def _index_at(repo: Path, commit: str, spec_path: str, into: Path) -> Index | None:
    """The checked specs of one commit (None when they have errors or none are there)."""
    folder = extract(repo, commit, spec_path, into / commit)
    if not spec_files([folder]):
        return None
    loaded = load([folder])
    found = check(loaded.project, broken=loaded.broken)
    if any(d.is_error for d in [*loaded.diagnostics, *found]):
        return None
    return Index(loaded.project)


def pinned_index(index: Index, lock: Lock | None, experiment: str,
                 spec_dir: Path) -> Pinned:
    """The index to analyse `experiment` with (see the module docstring)."""
    pin = lock.experiments.get(experiment) if lock is not None else None
    if pin is None:
        return Pinned(index, None)
    if _matches(index, experiment, pin):
        return Pinned(index, pin)
    try:
        repo = repository_root(spec_dir.resolve())
        spec_path = spec_dir.resolve().relative_to(repo).as_posix()
    except (RevisionError, ValueError) as exc:
        raise PinnedError(_missing(experiment, pin, f"{spec_dir} is in no git repository "
                                   f"({exc})")) from None
    with tempfile.TemporaryDirectory(prefix="metricspec-pinned-") as tmp:
        for commit in _commits(repo, spec_path):
            try:
                found = _index_at(repo, commit, spec_path, Path(tmp))
            except RevisionError:
                continue
            if found is not None and _matches(found, experiment, pin):
                return Pinned(found, pin, commit)
    raise PinnedError(_missing(experiment, pin, f"no commit of {spec_path}/ gives them"))


def _missing(experiment: str, pin: Pin, why: str) -> str:
    return (f"experiment `{experiment}` is pinned to definitions {pin.short} in {LOCK_NAME}, "
            f"which differ from the current specs, and {why}; it is not analysed with other "
            "definitions. Restore the pinned ones, or bump the changed metrics' versions and "
            f"re-pin with `metricspec lock --update {experiment} --reason ...`")
