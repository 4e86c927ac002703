"""Content hashes of spec objects and the semantic diff between two versions of a project.

`metricspec.hashing` (a module of its own, since `check` and the lock file use it too) gives
every object a hash of its fully resolved meaning (its definition with spans and metadata
removed, and the definitions it depends on) and one of its metadata; `compare` classifies
what changed between two projects and walks the downstream impact; `sqldiff` compiles the
affected objects on both sides through the pipeline; `render` writes text, Markdown, JSON
or GitHub annotations; `revisions` extracts a git revision's specs.

May import: `metricspec.ir`, `metricspec.semantic`, `metricspec.pipeline` (when SQL is
diffed), `metricspec.backends`, `metricspec.safetext`.
"""

from metricspec.diff.compare import Change, Entry, Impact, SpecDiff, compare, experiment_status
from metricspec.hashing import Hasher, ObjectHash, digest, project_hashes

__all__ = [
    "Change", "Entry", "Hasher", "Impact", "ObjectHash", "SpecDiff", "compare", "digest",
    "experiment_status", "project_hashes",
]
