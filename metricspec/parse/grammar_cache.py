"""The DSL's parser, built once per machine instead of once per process.

Building the LALR tables of `grammar/metricspec.lark` takes about 0.2 s: more than parsing
and checking the example specs together, so it decided how fast `metricspec check` starts.
The built parser is saved with `Lark.save` in the user's cache folder
(`$XDG_CACHE_HOME/metricspec`, by default `~/.cache/metricspec`), under a name that hashes
the grammar text, the parser options and the Lark and Python versions: a changed grammar or
an upgrade builds and saves a new one. The file is written atomically (a temporary file,
then `os.replace`), so concurrent processes never read half of one.

The saved parser is a pickle, so it is read only from a folder and a file that belong to the
user and that no one else may write to; anything else — no such folder, a file that cannot
be read or loaded, a folder that cannot be created — is ignored and the parser is built as
before.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import lark
from lark import Lark


def cached_lark(grammar: str, **options: Any) -> Lark:
    """A `Lark(grammar, **options)` parser, loaded from the cache when it was built before."""
    key = hashlib.sha256(repr((grammar, sorted(options.items()), lark.__version__,
                               sys.version_info[:2])).encode("utf-8")).hexdigest()[:32]
    folder = _folder()
    path = folder / f"grammar-{key}.lark" if folder is not None else None
    if path is not None and _private(path):
        try:
            with path.open("rb") as fh:
                return Lark.load(fh)
        except Exception:  # a damaged or foreign cache file: build the parser
            pass
    built = Lark(grammar, **options)
    if path is not None:
        _save(built, path)
    return built


def _folder() -> Path | None:
    """The cache folder, created private to the user; None when it cannot be used."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "metricspec"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if _private(folder) else None


def _private(path: Path) -> bool:
    """Whether `path` exists, belongs to this user and only this user may write to it."""
    try:
        info = path.lstat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    owner = getuid is None or info.st_uid == getuid()
    return owner and not stat.S_ISLNK(info.st_mode) and not info.st_mode & 0o022


def _save(parser: Lark, path: Path) -> None:
    """Save the parser atomically; a cache that cannot be written is no error."""
    with suppress(OSError):
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".grammar-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                parser.save(fh)
            os.replace(temporary, path)
        finally:
            with suppress(OSError):
                os.unlink(temporary)
