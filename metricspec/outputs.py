"""Every file metricspec writes: safe names inside the folder asked for, written atomically,
with I/O failures turned into one error type.

- `file_name` maps an object name to a file name. Names are identifiers (`check` refuses
  others, MS207), and an identifier maps to itself; anything else — separators, `..`, an
  empty name, control characters, a name too long for a file system, a Windows device name
  such as `con` — is escaped and given a hash suffix, so distinct names never share a file.
- `inside` joins file names under a folder and refuses any path that resolves outside it.
- `write_text` / `write_bytes` / `replacing` write to a temporary file in the target's
  folder and rename it over the target (`os.replace`): a reader never sees half a file, and
  a failed write leaves the previous file as it was.
- Every `OSError` becomes `OutputError`: "cannot write PATH: reason".
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

MAX_STEM = 100  # characters of a file name before its suffix (file systems allow 255 bytes)
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+]*\Z")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_+]+")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{kind}{n}" for kind in ("COM", "LPT") for n in "0123456789"}
)


class OutputError(Exception):
    """A file or folder that cannot be written, with the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = Path(path), reason


def file_name(name: str, suffix: str = "") -> str:
    """A file name for object `name`: the name itself when it is safe, else an escaped form
    with a hash of the name (`-` never occurs in a safe name, so the two cannot collide).

    >>> file_name("csat", ".sql"), file_name("conversations+messages", ".sql")
    ('csat.sql', 'conversations+messages.sql')
    >>> file_name("../../x", ".sql"), file_name("con", ".html")
    ('x-9cdf6a50100a.sql', 'con-1143da2bc54c.html')
    """
    if _SAFE.match(name) and len(name) <= MAX_STEM and name.upper() not in _WINDOWS_DEVICES:
        return name + suffix
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    cleaned = _UNSAFE_CHARS.sub("_", name).strip("_+")[: MAX_STEM - len(digest) - 2]
    return f"{cleaned or '_'}-{digest}{suffix}"


def inside(folder: Path, *parts: str) -> Path:
    """`folder/part/…`, refusing parts that are not plain file names and any result that
    resolves outside `folder` (through `..`, an absolute part or a symbolic link)."""
    for part in parts:
        if (not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part
                or os.sep in part or (os.altsep and os.altsep in part)):
            raise OutputError(folder, f"{part!r} is not a plain file name")
    path = folder.joinpath(*parts)
    try:
        root, target = folder.resolve(), path.resolve()
    except (OSError, RuntimeError) as exc:
        raise OutputError(path, _reason(exc)) from exc
    if not target.is_relative_to(root) or target == root:
        raise OutputError(path, f"it resolves to {target}, outside {root}")
    return path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _blocking_file(folder: Path) -> Path | None:
    """The first ancestor of `folder` (or itself) that exists but is not a folder."""
    for candidate in [*reversed(folder.parents), folder]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def ensure_folder(folder: Path, target: Path | None = None) -> None:
    """Create `folder` (and its parents); OutputError (about `target`, the file to be
    written there, if given) when that is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = _blocking_file(folder)
        reason = (f"{blocking} is a file, not a folder" if blocking is not None
                  else _reason(exc))
        raise OutputError(target or folder, reason) from exc


def check_writable(path: Path, *, folder: bool = False) -> None:
    """Fail early, before any work: can a file be created at `path` (or, with `folder`,
    in the folder `path`)? Creates the folder, and a probe file it removes again."""
    target_dir = path if folder else path.parent
    ensure_folder(target_dir, path)
    if not folder and path.is_dir():
        raise OutputError(path, "it is a folder")
    probe = target_dir / f".metricspec-probe-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise OutputError(path, _reason(exc)) from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; when the block succeeds, move it over `path`
    in one step (keeping `path`'s permissions if it existed). On failure the temporary file
    is removed and `path` is untouched. OSError inside the block becomes OutputError."""
    ensure_folder(path.parent, path)
    if path.is_dir():
        raise OutputError(path, "it is a folder")
    temporary = path.parent / f".{path.name[:120]}.{secrets.token_hex(6)}.tmp"
    try:
        try:
            yield temporary
            if path.exists():
                os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
            os.replace(temporary, path)
        except BaseException:
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(path, _reason(exc)) from exc


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring)."""
    with replacing(path) as temporary:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(temporary, flags | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write `text` as UTF-8 to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def remove(path: Path) -> None:
    """Delete `path` if it exists; OutputError when it cannot be deleted."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(path, _reason(exc)) from exc
