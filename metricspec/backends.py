"""Warehouse backends, read and validated from the TOML files in `backends/`.

A `Backend` is data: its sqlglot dialect, how to connect (if metricspec can), capability
flags, `[aggregates]`: how each filtered aggregate form is spelled (FILTER or CASE, chosen
by measurement), and `[spellings]`: SQL templates for the few constructs sqlglot spells
wrongly for that warehouse. The emitter reads them through `emit/sqlbuild.py`; nothing outside this
module and `backends/` compares a backend's name. A file with an unknown key or a bad value
is a `BackendFileError` naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from metricspec.resources import backends_dir

if TYPE_CHECKING:
    from sqlglot import exp

#: Constructs a backend may spell itself, and the placeholders each template may use.
#: `x`: the value; `q`: the percentile as a fraction (`0.95`); `q_permille`: the percentile
#: in thousandths (`950`), for bucketed approximations; `y`: the divisor; `seconds`: a
#: whole number of seconds; `zone`: an IANA time zone name, as a string literal.
SPELLINGS: Mapping[str, tuple[str, ...]] = {
    "percentile": ("x", "q"),
    "approx_percentile": ("x", "q", "q_permille"),
    "safe_divide": ("x", "y"),
    "timestamp_sub": ("x", "seconds"),
    "epoch_seconds": ("x",),
    "spine_numbers": ("x",),
    "approx_count_distinct": ("x",),
    "local_time": ("x", "zone"),
    "utc_time": ("x", "zone"),
    "add_months": ("x", "months"),
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MARK = "__metricspec_{}__"  # what a placeholder is while its template is parsed


class BackendFileError(ValueError):
    """A file in `backends/` that is not a valid backend definition."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Capabilities(_Strict):
    """What a warehouse accepts where sqlglot does not decide it for us (backends/README.md)."""

    percentile: Literal["exact", "approximate", "none"]
    group_by_all: bool
    filter_clause: bool
    identifier_case: Literal["as_is", "upper", "lower"]
    timestamp_type: Literal["TIMESTAMP", "TIMESTAMPTZ"]
    week_unit: Literal["WEEK", "ISOWEEK"]
    decimal_literals: Literal["exact", "float"]


#: Filtered aggregate forms a backend spells as `FILTER (WHERE c)` or as `CASE WHEN c THEN x
#: END` (`[aggregates]`), each chosen by measurement (benchmarks/aggregate_spellings.py).
AggregateSpelling = Literal["filter", "case"]


class Aggregates(_Strict):
    """How each filtered aggregate form is spelled; both give the same result, not the same
    speed (DuckDB runs each `COUNT(DISTINCT x) FILTER (WHERE c)` as a pass of its own)."""

    filtered_count: AggregateSpelling = "case"  # COUNT(*), COUNT(x)
    filtered_distinct: AggregateSpelling = "case"  # COUNT(DISTINCT x)
    filtered_sum: AggregateSpelling = "case"  # SUM, MIN, MAX
    filtered_percentile: AggregateSpelling = "case"  # exact or approximate percentile


class Spellings(_Strict):
    """SQL templates, in the backend's own dialect, that replace sqlglot's spelling."""

    percentile: str | None = None
    approx_percentile: str | None = None
    safe_divide: str | None = None
    timestamp_sub: str | None = None
    #: seconds since 1970-01-01 of a timestamp (`x`), where sqlglot's spelling is wrong
    epoch_seconds: str | None = None
    #: a query giving one row per whole number `n` from 0 to `x` (a column of the
    #: `spine_bounds` CTE it reads): the time spine of dense series (`emit/spine.py`)
    spine_numbers: str | None = None
    #: a HyperLogLog distinct count of `x` (`count_distinct(x, approximate)`); none: the
    #: warehouse has no approximate distinct count (`check` reports MS455)
    approx_count_distinct: str | None = None
    #: the wall-clock time in `zone` of a UTC event time `x`, as the event type (time zones)
    local_time: str | None = None
    #: the UTC event time of `x`, a wall-clock time in `zone` (a source's own `timezone`)
    utc_time: str | None = None
    #: a timestamp (`x`) moved by whole calendar months (`months`, negative: back)
    add_months: str | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> Spellings:
        for construct, allowed in SPELLINGS.items():
            template = getattr(self, construct)
            if template is None:
                continue
            used = _PLACEHOLDER.findall(template)
            unknown = sorted(set(used) - set(allowed))
            if unknown or "x" not in used:
                raise ValueError(
                    f"`{construct}` may use the placeholders {{{'}, {'.join(allowed)}}} and "
                    f"must use {{x}}; it uses {', '.join('{' + u + '}' for u in used) or 'none'}")
        return self


class Backend(_Strict):
    """One warehouse, as `backends/<name>.toml` defines it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    sqlglot_dialect: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    #: module under `metricspec.run.drivers`; None for a backend metricspec only compiles for
    driver: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    url_schemes: tuple[str, ...] = ()
    url_examples: tuple[str, ...] = ()
    capabilities: Capabilities
    aggregates: Aggregates = Aggregates()
    spellings: Spellings = Spellings()
    file: str = Field(default="", exclude=True)  # set by the loader, for messages

    @field_validator("url_schemes", "url_examples", mode="before")
    @classmethod
    def _tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _connectable(self) -> Backend:
        if (self.driver is None) != (not self.url_schemes) or (
                self.driver is None) != (not self.url_examples):
            raise ValueError("`driver`, `url_schemes` and `url_examples` go together: give all "
                             "three, or none for a backend metricspec compiles for only")
        for example in self.url_examples:
            if example.partition("://")[0] not in self.url_schemes:
                raise ValueError(f"url example `{example}` has none of the url_schemes")
        if not self.capabilities.filter_clause:
            chosen = self.aggregates.model_dump()
            refused = sorted(form for form, spelling in chosen.items() if spelling == "filter")
            if refused:
                raise ValueError(f"aggregates.{refused[0]} = \"filter\" needs "
                                 "capabilities.filter_clause = true")
        if self.spellings.spine_numbers is None:  # every metric query's time spine
            raise ValueError("spellings.spine_numbers is required: every metric query builds "
                             "its series of periods with it (e.g. \"SELECT UNNEST("
                             "GENERATE_SERIES(0, {x})) AS n FROM spine_bounds\")")
        return self

    def __str__(self) -> str:
        return self.name

    @property
    def compile_only(self) -> bool:
        """Whether metricspec writes SQL for this warehouse but cannot connect to it."""
        return self.driver is None

    @property
    def approximate_percentiles(self) -> bool:
        """Whether an aggregate percentile is computed approximately (noted in the SQL)."""
        return self.capabilities.percentile == "approximate"

    def spelling(self, construct: str) -> exp.Expr | None:
        """The template tree overriding sqlglot for `construct`, parsed once; None: sqlglot's."""
        return _template(self, construct)


@cache
def _template(backend: Backend, construct: str) -> exp.Expr | None:
    text: str | None = getattr(backend.spellings, construct)
    if text is None:
        return None
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    where = f"{backend.file}: spellings.{construct}: `{text}`"
    marked = _PLACEHOLDER.sub(lambda m: _MARK.format(m.group(1)), text)
    try:
        tree = sqlglot.parse_one(marked, read=backend.sqlglot_dialect)
    except SqlglotError as exc:
        raise BackendFileError(f"{where} is not {backend.sqlglot_dialect} SQL: "
                               f"{str(exc).splitlines()[0]}") from None
    values = {c.name for c in tree.find_all(exp.Column) if not c.table}
    misplaced = sorted(p for p in set(_PLACEHOLDER.findall(text)) if _MARK.format(p) not in values)
    if misplaced:
        raise BackendFileError(f"{where}: {{{misplaced[0]}}} is not where a value can go")
    return tree


def fill(template: exp.Expr, values: Mapping[str, exp.Expr]) -> exp.Expr:
    """A copy of a spelling template with each placeholder replaced by its sqlglot node."""
    from sqlglot import exp

    tree = template.copy()
    marks = {_MARK.format(k): v for k, v in values.items()}
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in marks:
            if column is tree:
                return marks[column.name].copy()
            column.replace(marks[column.name].copy())
    return tree


def load_backend(path: Path) -> Backend:
    """Read one backend file; `BackendFileError` names the file and the field at fault."""
    where = f"backends/{path.name}" if path.parent == backends_dir() else str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        backend = Backend.model_validate({**raw, "file": where})
    except tomllib.TOMLDecodeError as exc:
        raise BackendFileError(f"{where}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
            + (f" (got {e['input']!r})" if e["type"] not in ("missing", "value_error") else "")
            for e in exc.errors())
        raise BackendFileError(f"{where}: {problems}") from None
    if backend.name != path.stem:
        raise BackendFileError(f"{where}: name: `{backend.name}` must be the file's name "
                               f"(`{path.stem}`)")
    return backend


class UnknownBackend(ValueError):
    """Raised for a `--dialect` no definition exists for."""


@cache
def all_backends() -> dict[str, Backend]:
    """Every backend defined in `backends/*.toml`, by name, in a stable order."""
    return {b.name: b for b in map(load_backend, sorted(backends_dir().glob("*.toml")))}


def get_backend(name: str) -> Backend:
    """Look a backend up by name; `UnknownBackend` lists the known ones."""
    backends = all_backends()
    if name not in backends:
        known = ", ".join(backends)
        raise UnknownBackend(f"unknown dialect `{name}` (known: {known}, or `all`)")
    return backends[name]


def backend_for_scheme(scheme: str) -> Backend:
    """The backend a connection URL scheme (`postgresql`, `duckdb`…) selects."""
    for backend in all_backends().values():
        if scheme in backend.url_schemes:
            return backend
    schemes = sorted(s for b in all_backends().values() for s in b.url_schemes)
    raise UnknownBackend(f"no backend for URL scheme `{scheme}` (known: {', '.join(schemes)})")


def resolve_dialects(names: list[str]) -> list[Backend]:
    """Expand `all` and look up each name, keeping order and dropping repeats."""
    out: dict[str, Backend] = {}
    for name in names:
        for part in name.split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part == "all":
                out.update(all_backends())
            else:
                backend = get_backend(part)
                out[backend.name] = backend
    return list(out.values())


def url_examples() -> list[str]:
    """One example connection URL per backend metricspec can connect to, then the others."""
    first = [b.url_examples[0] for b in all_backends().values() if b.url_examples]
    rest = [u for b in all_backends().values() for u in b.url_examples[1:]]
    return first + rest
