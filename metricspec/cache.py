"""The compile cache: a plain folder of content-addressed entries, safe to delete.

Two kinds of entry are kept, each under a key that hashes everything its value depends on:

* `parse/<key>`: one spec file's parse result, with each object's description (`describe`:
  the hash of its definition and the names it mentions, which the query keys are made of, so
  a warm build does not serialise every object again); the key hashes the tool's
  fingerprint, the file's name (it is in every span) and its text;
* `sql/<key>`: one object's compiled SQL for one backend; the key (made in
  `metricspec.pipeline.cached`) hashes the fingerprint, the backend's definition, the request
  and the full definitions and files of the object and of everything it depends on;
* `pack/<key>`: the SQL and header notes of all the queries last compiled together for a
  set of backends, by their `sql` keys, read in one go (`get_pack`) and rewritten when it
  misses many of them (a few changed queries are read from their `sql` entries); the plans
  stay in the `sql` entries, read only when asked for.

The fingerprint (`fingerprint()`) is metricspec's version, the versions of the libraries that
shape parse results and SQL, and a hash of every file of the package, its grammar and its
backend definitions: a changed line of code, in a checkout or an upgrade, never serves an
entry made by other code. Keys are never reused for other content, so an entry is never
stale; nothing is ever invalidated, only added (delete the folder to reclaim the space).

Entries are pickles (spec objects as their fields, rebuilt without validation: the key
says they were valid), so the folder is private: it is created with mode 0700 and a folder
that does not belong to the user, or that others may write to, is not used at all (`open`
says why). Each entry carries the SHA-256 of its payload; one that is truncated, damaged or
cannot be loaded is ignored (and removed), and the value is computed again. Entries are
written atomically (`metricspec.outputs`), so concurrent processes never read half of one;
a cache that cannot be written is no error.

The folder is `.metricspec_cache/` at the project root, or `$METRICSPEC_CACHE_DIR`;
`--no-cache` or `METRICSPEC_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import stat
import sys
from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from metricspec import __version__
from metricspec.outputs import OutputError, write_bytes
from metricspec.resources import backends_dir, grammar_path

FOLDER_NAME = ".metricspec_cache"
_KINDS = ("parse", "check", "sql", "pack", "build")
ENV_FOLDER = "METRICSPEC_CACHE_DIR"
ENV_OFF = "METRICSPEC_NO_CACHE"
_MAGIC = b"metricspec-cache-2\n"
_LIBRARIES = ("sqlglot", "lark", "ruamel.yaml", "pydantic", "pydantic_core")
_PACKAGE = Path(__file__).resolve().parent
T = TypeVar("T")
Extent = tuple[int, int, int, int]  # first line and column, last line and column
Description = tuple[str, frozenset[str], Extent]
_NAME = re.compile(r'"name":("(?:[^"\\]|\\.)*")')
_SPAN = re.compile(r'"line":(\d+),"column":(\d+),"end_line":(\d+),"end_column":(\d+)')


class CacheRefused(Exception):
    """A cache folder that cannot be used safely, with the reason."""


@cache
def fingerprint() -> str:
    """What the tool is: its version, its libraries' versions and a hash of its own files
    (Python sources, grammar, backend definitions), so any change of code is a new tool."""
    digest = hashlib.sha256(f"metricspec {__version__}\n".encode())
    for library in _LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library} {version}\n".encode())
    files = [*sorted(_PACKAGE.rglob("*.py")), grammar_path(),
             *sorted(backends_dir().glob("*.toml"))]
    for path in files:
        digest.update(path.relative_to(_PACKAGE.parent).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def key(*parts: str | bytes) -> str:
    """The SHA-256 of the parts, each length-prefixed (no two lists of parts collide)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(f"{len(data)}:".encode() + data)
    return digest.hexdigest()


def describe(obj: Any) -> Description:
    """The SHA-256 of a spec object's JSON (its whole definition, spans included), every
    `name` field in it (the names of its references, `Ref` and `MetricRef`, and some more:
    its own, its columns', which only add dependencies), and the part of its file it takes
    (from the first place any of its spans starts to the last any ends)."""
    text = obj.model_dump_json()
    names = frozenset(sys.intern(json.loads(found) if "\\" in found else found[1:-1])
                      for found in _NAME.findall(text))  # shared: stored once per entry
    spans = [(int(a), int(b), int(c), int(d)) for a, b, c, d in _SPAN.findall(text)
             if a != "0"]  # `Span.unknown()` is nowhere
    first = min(((a, b) for a, b, _, _ in spans), default=(0, 0))
    last = max(((c, d) for _, _, c, d in spans), default=(0, 0))
    return hashlib.sha256(text.encode()).hexdigest(), names, (*first, *last)


def _private(path: Path) -> bool:
    """Whether `path` is a real folder of this user that no one else may write to."""
    info = path.lstat()
    getuid = getattr(os, "getuid", None)
    owner = getuid is None or info.st_uid == getuid()
    return owner and stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o022


class Cache:
    """One cache folder; `hits` and `misses` count the lookups of this process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self.fingerprint = fingerprint()
        self._described: dict[int, tuple[Any, Description]] = {}
        self._prefetching: dict[str, Any] = {}  # name -> the thread reading it
        self._prefetched: dict[str, memoryview | None] = {}

    @classmethod
    def open(cls, folder: str | Path) -> Cache:
        """The cache in `folder`, created private to the user; `CacheRefused` when the
        folder (or one of its entry folders) cannot be created, is not a folder, belongs to
        someone else or may be written by others."""
        path = Path(folder)
        try:
            for part in (path, *(path / kind for kind in _KINDS)):
                part.mkdir(mode=0o700, parents=part is path, exist_ok=True)
                if not _private(part):
                    raise CacheRefused(
                        f"the cache folder {part} belongs to another user or others may write "
                        f"to it; metricspec does not use it (delete it, or set {ENV_FOLDER})")
        except OSError as exc:
            raise CacheRefused(f"cannot use the cache folder {path}: "
                               f"{(exc.strerror or str(exc)).lower()}") from exc
        return cls(path)

    def _path(self, kind: str, name: str) -> Path:
        return self.folder / kind / name

    def get(self, kind: str, name: str,
            resolve: Callable[[Any], Any] | None = None) -> Any | None:
        """The value stored under `name`, or None (missing, truncated, damaged, unloadable:
        a bad entry is removed, so it is rebuilt). `resolve` gives back the objects `put`
        stored by reference (see there); a reference it cannot resolve is a miss."""
        value = self._read(kind, name, resolve)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def _read(self, kind: str, name: str,
              resolve: Callable[[Any], Any] | None = None) -> Any | None:
        """`get` without counting a hit or a miss."""
        return self._load(kind, name, self._payload(kind, name), resolve)

    def _payload(self, kind: str, name: str) -> memoryview | None:
        """The checked payload of an entry, or None (missing; damaged: then removed)."""
        path = self._path(kind, name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + 32
        payload = memoryview(data)[head:]  # not copied: packs are tens of megabytes
        if data[:len(_MAGIC)] == _MAGIC and data[len(_MAGIC):head] == hashlib.sha256(
                payload).digest():
            return payload
        with suppress(OSError):
            path.unlink()
        return None

    def _load(self, kind: str, name: str, payload: memoryview | None,
              resolve: Callable[[Any], Any] | None) -> Any | None:
        if payload is None:
            return None
        try:
            return loads(payload, resolve)  # a private folder (`open`), a checked entry
        except Exception:
            with suppress(OSError):
                self._path(kind, name).unlink()
            return None

    def put(self, kind: str, name: str, value: Any,
            reference: Callable[[Any], Any] | None = None) -> None:
        """Store `value` under `name`; a value that cannot be stored is no error. The parts
        of `value` for which `reference` gives something other than None are stored as that
        reference (objects the reader has already, such as spec objects whose definitions
        the key covers), and given back by the `resolve` of `get`."""
        try:
            payload = dumps(value, reference)
            write_bytes(self._path(kind, name),
                        _MAGIC + hashlib.sha256(payload).digest() + payload)
        except (OutputError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            pass

    def parsed(self, name: str, text: str, parse: Callable[[str, str], T]) -> T:
        """`parse(text, name)`, from the cache when this tool parsed this file before; the
        descriptions of its objects (`objects`) are kept for `description`."""
        found = self.find_parsed(name, text)
        if found is not None:
            return found  # type: ignore[no-any-return]
        result = parse(text, name)
        self.keep_parsed(name, text, result)
        return result

    def find_parsed(self, name: str, text: str) -> Any | None:
        """What `parsed` would read from the cache for this file, or None (a miss)."""
        found = self.get("parse", key(self.fingerprint, name, text))
        objects: tuple[Any, ...]
        if (isinstance(found, tuple) and len(found) == 2 and isinstance(found[1], tuple)
                and len(found[1]) == len(objects := tuple(getattr(found[0], "objects", ())))):
            self._remember(objects, found[1])
            return found[0]
        return None

    def keep_parsed(self, name: str, text: str, result: Any) -> tuple[Description, ...]:
        """Store what parsing this file gave; the descriptions of its objects."""
        objects = tuple(getattr(result, "objects", ()))
        descriptions = tuple(describe(obj) for obj in objects)
        self.put("parse", key(self.fingerprint, name, text), (result, descriptions))
        self._remember(objects, descriptions)
        return descriptions

    def remember(self, result: Any, descriptions: tuple[Description, ...]) -> None:
        """Keep for `description` what `keep_parsed` gave for `result` in another process
        (a forked parser stored the entry and sent both back)."""
        self._remember(tuple(getattr(result, "objects", ())), descriptions)

    def _remember(self, objects: tuple[Any, ...],
                  descriptions: tuple[Description, ...]) -> None:
        for obj, description in zip(objects, descriptions, strict=True):
            self._described[id(obj)] = (obj, description)

    def description(self, obj: Any) -> Description:
        """`describe(obj)`, kept from the parse entry when `obj` was read by `parsed`."""
        found = self._described.get(id(obj))  # holds `obj`: its address is not reused
        return found[1] if found is not None else describe(obj)

    def prefetch_pack(self, name: str) -> Callable[[], None]:
        """Start reading the pack `name` in a thread: reading its file and checking it leave
        the interpreter free, so a pack of tens of megabytes is read while the caller
        parses. `get_pack` takes it; the function returned waits for the thread (call it
        before forking)."""
        import threading  # only `compile` reads ahead: not at every command's start-up

        def read() -> None:
            self._prefetched[name] = self._payload("pack", name)

        thread = threading.Thread(target=read, name="metricspec-pack", daemon=True)
        thread.start()
        self._prefetching[name] = thread
        return thread.join

    def get_pack(self, name: str, wanted: Iterable[str]) -> dict[str, Any] | None:
        """The values of the pack `name` (`put_pack`) under the keys in `wanted`, or None
        without a (good) pack; each found counts as a hit (the caller looks the others up
        with `get`)."""
        thread = self._prefetching.pop(name, None)
        if thread is not None:
            thread.join()
            found = self._load("pack", name, self._prefetched.pop(name, None), None)
        else:
            found = self._read("pack", name)
        if not isinstance(found, dict):
            return None
        values = {entry: found[entry] for entry in wanted if entry in found}
        self.hits += len(values)
        return values

    def put_pack(self, name: str, values: dict[str, Any]) -> None:
        """Store `values` (by content-addressed keys) as one entry, read back in one go."""
        self.put("pack", name, values)


def dumps(value: Any, reference: Callable[[Any], Any] | None = None) -> bytes:
    """`value` pickled, with the parts `reference` names stored as references (see `put`);
    for a part of an entry that is loaded only when needed."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer) if reference is None else _ReferencingPickler(buffer, reference)
    pickler.dump(value)
    return buffer.getvalue()


def loads(data: bytes | memoryview, resolve: Callable[[Any], Any] | None = None) -> Any:
    """What `dumps` pickled, its references given back by `resolve`."""
    if resolve is None:
        return pickle.loads(data)  # an entry with references fails: no `persistent_load`
    return _Unpickler(io.BytesIO(data), resolve).load()


_new = object.__new__
_set = object.__setattr__


def _model(cls: type, fields: dict[str, Any], fields_set: set[str]) -> Any:
    """A pydantic model rebuilt from its fields, as its `__setstate__` does (without the
    call of a Python method per object, which made reading a project twice as slow). Frozen
    models with the same fields set share one set (pydantic copies it before any change):
    a third fewer objects to build and for the cycle collector to walk."""
    obj: Any = _new(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", fields_set)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._fields_sets: dict[frozenset[str], set[str]] = {}

    def reducer_override(self, obj: Any) -> Any:
        if (isinstance(obj, BaseModel) and obj.__pydantic_extra__ is None
                and obj.__pydantic_private__ is None):
            fields_set = obj.__pydantic_fields_set__
            if obj.model_config.get("frozen"):  # never changed: one set for all alike
                fields_set = self._fields_sets.setdefault(frozenset(fields_set), fields_set)
            return _model, (type(obj), obj.__dict__, fields_set)
        return NotImplemented


class _ReferencingPickler(_Pickler):
    """A pickler that stores some objects as references (`put`): asked about every object,
    so kept apart from the entries without any."""

    def __init__(self, file: io.BytesIO, reference: Callable[[Any], Any]) -> None:
        super().__init__(file)
        self._reference = reference

    def persistent_id(self, obj: Any) -> Any:
        return self._reference(obj)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, resolve: Callable[[Any], Any] | None) -> None:
        super().__init__(file)
        self._resolve = resolve

    def persistent_load(self, pid: Any) -> Any:
        if self._resolve is None:
            raise pickle.UnpicklingError("an entry with references read without a resolver")
        return self._resolve(pid)


def default_folder(root: Path) -> Path:
    """`$METRICSPEC_CACHE_DIR`, else `.metricspec_cache/` in the project root."""
    return Path(os.environ.get(ENV_FOLDER) or root / FOLDER_NAME)


def disabled_by_environment() -> bool:
    return os.environ.get(ENV_OFF, "").strip().lower() not in ("", "0", "false", "no", "off")
