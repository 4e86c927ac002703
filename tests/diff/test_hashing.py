"""Content hashes depend on meaning alone: not on files, order, comments, whitespace or the
front end (DSL or YAML); and they do follow every change of meaning, through dependencies."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from metricspec.diff import ObjectHash, project_hashes
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
EQUIVALENT = REPO / "tests" / "spec" / "equivalent"


def hashes(path: Path) -> dict[tuple[str, str], ObjectHash]:
    ws = Workspace.load(path)
    assert ws.ok, ws.render("text")
    return project_hashes(ws.project)


def meaning(found: dict[tuple[str, str], ObjectHash]) -> dict[tuple[str, str], str]:
    return {key: h.meaning for key, h in found.items()}


def both(found: dict[tuple[str, str], ObjectHash]) -> dict[tuple[str, str], tuple[str, str]]:
    return {key: (h.meaning, h.metadata) for key, h in found.items()}


def blocks(text: str) -> list[str]:
    """The top-level blocks of a DSL file (each starts at column 0 with a keyword)."""
    parts = re.split(r"\n(?=(?:source|metric|kpi|guardrail|experiment|monitor) )", text)
    return [p.strip("\n") + "\n" for p in parts
            if re.match(r"(source|metric|kpi|guardrail|experiment|monitor) ", p.lstrip("\n"))]


def test_dsl_and_yaml_forms_hash_equal() -> None:
    dsl, yaml = hashes(EQUIVALENT / "dsl"), hashes(EQUIVALENT / "yaml")
    assert len(dsl) > 30
    assert both(dsl) == both(yaml)


def test_hashes_do_not_depend_on_files_order_comments_or_whitespace(tmp_path: Path) -> None:
    original = hashes(SPECS)
    # every DSL block in one file, in reverse order, with comments and blank lines between
    # them and the YAML file moved into a sub-folder
    every: list[str] = []
    for path in sorted(SPECS.rglob("*.mspec")):
        every += blocks(path.read_text(encoding="utf-8"))
    assert len(every) > 20
    moved = tmp_path / "moved"
    (moved / "deep" / "er").mkdir(parents=True)
    (moved / "all.mspec").write_text(
        "\n\n# a comment\n\n".join(reversed(every)), encoding="utf-8")
    for path in sorted(SPECS.rglob("*.yaml")):
        shutil.copy(path, moved / "deep" / "er" / path.name)
    assert both(hashes(moved)) == both(original)


def test_filter_whitespace_outside_quotes_does_not_count(tmp_path: Path) -> None:
    shutil.copytree(EQUIVALENT / "dsl", tmp_path / "a")
    path = tmp_path / "a" / "project.mspec"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("kind = 'paid' and ok", "kind   =   'paid'\n   and ok"),
                    encoding="utf-8")
    assert both(hashes(tmp_path / "a")) == both(hashes(EQUIVALENT / "dsl"))
    path.write_text(text.replace("kind = 'paid' and ok", "kind = 'paid ' and ok"),
                    encoding="utf-8")
    changed = meaning(hashes(tmp_path / "a"))
    assert changed[("metric", "paid_share")] != meaning(hashes(EQUIVALENT / "dsl"))[
        ("metric", "paid_share")]


def test_metadata_changes_only_the_metadata_hash(tmp_path: Path) -> None:
    shutil.copytree(SPECS, tmp_path / "s")
    path = tmp_path / "s" / "quality.mspec"
    path.write_text(path.read_text(encoding="utf-8").replace('"CSAT"', '"Customer CSAT"', 1),
                    encoding="utf-8")
    before, after = hashes(SPECS), hashes(tmp_path / "s")
    assert meaning(before) == meaning(after)
    differ = [key for key in before if before[key].metadata != after[key].metadata]
    assert differ == [("metric", "csat")]


def test_a_meaning_change_reaches_every_dependent_and_nothing_else(tmp_path: Path) -> None:
    shutil.copytree(SPECS, tmp_path / "s")
    path = tmp_path / "s" / "quality.mspec"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("count(feedback where thumbs = 'up')",
                                 "count(feedback where thumbs = 'up' and channel = 'web')", 1),
                    encoding="utf-8")
    before, after = meaning(hashes(SPECS)), meaning(hashes(tmp_path / "s"))
    changed = {key for key in before if before[key] != after[key]}
    ws = Workspace.load(SPECS)
    uses = ws.index.uses_of("csat")
    assert ("metric", "csat") in changed
    for kind, names in (("metric", uses["metrics"]), ("kpi", uses["kpis"]),
                        ("experiment", uses["experiments"]), ("monitor", uses["monitors"])):
        assert {(kind, n) for n in names} <= changed
    assert ("metric", "csat_score") not in changed  # same source, another column
    assert not any(kind == "source" for kind, _ in changed)


def test_an_unused_source_column_does_not_change_its_metrics(tmp_path: Path) -> None:
    shutil.copytree(SPECS, tmp_path / "s")
    path = tmp_path / "s" / "sources.mspec"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("column resolved: boolean",
                                 "column resolved: boolean, brand_new: integer", 1),
                    encoding="utf-8")
    before, after = meaning(hashes(SPECS)), meaning(hashes(tmp_path / "s"))
    assert {key for key in before if before[key] != after[key]} == {
        ("source", "conversations")}


def test_hashes_are_the_same_in_another_process_and_folder(tmp_path: Path) -> None:
    shutil.copytree(SPECS, tmp_path / "elsewhere")
    script = ("import json, sys\nfrom metricspec.diff import project_hashes\n"
              "from metricspec.workspace import Workspace\n"
              "found = project_hashes(Workspace.load(sys.argv[1]).project)\n"
              "print(json.dumps(sorted([k[0], k[1], h.meaning, h.metadata] "
              "for k, h in found.items())))\n")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "elsewhere")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    here = sorted([k[0], k[1], h.meaning, h.metadata] for k, h in hashes(SPECS).items())
    assert json.loads(done.stdout) == here
