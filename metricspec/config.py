"""The project configuration: `metricspec.toml`, or `[tool.metricspec]` in `pyproject.toml`.

The file is found by walking up from the current folder (the first folder holding either
file wins, as ruff does); its folder is the *project root*. Paths in it are relative to that
folder, whatever the current folder. String values may name environment variables as
`${NAME}` (a warehouse password stays out of the file); an unset variable is an error.

Values are validated by a pydantic model (`extra="forbid"`: a misspelt key is an error), and
every problem is a `file:line:col: error[MS92x]` diagnostic pointing into the TOML. The
standard library's `tomllib` reads the file; it keeps no positions (nor does tomlkit expose
them), so `_locate` finds a key's line and its value's column in the text itself: TOML puts
one key on one line, under the last table header above it.

Precedence, per option: the command line, then the option's environment variable
(`METRICSPEC_WAREHOUSE`), then this file, then the built-in default.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metricspec.diagnostics import Diagnostic, error
from metricspec.ir.base import Span

CONFIG_FILE = "metricspec.toml"
PYPROJECT = "pyproject.toml"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r'^\s*("?)([A-Za-z0-9_-]+)\1\s*=\s*')


class ConfigModel(BaseModel):
    """What a configuration file may say (every key optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specs: list[str] = Field(default_factory=lambda: ["specs"],
                             description="Spec files or folders, relative to the file's folder.")
    warehouse: str | None = Field(None, description="Default warehouse URL; `${VAR}` is read "
                                  "from the environment.")
    dialects: list[str] | None = Field(None, description="Dialects `compile` and `check` "
                                       "target (default: duckdb for compile).")
    out: str | None = Field(None, description="Output folder of `compile` (default: build).")
    site: str | None = Field(None, description="Output folder of `docs` (default: site).")
    strict: bool | None = Field(None, description="`check` fails on warnings too.")


class ConfigError(Exception):
    """A configuration file that cannot be used, with its diagnostics and text."""

    def __init__(self, diagnostics: list[Diagnostic], file: str, text: str) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics
        self.file = file
        self.text = text


@dataclass(frozen=True)
class Config:
    """A configuration read and validated; paths resolved against its folder."""

    file: Path | None
    root: Path
    specs: tuple[Path, ...]
    warehouse: str | None = None
    dialects: tuple[str, ...] | None = None
    out: Path | None = None
    site: Path | None = None
    strict: bool | None = None

    @classmethod
    def default(cls, root: Path | None = None) -> Config:
        """No file: the current folder is the root and the specs are in `specs/`."""
        root = (root or Path.cwd()).resolve()
        return cls(file=None, root=root, specs=(root / "specs",))


def find_config(start: Path | None = None) -> Path | None:
    """The nearest `metricspec.toml`, or `pyproject.toml` with `[tool.metricspec]`, in
    `start` (default: the current folder) or a folder above it."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("tool"), dict) and "metricspec" in data["tool"]


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (default: the nearest file, or none) into a `Config`.

    Raises:
        ConfigError: the file is not TOML, has an unknown key or a wrong type, or names an
            unset environment variable.
    """
    path = path if path is not None else find_config()
    if path is None:
        return Config.default()
    name = relative_name(path, Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([error("MS920", f"cannot read {name}: {exc}", Span.unknown(name))],
                          name, "") from None
    table = ("tool", "metricspec") if path.name == PYPROJECT else ()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_error(exc, name, text)], name, text) from None
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    try:
        model = ConfigModel.model_validate(data)
    except ValidationError as exc:
        problems = [error("MS920", _message(problem), _locate(text, name, table,
                                                              problem["loc"]))
                    for problem in exc.errors()]
        raise ConfigError(problems, name, text) from None
    env = os.environ if environ is None else environ
    missing: list[Diagnostic] = []

    def expand(value: str, loc: tuple[str | int, ...]) -> str:
        def variable(match: re.Match[str]) -> str:
            if match.group(1) not in env:
                missing.append(error(
                    "MS921", f"environment variable `{match.group(1)}` is not set",
                    _locate(text, name, table, loc),
                    f"set {match.group(1)} or write the value in the file"))
                return ""
            return env[match.group(1)]
        return _VARIABLE.sub(variable, value)

    root = path.parent.resolve()
    specs = tuple(root / expand(s, ("specs", i)) for i, s in enumerate(model.specs))
    warehouse = expand(model.warehouse, ("warehouse",)) if model.warehouse else None
    out = root / expand(model.out, ("out",)) if model.out else None
    site = root / expand(model.site, ("site",)) if model.site else None
    if missing:
        raise ConfigError(missing, name, text)
    return Config(file=path, root=root, specs=specs, warehouse=warehouse,
                  dialects=tuple(model.dialects) if model.dialects is not None else None,
                  out=out, site=site, strict=model.strict)


def _message(problem: Mapping[str, object]) -> str:
    loc = ".".join(str(part) for part in problem["loc"])  # type: ignore[attr-defined]
    if problem["type"] == "extra_forbidden":
        known = ", ".join(ConfigModel.model_fields)
        return f"unknown key `{loc}` (known: {known})"
    return f"`{loc}`: {str(problem['msg']).lower()}"


def _syntax_error(exc: tomllib.TOMLDecodeError, name: str, text: str) -> Diagnostic:
    found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
    lines = text.rstrip("\n").split("\n")
    span = (Span.point(name, int(found.group(1)), int(found.group(2))) if found
            else Span.point(name, len(lines), len(lines[-1]) + 1))  # at the end
    message = message or "invalid TOML"
    return error("MS920", f"not valid TOML: {message[:1].lower()}{message[1:]}", span)


def _locate(text: str, name: str, table: tuple[str, ...],
            loc: Sequence[str | int]) -> Span:
    """The span of the value of key `loc[0]` in `table` (or of the table's header, or the
    first line, when the key is not written there)."""
    current: tuple[str, ...] = ()
    header: Span | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        found = _HEADER.match(line)
        if found:
            current = tuple(part.strip().strip('"') for part in found.group(1).split("."))
            if current == table:
                header = Span.point(name, number, line.index("[") + 1, len(line.rstrip()))
            continue
        key = _KEY.match(line)
        if current == table and key and loc and key.group(2) == loc[0]:
            value = line[key.end():].split(" #", 1)[0].rstrip()
            return Span.point(name, number, key.end() + 1, max(1, len(value)))
    return header or Span.point(name, 1, 1)


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to `root` in POSIX form when it is inside `root`, else as given:
    the name outputs record for a spec file, the same on every machine and from any folder.

    >>> relative_name(Path("/repo/specs/a.mspec"), Path("/repo"))
    'specs/a.mspec'
    >>> relative_name(Path("/elsewhere/a.mspec"), Path("/repo"))
    '/elsewhere/a.mspec'
    """
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return str(path)


def project_root(config: Config, specs: Sequence[Path]) -> Path:
    """The folder spec paths are recorded relative to: the configuration's folder, else the
    parent of the (first) spec folder, or the folder of a spec file's folder."""
    if config.file is not None or not specs:
        return config.root
    first = Path(os.path.abspath(specs[0]))
    return first.parent if first.is_dir() else first.parent.parent
