"""The architecture as a test: the import rules of `docs/architecture.md` hold in the code.

The one source of the rules is the table in `docs/architecture.md`
(`| package / module | owns | may import |`). Each row names a unit (a package or modules)
and what it may import: metricspec units and modules (`plan`, `check.sources`) and, when the
cell ends with `only`, the only third-party packages it may use besides the standard
library. `–` is nothing of metricspec; `everything` is no limit. A unit may always import
its own modules and the root package (`metricspec.__version__`).

Checked over every `.py` under `metricspec/` with `ast`, so imports inside functions and
under `TYPE_CHECKING` count, and relative imports are resolved:

- every module belongs to a row, and every row's path exists (the table follows the code);
- every import is allowed by its unit's row, or listed in `KNOWN_VIOLATIONS` with a reason
  (a listed violation that no longer occurs fails too, so the list only shrinks);
- nothing imports `metricspec.cli` but the CLI and `python -m metricspec`;
- no string literal names a backend (its name, sqlglot dialect or URL scheme in
  `backends/*.toml`) outside `backends.py` and the per-backend drivers in `run/drivers/`,
  except the defaults listed in `DIALECT_NAME_EXCEPTIONS`: dialect differences are data;
- no module is longer than `MAX_LINES` lines unless listed in `LARGE_MODULES`.

`test_the_checker_*` build a small package in a temporary folder with an arrow going the
wrong way and show the checker reporting it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "metricspec"
TABLE_HEADER = "| package / module | owns | may import |"
MAX_LINES = 500

#: (importing module, imported module) -> why it is tolerated for now.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

#: Modules longer than MAX_LINES, with the reason.
LARGE_MODULES: dict[str, str] = {}

#: (module, backend name written in it) -> why it is tolerated.
DIALECT_NAME_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("metricspec.cli.spec_commands", "duckdb"):
        "the default of `compile --dialect` and `sql --dialect`: a request, not a comparison",
    ("metricspec.workspace", "duckdb"): "the default dialect of `Workspace.sql`, as the CLI's",
}

#: Where backend names belong: the backend loader and the one-driver-per-backend modules.
DIALECT_NAME_HOMES = ("metricspec.backends", "metricspec.run.drivers.")

STDLIB = frozenset(sys.stdlib_module_names) | {"_typeshed"}


@dataclass(frozen=True)
class Unit:
    """One row of the table: the modules it covers and what they may import."""

    label: str
    modules: tuple[str, ...]  # dotted names of the modules and packages the row names
    packages: frozenset[str]  # those named as a folder: they cover their submodules
    allowed: frozenset[str]  # metricspec modules (a package allows its submodules)
    third_party: frozenset[str] | None  # None: any third-party package
    everything: bool = False

    def match(self, module: str) -> str | None:
        """The name of this row that covers `module`, the most specific first."""
        for name in sorted(self.modules, key=len, reverse=True):
            if module == name or (name in self.packages and _within(module, name)):
                return name
        return None


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a dotted module name
    line: int


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under `root` (the folder that holds `metricspec/`)."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    return {module_name(root, p): p for p in files if "_resources" not in p.parts}


# -- the table ----------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_table(markdown: str, root: Path) -> list[Unit]:
    """Parse the `may import` table of an architecture document."""
    lines = markdown.splitlines()
    start = lines.index(TABLE_HEADER)
    units = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        where, _owns, may = _cells(line)
        units.append(_unit(where, may, root))
    return units


def _unit(where: str, may: str, root: Path) -> Unit:
    paths = re.findall(r"`([^`]+)`", where)
    assert paths, f"no module in the row {where!r}"
    folder = paths[0].rsplit("/", 1)[0] if "/" in paths[0].rstrip("/") else ""
    names, packages = [], set()
    for path in paths:
        full = path if "/" in path.rstrip("/") else f"{folder}/{path}"
        dotted = full.rstrip("/").removesuffix(".py").replace("/", ".").removesuffix(
            ".__init__")
        assert _is_module(root, dotted), f"the table names {full!r}, which does not exist"
        names.append(dotted)
        if full.endswith("/"):
            packages.add(dotted)
    cell = re.sub(r"\([^)]*\)", "", may).replace("`", "").strip()
    if cell == "everything":
        return Unit(where, tuple(names), frozenset(packages), frozenset(), None,
                    everything=True)
    only = cell.endswith(" only")
    tokens = [t.strip() for t in cell.removesuffix(" only").split(",")]
    allowed, third = set(), set()
    for token in tokens:
        if token in ("–", "-", ""):
            continue
        dotted = f"{PACKAGE}.{token}"
        if _is_module(root, dotted):
            allowed.add(dotted)
        else:
            assert _installed(token), (
                f"{where}: {token!r} is neither a metricspec module nor an installed package")
            third.add(token)
    return Unit(where, tuple(names), frozenset(packages), frozenset(allowed),
                frozenset(third) if only else None)


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a dotted name whose parent is missing
        return False


def unit_of(units: list[Unit], module: str) -> Unit | None:
    """The most specific row covering `module`."""
    best: tuple[int, Unit] | None = None
    for unit in units:
        name = unit.match(module)
        if name is not None and (best is None or len(name) > best[0]):
            best = (len(name), unit)
    return best[1] if best else None


# -- the code ------------------------------------------------------------------------------


def imports(root: Path, module: str, path: Path) -> list[Import]:
    """Every import in a module, at any depth, as absolute dotted module names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if _within(base, PACKAGE) and _is_module(root, sub) else base
                found.append(Import(module, target, node.lineno))
    return found


def violations(root: Path, units: list[Unit]) -> list[tuple[str, str, str]]:
    """(importer, imported, problem) for every import the table does not allow."""
    problems = []
    for module, path in modules(root).items():
        unit = unit_of(units, module)
        if unit is None:
            problems.append((module, "", "is in no row of the table"))
            continue
        seen = set()
        for imp in imports(root, module, path):
            problem = _judge(unit, imp)
            if problem and (imp.target, imp.line) not in seen:
                seen.add((imp.target, imp.line))
                problems.append((module, imp.target, f"line {imp.line}: {problem}"))
    return problems


def _judge(unit: Unit, imp: Import) -> str | None:
    target = imp.target
    if (_within(target, f"{PACKAGE}.cli") and not _within(imp.importer, f"{PACKAGE}.cli")
            and imp.importer != f"{PACKAGE}.__main__"):
        return "imports the CLI, which nothing imports"
    if unit.everything:
        return None
    if _within(target, PACKAGE):
        if target == PACKAGE or unit.match(target) is not None:
            return None
        if any(_within(target, a) for a in unit.allowed):
            return None
        return f"{unit.label} may not import {target}"
    top = target.partition(".")[0]
    if unit.third_party is None or top in STDLIB or top in unit.third_party:
        return None
    return f"{unit.label} may use only {sorted(unit.third_party)}, not {top}"


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def backend_names(backends: Path) -> set[str]:
    names = set()
    for path in backends.glob("*.toml"):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        names |= {raw["name"], raw["sqlglot_dialect"], *raw.get("url_schemes", ())}
    return {n.lower() for n in names}


def dialect_names_in_code(root: Path, names: set[str]) -> list[tuple[str, str, int]]:
    """(module, name, line) for each string literal naming a backend outside its homes."""
    found = []
    for module, path in modules(root).items():
        if any(module == h or (h.endswith(".") and module.startswith(h))
               for h in DIALECT_NAME_HOMES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in skip and node.value.lower() in names):
                found.append((module, node.value, node.lineno))
    return found


# -- the real tree ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def units() -> list[Unit]:
    return read_table((REPO / "docs" / "architecture.md").read_text(encoding="utf-8"), REPO)


def test_every_import_follows_the_table(units: list[Unit]) -> None:
    found = violations(REPO, units)
    unexpected = [f"{m} -> {t}: {why}" for m, t, why in found
                  if (m, t) not in KNOWN_VIOLATIONS]
    assert not unexpected, "imports docs/architecture.md does not allow:\n" + "\n".join(
        unexpected)
    fixed = set(KNOWN_VIOLATIONS) - {(m, t) for m, t, _ in found}
    assert not fixed, f"no longer violated, remove from KNOWN_VIOLATIONS: {sorted(fixed)}"


def test_every_row_of_the_table_is_distinct_and_used(units: list[Unit]) -> None:
    covered = [m for u in units for m in u.modules]
    assert len(covered) == len(set(covered)), "a module is named by two rows"
    found = modules(REPO)
    for unit in units:
        for name in unit.modules:
            assert any(_within(m, name) for m in found), name


def test_nothing_imports_the_cli() -> None:
    for module, path in modules(REPO).items():
        if _within(module, f"{PACKAGE}.cli") or module == f"{PACKAGE}.__main__":
            continue
        for imp in imports(REPO, module, path):
            assert not _within(imp.target, f"{PACKAGE}.cli"), f"{module}:{imp.line}"


def test_no_backend_name_outside_the_backend_definitions() -> None:
    names = backend_names(REPO / "backends")
    assert {"duckdb", "postgres", "bigquery", "snowflake", "spark"} <= names
    found = dialect_names_in_code(REPO, names)
    unexpected = [f"{m}:{line}: {n!r}" for m, n, line in found
                  if (m, n) not in DIALECT_NAME_EXCEPTIONS]
    assert not unexpected, "backend names outside backends/ and run/drivers/:\n" + "\n".join(
        unexpected)
    gone = set(DIALECT_NAME_EXCEPTIONS) - {(m, n) for m, n, _ in found}
    assert not gone, f"remove from DIALECT_NAME_EXCEPTIONS: {sorted(gone)}"


def test_no_module_is_too_long() -> None:
    lengths = {m: len(p.read_text(encoding="utf-8").splitlines())
               for m, p in modules(REPO).items()}
    long = {m for m, n in lengths.items() if n > MAX_LINES}
    assert long <= set(LARGE_MODULES), {m: lengths[m] for m in long - set(LARGE_MODULES)}
    assert set(LARGE_MODULES) <= long, "shorter now, remove from LARGE_MODULES"


# -- the test of the test -----------------------------------------------------------------

FAKE_TABLE = """\
| package / module | owns | may import |
|---|---|---|
| `metricspec/__init__.py` | the version | – |
| `metricspec/ir/` | data | pydantic only |
| `metricspec/plan/` | plans | ir |
| `metricspec/cli/` | the command | everything |
| `metricspec/run/` | running | plan |
"""


def _fake_package(root: Path, files: dict[str, str]) -> None:
    for name, text in {"metricspec/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_reports_an_arrow_going_the_wrong_way(tmp_path: Path) -> None:
    _fake_package(tmp_path, {
        "metricspec/ir/__init__.py": "from . import nodes\n",
        "metricspec/ir/nodes.py": "import pydantic\n\ndef later():\n"
                                  "    from ..plan import lower\n    return lower\n",
        "metricspec/plan/__init__.py": "",
        "metricspec/plan/lower.py": "from metricspec.ir import nodes\nimport numpy\n",
        "metricspec/cli/__init__.py": "from metricspec.plan.lower import x\n",
        "metricspec/run/__init__.py": "import metricspec.cli\n",
        "metricspec/stray.py": "",
    })
    units = read_table(FAKE_TABLE, tmp_path)
    found = {(m, t) for m, t, _ in violations(tmp_path, units)}
    assert found == {
        ("metricspec.ir.nodes", "metricspec.plan.lower"),  # leftwards only, even in a function
        ("metricspec.run", "metricspec.cli"),  # nothing imports the CLI
        ("metricspec.stray", ""),  # a module no row covers
    }
    units = read_table(FAKE_TABLE.replace("| ir |", "| ir, numpy only |"), tmp_path)
    assert {(m, t) for m, t, _ in violations(tmp_path, units)} == found
    units = read_table(FAKE_TABLE.replace("| ir |", "| – |"), tmp_path)
    assert ("metricspec.plan.lower", "metricspec.ir.nodes") in {
        (m, t) for m, t, _ in violations(tmp_path, units)}


def test_the_checker_fails_on_the_real_tree_when_the_table_loses_an_arrow() -> None:
    """`plan` imports the IR; a table that forbids it reports those imports."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `metricspec/plan/`"))
    may = _cells(row)[2]
    assert "ir" in [t.strip() for t in may.split(",")]
    narrowed = row.replace(f"| {may} |", "| semantic |")
    found = violations(REPO, read_table(text.replace(row, narrowed), REPO))
    assert any(m.startswith("metricspec.plan.") and t == "metricspec.ir" for m, t, _ in found)


def test_the_checker_reports_third_party_imports_the_table_does_not_list(
        tmp_path: Path) -> None:
    _fake_package(tmp_path, {
        "metricspec/ir/__init__.py": "import os\nimport scipy.stats\n",
        "metricspec/plan/__init__.py": "", "metricspec/cli/__init__.py": "",
        "metricspec/run/__init__.py": "",
    })
    found = violations(tmp_path, read_table(FAKE_TABLE, tmp_path))
    assert [(m, t) for m, t, _ in found] == [("metricspec.ir", "scipy.stats")]


def test_the_checker_reports_a_stale_table(tmp_path: Path) -> None:
    _fake_package(tmp_path, {"metricspec/plan/__init__.py": ""})
    with pytest.raises(AssertionError, match="does not exist"):
        read_table(FAKE_TABLE, tmp_path)


def test_the_checker_reports_a_backend_name_in_code(tmp_path: Path) -> None:
    _fake_package(tmp_path, {
        "metricspec/plan/__init__.py": '"""Mentions "duckdb" in a docstring."""\n'
                                       'def f(d):\n    return d.name == "Postgres"\n',
        "metricspec/run/drivers/pg.py": 'dialect = "postgres"\n',
    })
    found = dialect_names_in_code(tmp_path, {"duckdb", "postgres"})
    assert [(m, n) for m, n, _ in found] == [("metricspec.plan", "Postgres")]
