"""Write compiled queries to an output folder, with a manifest of what was written.

build/<dialect>/metrics/<sources>.sql       every metric reading exactly these sources, by
                                            day, in one query: one scan per source (e.g.
                                            `feedback.sql`, `conversations+messages.sql`)
build/<dialect>/metrics/<metric>.sql        one metric by day (with `per_metric=True`)
build/<dialect>/experiments/<name>.sql      sufficient statistics (long format)
build/<dialect>/monitors/<name>.sql         windows in alert
build/<dialect>/guardrails/<name>.sql       windows breaking the guardrail
build/<dialect>/kpis/<name>.sql             reconciliation of the tree's compositions
build/manifest.json                         every file's SHA-256
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from metricspec.outputs import ensure_folder, inside, remove, write_text
from metricspec.pipeline.driver import Compiled
from metricspec.pipeline.kinds import KINDS


def write_all(compiled: list[Compiled], out: Path, *, complete: bool = True) -> list[Path]:
    """Write the files (only when their content changed), drop stale `.sql` files in the
    folders metricspec owns, and write `manifest.json` with each file's hash.

    Every file is written atomically, inside `out` (see `metricspec.outputs`). The old
    manifest is removed first and the new one written last, only when every write succeeded
    and the compilation was `complete` (nothing failed to compile): every file a manifest
    lists is there with that hash, and the folders of the backends compiled hold nothing
    else (other backends' folders are left as they were). Raises `OutputError` when a file
    cannot be written.
    """
    ensure_folder(out)
    remove(out / "manifest.json")
    written: list[Path] = []
    paths = {query.path: inside(out, *query.parts) for query in compiled}
    for query in compiled:
        path = paths[query.path]
        if _content(path) != query.sql:
            write_text(path, query.sql)
            written.append(path)
    expected = set(paths.values())
    for backend in sorted({q.parts[0] for q in compiled}):
        for folder in sorted({entry.folder for entry in KINDS.values()}):
            for stale in sorted((out / backend / folder).glob("*.sql")):
                if stale not in expected:
                    remove(stale)
    if complete:
        manifest = {
            "generator": "metricspec",
            "files": {
                q.path: hashlib.sha256(q.sql.encode()).hexdigest()
                for q in sorted(compiled, key=lambda q: q.path)
            },
        }
        write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return written


def stale(compiled: list[Compiled], out: Path) -> list[str]:
    """What `write_all` would change in `out`, as paths relative to it, writing nothing:
    files missing or different, `.sql` files it would remove, and the manifest."""
    found: list[str] = []
    for query in sorted(compiled, key=lambda q: q.path):
        if _content(out.joinpath(*query.parts)) != query.sql:
            found.append(query.path)
    expected = {out.joinpath(*q.parts) for q in compiled}
    for backend in sorted({q.parts[0] for q in compiled}):
        for folder in sorted({entry.folder for entry in KINDS.values()}):
            found.extend(p.relative_to(out).as_posix()
                         for p in sorted((out / backend / folder).glob("*.sql"))
                         if p not in expected)
    try:
        listed = json.loads(_content(out / "manifest.json") or "{}").get("files")
    except (ValueError, AttributeError):
        listed = None  # not a manifest metricspec wrote
    if found or listed != {q.path: hashlib.sha256(q.sql.encode()).hexdigest()
                           for q in compiled}:
        found.append("manifest.json")
    return found


def _content(path: Path) -> str | None:
    """The text of an existing output file, None when there is none to compare with (or
    something else is there: a folder, a FIFO that would block the read)."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None
