"""Bring a side of a diff onto disk: a folder as it is, or a git revision's spec path
extracted (`git archive`) into a temporary folder."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

MAIN_BRANCHES = ("main", "origin/main", "master", "origin/master")


class RevisionError(ValueError):
    """A side that is neither a folder nor a git revision holding the spec path."""


def _git(repo: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def repository_root(path: Path) -> Path:
    folder = path if path.is_dir() else path.parent
    return Path(_git(folder, "rev-parse", "--show-toplevel").decode().strip())


def merge_base(repo: Path) -> str:
    """The merge base of HEAD with the main branch (main, then master, local or remote)."""
    for branch in MAIN_BRANCHES:
        try:
            return _git(repo, "merge-base", branch, "HEAD").decode().strip()
        except RevisionError:
            continue
    raise RevisionError("no main branch to take the merge base with; give BASE explicitly")


def _inside(name: str, spec_path: str) -> bool:
    """Whether an archive entry is the spec path, under it, or a folder leading to it."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        return False
    spec = Path(spec_path)
    return spec_path in (".", "") or path == spec or spec in path.parents or path in spec.parents


def extract(repo: Path, revision: str, spec_path: str, into: Path) -> Path:
    """Write `spec_path` as it is at `revision` under `into`; return its folder there (an
    empty one when the revision has no such path)."""
    _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    listed = _git(repo, "ls-tree", "--name-only", revision, "--", spec_path)
    if not listed.strip():  # no specs yet at that revision: an empty folder
        (into / spec_path).mkdir(parents=True, exist_ok=True)
        return into / spec_path
    data = _git(repo, "archive", "--format=tar", revision, "--", spec_path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():  # git writes plain files and folders under the path
            if not (member.isfile() or member.isdir()) or not _inside(member.name, spec_path):
                raise RevisionError(f"unexpected entry `{member.name}` in revision {revision}")
        tar.extractall(into)
    return into / spec_path


def materialize(side: str, repo: Path | None, spec_path: str, into: Path) -> Path:
    """A folder given as a side, or the revision's spec path extracted under `into`."""
    folder = Path(side)
    if folder.is_dir():
        return folder
    if repo is None:
        raise RevisionError(f"`{side}` is not a folder, and the spec path is in no git "
                            "repository")
    return extract(repo, side, spec_path, into)
