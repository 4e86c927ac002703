"""`metricspec.lock`: the definitions every started experiment is pinned to.

The lock is committed with the specs, at the project root (the spec folder's parent). For
each experiment whose window has started it records, when it was pinned, the meaning hash
(`metricspec.hashing`) and the version of each of its metrics, with what each hash was made of
(its own definition and each dependency, hashed apart) so a change can be named. It is
JSON with sorted keys and a fixed indentation: the same pins give the same bytes.

`pin` adds experiments that started and are not pinned yet; it never re-pins one. `update`
re-pins one experiment's changed metrics after their versions were bumped, with a reason.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricspec.semantic import Index, experiment_metric_names, experiment_status

LOCK_NAME = "metricspec.lock"
FORMAT = 1


class LockError(ValueError):
    """A lock file that cannot be read, or a request it cannot satisfy."""


@dataclass(frozen=True)
class PinnedMetric:
    hash: str
    version: int
    parts: dict[str, str]  # "definition", "metric:NAME", "source:NAME" -> hash
    # its own definition as plain data (`hashing.definition`), so a change to it can be
    # named field by field as `diff` names it
    definition: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"hash": self.hash, "version": self.version, "parts": dict(sorted(
            self.parts.items()))}
        if self.definition is not None:
            data["definition"] = self.definition
        return data


@dataclass(frozen=True)
class Pin:
    """One experiment's pinned definitions."""

    window_start: str
    pinned_at: str
    metrics: dict[str, PinnedMetric]
    updates: tuple[dict[str, Any], ...] = ()

    @property
    def hash(self) -> str:
        """One hash of every pinned metric (name, version, meaning hash)."""
        from metricspec.hashing import digest  # imported when used: it imports sqlglot

        return digest({name: [m.version, m.hash] for name, m in self.metrics.items()})

    @property
    def short(self) -> str:
        return self.hash[:12]

    def to_json(self) -> dict[str, Any]:
        return {"window_start": self.window_start, "pinned_at": self.pinned_at,
                "hash": self.hash,
                "metrics": {n: m.to_json() for n, m in sorted(self.metrics.items())},
                "updates": list(self.updates)}


@dataclass
class Lock:
    experiments: dict[str, Pin] = field(default_factory=dict)
    path: Path | None = None

    def dumps(self) -> str:
        data = {"format": FORMAT, "about": "definitions pinned by `metricspec lock`; "
                "commit this file", "experiments": {
                    n: p.to_json() for n, p in sorted(self.experiments.items())}}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _parent(folder: Path) -> Path:
    """A folder's parent, as written when it can be (`specs` → `.`), resolved otherwise."""
    return folder.parent if folder.name and folder.name != ".." else folder.resolve().parent


def _folder(path: str | Path) -> Path:
    return Path(path) if Path(path).is_dir() else Path(path).parent


def lock_path(spec_paths: Iterable[str | Path]) -> Path:
    """Where the lock of these spec paths lives: the parent of the (first) spec folder."""
    for path in spec_paths:
        return _parent(_folder(path)) / LOCK_NAME
    return Path(LOCK_NAME)


def find_lock(spec_paths: Iterable[str | Path]) -> Path | None:
    """The lock file of these spec paths: in the spec folder's parent, or in the spec folder
    itself (a project whose specs sit at its root); None when there is none."""
    for path in spec_paths:
        folder = _folder(path)
        for candidate in (_parent(folder) / LOCK_NAME, folder / LOCK_NAME):
            if candidate.is_file():
                return candidate
        return None
    return None


def _metric(data: Any, where: str) -> PinnedMetric:
    if not (isinstance(data, dict) and isinstance(data.get("hash"), str)
            and isinstance(data.get("version"), int) and isinstance(data.get("parts"), dict)):
        raise LockError(f"{where}: expected `hash`, `version` and `parts`")
    own = data.get("definition")
    return PinnedMetric(data["hash"], data["version"], {
        str(k): str(v) for k, v in data["parts"].items()}, own if isinstance(own, dict) else None)


def loads(text: str, path: Path | None = None) -> Lock:
    """Read a lock; `LockError` names what is wrong."""
    name = str(path or LOCK_NAME)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockError(f"{name}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
            data.get("experiments"), dict):
        raise LockError(f"{name}: not a metricspec lock of format {FORMAT}")
    lock = Lock(path=path)
    for exp, pin in data["experiments"].items():
        where = f"{name}: experiment `{exp}`"
        if not (isinstance(pin, dict) and isinstance(pin.get("metrics"), dict)):
            raise LockError(f"{where}: expected `metrics`")
        lock.experiments[exp] = Pin(
            str(pin.get("window_start", "")), str(pin.get("pinned_at", "")),
            {m: _metric(v, f"{where}, metric `{m}`") for m, v in pin["metrics"].items()},
            tuple(u for u in pin.get("updates", []) if isinstance(u, dict)))
    return lock


def read(path: Path | None) -> Lock:
    """The lock at `path` (an empty lock when there is no file)."""
    if path is None or not path.is_file():
        return Lock(path=path)
    try:
        return loads(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: cannot be read ({exc})") from exc


def current(index: Index, experiment: str) -> dict[str, PinnedMetric]:
    """The definitions an experiment's metrics have now, as they would be pinned."""
    from metricspec.hashing import Hasher, definition

    hasher = Hasher(index)
    exp = index.experiments[experiment]
    return {name: PinnedMetric(hasher.metric(name), index.metrics[name].version,
                               hasher.metric_parts(name), definition(index.metrics[name]))
            for name in sorted(experiment_metric_names(exp)) if name in index.metrics}


def pin(lock: Lock, index: Index, today: dt.date, now: dt.datetime) -> list[str]:
    """Pin every experiment whose window has started and that is not pinned; the names of
    those pinned. Pinned experiments are left as they are."""
    added = []
    for name, exp in sorted(index.experiments.items()):
        if name in lock.experiments or exp.window is None:
            continue
        if experiment_status(exp, today) not in ("running", "finished"):
            continue
        lock.experiments[name] = Pin(exp.window.start.isoformat(), _stamp(now),
                                     current(index, name))
        added.append(name)
    return added


def update(lock: Lock, index: Index, experiment: str, reason: str,
           now: dt.datetime) -> list[str]:
    """Re-pin the metrics of `experiment` whose definitions changed, each of which must have
    a higher version than the one pinned; the names of those re-pinned."""
    old = lock.experiments.get(experiment)
    if old is None:
        raise LockError(f"experiment `{experiment}` is not pinned; `metricspec lock` pins it "
                        "once its window has started")
    if experiment not in index.experiments:
        raise LockError(f"experiment `{experiment}` is not in the specs")
    if not reason.strip():
        raise LockError("give the reason for re-pinning with --reason")
    now_metrics = current(index, experiment)
    changed = sorted(m for m in now_metrics if m not in old.metrics
                     or old.metrics[m].hash != now_metrics[m].hash)
    not_bumped = [m for m in changed if m in old.metrics
                  and now_metrics[m].version <= old.metrics[m].version]
    if not_bumped:
        raise LockError(f"metric `{not_bumped[0]}` of `{experiment}` changed without a new "
                        f"version: add `version {old.metrics[not_bumped[0]].version + 1}` "
                        "to it first")
    if not changed:
        return []
    updates = [*old.updates, *({"metric": m, "version": now_metrics[m].version,
                                "hash": now_metrics[m].hash, "reason": reason.strip(),
                                "at": _stamp(now)} for m in changed)]
    metrics = {**old.metrics, **{m: now_metrics[m] for m in changed}}
    lock.experiments[experiment] = Pin(old.window_start, old.pinned_at, metrics,
                                       tuple(updates))
    return changed


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
