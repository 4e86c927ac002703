"""Seeded generators of hostile spec files, for the CI fuzz test and the long campaign.

Each generator takes a `random.Random` and returns `(suffix, bytes)`: a file to write as
`fuzz<suffix>` and check. Seeds are the repository's own specs (valid and broken), so most
inputs are near-valid and reach deep into the checker and, when accepted, the compiler.

* `dsl_input`: token-level mutations of `.mspec` files (grammar tokens, extreme numbers,
  hostile names, deep nesting, quantiles out of range, long lines, BOMs).
* `yaml_input`: YAML-level mutations of `.yaml` files (anchors and aliases, merge keys,
  recursive merges, alias bombs, tags, directives, second documents, duplicate and complex
  keys, deep flow nesting, NaN/inf and huge numbers, quoting and escapes, indentation).
* `byte_input`: byte-level mutations of either kind (flips, control bytes, invalid UTF-8,
  UTF-16/32 byte order marks, splices, truncation, huge lines).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Inputs stay well under the spec size cap: the point is variety, not size.
MAX_INPUT = 256 * 1024

TOKENS = [
    "metric ", "source ", "kpi ", "guardrail ", "experiment ", "monitor ", "= ", "{", "}",
    "(", ")", ",", ";", ":", ".", "..", "->", "<-", "<=", ">", "%", "pp", "+", "-", "*", "/",
    "'", '"', '"""', "`", "#", "\n", "\t", " ", "\x00", "\r", "\u2028", "\x85", "é", "🙂",
    "where ", "count(", "sum(", "p95(", "p0(", "p100(", "p999(", "median(", "quantile(",
    "weighted(", "conversion(", "rolling(", "cumulative(", "within ", "by ", "table ",
    "query ", "entity ", "time ", "dimension ", "column ", "unit ", "variants ", "control",
    "window ", "2026-11-01", "2026-13-45", "primary ", "max_increase ", "alpha ", "power ",
    "every ", "baseline ", "trailing ", "alert when ", "below ", "above ", "zscore ", "for ",
    "windows", "min_n ", "cuped ", "sequential looks ", "winsorize ", "at ", "mde ",
    "traffic ", "per ", "srm_alpha ", "segments ", "north_star ", "<- ratio(",
    "CAST(x AS \"text/*\")", "EXTRACT(\"year\" FROM ts)", "x IN (1, 2)", "x BETWEEN 1 AND 2",
    "'; DROP TABLE t; --", "\"a\"\"b\"", "/* c */", "-- c\n", "random()", "NULL",
]
NUMBERS = ["0", "-0", "1e999", "-1e999", "99999999999999999999999", "0.0000000001", "1.5",
           "100", "95%", "150%", "-5%", "0pp", "1e-320", "9" * 400, "nan", "inf", "0x10"]
NAMES = ["a" * 300, "x__y", "period", "value", "_", "select", "user", "É", "a-b", "a.b.c.d",
         "count", "metric", "where", "csat_2", "N" * 64]


@cache
def seeds(suffix: str) -> tuple[bytes, ...]:
    """Seed files of one kind: the example specs, the equivalence project, broken cases."""
    roots = [REPO / "specs", REPO / "tests" / "spec" / "equivalent", REPO / "tests" / "spec"
             / "broken"]
    found = sorted({p for root in roots for p in root.rglob(f"*{suffix}") if p.is_file()})
    data = [p.read_bytes() for p in found]
    if suffix == ".mspec":  # one self-contained file of every example spec
        data.append(b"\n".join(p.read_bytes() for p in sorted((REPO / "specs").rglob(
            "*.mspec"))))
    return tuple(d for d in data if len(d) < MAX_INPUT)


def _pick_seed(rng: random.Random, suffix: str) -> str:
    pool = seeds(suffix)
    # The self-contained projects check clean, so their mutants reach the compiler.
    clean = [s for s in pool if b"project" in s[:200] or len(s) > 6000]
    chosen = rng.choice(clean) if clean and rng.random() < 0.6 else rng.choice(pool)
    return chosen.decode("utf-8", errors="replace")


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _replace_one(rng: random.Random, text: str, pattern: str, new: Callable[[str], str]) -> str:
    matches = list(re.finditer(pattern, text))
    if not matches:
        return text
    m = rng.choice(matches)
    return text[:m.start()] + new(m.group(0)) + text[m.end():]


def _insert(rng: random.Random, text: str, piece: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + piece + text[at:]


# ---------------------------------------------------------------- grammar

@cache
def _vocabulary(seed: str, suffix: str) -> tuple[tuple[tuple[str, tuple[str, ...],
                                                          tuple[str, ...]], ...],
                                                    tuple[str, ...]]:
    """The sources (name, numeric columns, all columns) and metric names of a seed."""
    from metricspec import ir
    from metricspec.parse import parse_source

    objects = parse_source(seed, f"seed{suffix}").objects
    sources = tuple((o.name, tuple(c.name for c in o.all_columns() if c.type in (
        "number", "integer")), tuple(c.name for c in o.all_columns()))
        for o in objects if isinstance(o, ir.Source))
    metrics = tuple(o.name for o in objects if isinstance(o, ir.Metric)
                    and not isinstance(o.expr, ir.Window))
    return sources, metrics


def _filter(rng: random.Random, columns: tuple[str, ...]) -> str:
    col = rng.choice(columns) if columns else "x"
    parts = [f"{col} > {rng.choice(['0', '1.5', '-2', '1e3'])}", f"{col} = 'a''b'",
             f"{col} in ('web', 'app')", f"{col} is null", f"not {col} is null",
             f"{col} between 1 and 2", f"lower({col}) like 'a%'", f"coalesce({col}, 0) <> 1",
             f"cast({col} as integer) >= 2", f"extract(year from {col}) = 2026",
             f"{col} <> ''", "true"]
    out = rng.choice(parts)
    if rng.random() < 0.3:
        out = f"({out}) {rng.choice(['and', 'or'])} {rng.choice(parts)}"
    return out


def _atom(rng: random.Random, sources: tuple[tuple[str, tuple[str, ...], tuple[str, ...]],
                                              ...], metrics: tuple[str, ...]) -> str:
    name, numeric, columns = rng.choice(sources)
    where = f" where {_filter(rng, columns)}" if rng.random() < 0.3 else ""
    col = rng.choice(numeric) if numeric else None
    choices = [f"count({name}{where})", f"count_distinct({name}.{rng.choice(columns)}{where})"
               if columns else f"count({name})", rng.choice(["1", "2.5", "0", "50%", "100"])]
    if col:
        choices += [f"sum({name}.{col}{where})", f"avg({name}.{col})", f"min({name}.{col})",
                    f"max({name}.{col})", f"p{rng.randrange(1, 100)}({name}.{col})",
                    f"median({name}.{col}{where})",
                    f"quantile({name}.{col}{where}, {rng.choice(['0.5', '0.01', '0.999'])})"]
    if metrics:
        choices += [rng.choice(metrics)] * 3
    if len(sources) > 1:
        other = rng.choice(sources)[0]
        choices.append(f"conversion({name} -> {other}, within {rng.randrange(1, 48)} hours)")
    return rng.choice(choices)


def _expr(rng: random.Random, sources: tuple[tuple[str, tuple[str, ...], tuple[str, ...]],
                                              ...], metrics: tuple[str, ...], depth: int) -> str:
    if depth <= 0 or rng.random() < 0.35:
        return _atom(rng, sources, metrics)
    sub = (lambda: _expr(rng, sources, metrics, depth - 1))  # noqa: E731
    shape = rng.randrange(6)
    if shape == 0:
        return f"weighted({sub()}: 0.5, {sub()}: 50%)"
    if shape == 1:
        return f"-({sub()})"
    return f"({sub()} {rng.choice('+-*/')} {sub()})"


def grammar_input(rng: random.Random) -> tuple[str, bytes]:
    """A clean seed project plus new metrics (and a monitor) built from its own sources,
    columns and metrics: mostly valid specs that check accepts and the compiler must handle."""
    suffix = rng.choice([".mspec", ".yaml"])
    pool = [s for s in seeds(suffix) if b"project" in s[:200]] or list(seeds(suffix))
    text = rng.choice(pool).decode("utf-8", errors="replace")
    sources, metrics = _vocabulary(text, suffix)
    if not sources:
        return suffix, text.encode()
    new = [(f"g{i}", _expr(rng, sources, metrics, rng.randrange(0, 4)))
           for i in range(rng.randrange(1, 6))]
    watched = rng.choice(new)[0]
    every = rng.choice(["5 minutes", "1 hour", "15 minutes", "2 hours"])
    alert = rng.choice(["below baseline by 10%", "above 5", "zscore below -3 for 2 windows",
                        "above baseline by 0pp"])
    if suffix == ".mspec":
        text += "\n" + "\n".join(f"metric {n} = {e}" for n, e in new)
        if rng.random() < 0.3:
            text += (f"\nmonitor gm {{ metric {watched} every {every} baseline trailing 1 day "
                     f"alert when {alert} min_n {rng.choice([0, 1, 200])} }}\n")
    else:
        # Shared defaults: the first new metric is the anchor, others merge it.
        lines = (f"  {new[0][0]}: &gdef\n    expr: \"{new[0][1]}\"\n    owner: \"fuzz\"\n"
                 f"    direction: {rng.choice(['up', 'down'])}\n    format: number\n")
        lines += "".join(f"  {n}:\n" + ("    <<: *gdef\n" if rng.random() < 0.6 else "")
                         + f"    expr: \"{e}\"\n" for n, e in new[1:])
        text = text.replace("\nmetrics:\n", "\nmetrics:\n" + lines, 1)
        exp = re.search(r"(?m)^experiments:\n  (\w+):$", text)
        if exp and rng.random() < 0.5:  # a second experiment sharing the first's settings
            text = text[:exp.end()] + " &gexp" + text[exp.end():]
            text = text.replace("\nmonitors:\n", f"\n  gexp2:\n    <<: *gexp\n    primary: "
                                f"{new[0][0]}\nmonitors:\n", 1)
        monitor = (f"  gm:\n    metric: {watched}\n    every: {every}\n    baseline: 1 day\n"
                   f"    alert: {alert}\n")
        if rng.random() < 0.3:
            text = text.replace("\nmonitors:\n", "\nmonitors:\n" + monitor, 1)
    return suffix, text.encode("utf-8")[:MAX_INPUT]


# ---------------------------------------------------------------- DSL

def _dsl_mutation(rng: random.Random, text: str) -> str:
    choice = rng.randrange(11)
    if choice == 0:
        return _insert(rng, text, rng.choice(TOKENS))
    if choice == 1:
        return _replace_one(rng, text, r"\b\d+(\.\d+)?%?", lambda _: rng.choice(NUMBERS))
    if choice == 2:
        return _replace_one(rng, text, r"\b[a-z_][a-z0-9_]*\b", lambda _: rng.choice(NAMES))
    if choice == 3:  # deep nesting inside an expression
        depth = rng.choice([50, 199, 201, 400, 2000])
        piece = rng.choice(["-" * depth + "1", "(" * depth + "1" + ")" * depth,
                            " + ".join(["1"] * depth), "{" * depth])
        return _replace_one(rng, text, r"count\([a-z_]+\)", lambda m: f"{m} + {piece}")
    if choice == 4:  # quantiles, however written
        arg = rng.choice(["95%", "1.5", "0", "1", "-0.5", "0.5", "1e999"])
        fn = rng.choice([f"quantile({{}}, {arg})", "p100({})", "p0({})", "p00({})",
                         "p" + "9" * rng.randrange(1, 40) + "({})"])
        return _replace_one(rng, text, r"(count|sum|avg|p\d+)\(([a-z_.]+)\)",
                            lambda m: fn.format(m.split("(", 1)[1].rstrip(")")))
    if choice == 5:  # delete or duplicate a span
        a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
        return text[:a] + text[b:] if rng.random() < 0.5 else text[:b] + text[a:b] + text[b:]
    if choice == 6:  # a long line
        return _insert(rng, text, rng.choice(["x", "a + ", "# ", "'"]) * rng.randrange(1, 40_000))
    if choice == 7:  # filters with hostile SQL
        return _replace_one(rng, text, r"where [^)\n]*", lambda _: "where " + rng.choice(TOKENS[
            -9:]) + " " + rng.choice(TOKENS[-9:]))
    if choice == 8:  # many unknown references
        n = rng.choice([10, 500, 3000])
        refs = "\n".join(f"metric fz{i} = unknown_{i} + csta" for i in range(n))
        return text + "\n" + refs
    if choice == 9:
        return "\ufeff" + text
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])  # a repeated line
    return "\n".join(lines)


def dsl_input(rng: random.Random) -> tuple[str, bytes]:
    text = _pick_seed(rng, ".mspec")
    for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
        text = _dsl_mutation(rng, text)
    return ".mspec", text.encode("utf-8", errors="surrogatepass")[:MAX_INPUT]


# ---------------------------------------------------------------- YAML

_MAP_KEY = r"(?m)^( *)([A-Za-z_\"'][^:\n]*):[ \t]*$"
_SCALAR_KEY = r"(?m)^( *)([A-Za-z_][\w]*): +([^\n&*!#{}\[\]]+)$"
TAGS = ["!!python/object:os.system", "!!python/name:os.system", "!!", "!foo", "!!int",
        "!!float", "!!bool", "!!null", "!!str", "!!binary", "!!set", "!!omap", "!!map", "!!seq",
        "!!timestamp", "!<tag:x>", "!"]
YAML_VALUES = [".nan", ".inf", "-.inf", "1e999", "0x1F", "0o17", "1_000", "9" * 300, "~", "",
               "true", "yes", "2026-13-45", "'x''y'", '"\\x00\\u2028\\uD800"', "|\n  a\n  b",
               ">-\n  a\n  b", "[1, [2, [3]]]", "{a: 1, b: {c: 2}}", "*undefined", "- a",
               "\"unclosed", "@at", "`tick`", "% pct", "<<"]


def _anchor_merge(rng: random.Random, text: str) -> str:
    """`name: &aN` on one mapping and `<<: *aN` (or a list of merges) inside another."""
    keys = list(re.finditer(_MAP_KEY, text))
    if len(keys) < 2:
        return text
    a, b = rng.sample(keys, 2)
    siblings = [k for k in keys if k.group(1) == a.group(1) and k.start() != a.start()]
    if siblings and rng.random() < 0.8:  # share one object's settings with another
        b = rng.choice(siblings)
    anchor = f"a{rng.randrange(1000)}"
    merge = rng.choice([f"*{anchor}", f"[*{anchor}, *{anchor}]", f"[*{anchor}]", "5",
                        f"{{<<: *{anchor}}}", "[1, 2]"])
    indent = b.group(1) + "  "
    if b.start() < a.start():
        text = text[:a.end()] + f" &{anchor}" + text[a.end():]
        return text[:b.end()] + f"\n{indent}<<: {merge}" + text[b.end():]
    text = text[:b.end()] + f"\n{indent}<<: {merge}" + text[b.end():]
    return text[:a.end()] + f" &{anchor}" + text[a.end():]


def _scalar_alias(rng: random.Random, text: str) -> str:
    found = list(re.finditer(_SCALAR_KEY, text))
    if len(found) < 2:
        return text
    a, b = sorted(rng.sample(found, 2), key=lambda m: m.start())
    name = f"s{rng.randrange(1000)}"
    used = name if rng.random() < 0.8 else "undefined"
    text = text[:b.start(3)] + f"*{used}" + text[b.end(3):]
    return text[:a.start(3)] + f"&{name} " + text[a.start(3):]


def _laughs(rng: random.Random) -> str:
    levels, width = rng.choice([(9, 9), (4, 30), (20, 2), (3, 5)])
    out = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    out += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]"
            for i in range(1, levels)]
    return "\n".join(out) + "\n"


def _yaml_mutation(rng: random.Random, text: str) -> str:
    choice = rng.randrange(14)
    if choice == 0:
        return _anchor_merge(rng, text)
    if choice == 1:
        return _scalar_alias(rng, text)
    if choice == 2:
        tag = rng.choice(TAGS)
        return _replace_one(rng, text, r"(?m): (?=\S)", lambda m: f"{m}{tag} ")
    if choice == 3:
        return _laughs(rng) + text.replace("tags: [", "tags: [*l0, ", 1)
    if choice == 4:
        depth = rng.choice([50, 99, 101, 150, 3000])
        deep = rng.choice(["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth,
                           "[" * depth])
        return _replace_one(rng, text, _SCALAR_KEY, lambda m: m.split(":")[0] + ": " + deep)
    if choice == 5:
        return rng.choice(["%YAML 9.9\n---\n", "%YAML 1.1\n---\n", "%YAML 1.3\n---\n",
                           "%TAG ! tag:x,2000:\n---\n", "--- !!map\n", "---\n"]) + text
    if choice == 6:
        lines = _lines(text)
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(["---", "...", "--- |", "? "]))
        return "\n".join(lines)
    if choice == 7:  # a line twice: duplicate keys
        lines = _lines(text)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines)
    if choice == 8:
        value = rng.choice(YAML_VALUES)
        return _replace_one(rng, text, _SCALAR_KEY, lambda m: m.split(":")[0] + ": " + value)
    if choice == 9:
        key = rng.choice(["? [a, b]\n: 1", "? {a: 1}\n: 2", "1: x", "true: y", "null: z",
                          "~: w", '"": v', "<<: *nope", "? |\n  block\n: k"])
        return _replace_one(rng, text, _MAP_KEY, lambda m: m + "\n" + "    " + key.replace(
            "\n", "\n    "))
    if choice == 10:  # indentation and tabs
        lines = _lines(text)
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["\t", " ", "   ", ""]) + lines[i].lstrip(" " if rng.random() < .5
                                                                      else "")
        return "\n".join(lines)
    if choice == 11:
        return _replace_one(rng, text, r"(?m)^( *)expr: .*$",
                            lambda m: m.split("expr:")[0] + "expr: " + rng.choice(
                                ["p100(x)", "quantile(x, 95%)", "-" * 300 + "1",
                                 "count(x where CAST(x AS \"text/*\") = 'a')",
                                 "count(x where " + "(" * 70 + "1" + ")" * 70 + ")",
                                 "sum(e.cost) / 0", "5%", "x" * 5000]))
    if choice == 12:  # the same text as DSL-level noise
        return _dsl_mutation(rng, text)
    return _insert(rng, text, rng.choice(["\r", "\r\n", "\u2028", "\x85", "\ufeff", "\x00",
                                          "\t", "#", "&", "*", "!", "|", ">", "{", "[", "'"]))


def yaml_input(rng: random.Random) -> tuple[str, bytes]:
    text = _pick_seed(rng, ".yaml")
    for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
        text = _yaml_mutation(rng, text)
    suffix = ".yml" if rng.random() < 0.1 else ".yaml"
    return suffix, text.encode("utf-8", errors="surrogatepass")[:MAX_INPUT]


# ---------------------------------------------------------------- bytes

BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]


def byte_input(rng: random.Random) -> tuple[str, bytes]:
    suffix = rng.choice([".mspec", ".yaml"])
    data = bytearray(rng.choice(seeds(suffix)))
    for _ in range(rng.randrange(1, 6)):
        choice = rng.randrange(8)
        at = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            data[at:at] = bytes(rng.choice([0, 1, 7, 8, 12, 13, 27, 127, 0x80, 0x85, 0xC0,
                                            0xED, 0xF5, 0xFF]) for _ in range(rng.randrange(1, 4)))
        elif choice == 2:
            data[0:0] = rng.choice(BOMS)
        elif choice == 3:
            data = data[:at]
        elif choice == 4:
            other = rng.choice(seeds(rng.choice([".mspec", ".yaml"])))
            cut = rng.randrange(len(other) + 1)
            data = data[:at] + other[cut:]
        elif choice == 5:
            data[at:at] = bytes([rng.randrange(32, 127)]) * rng.randrange(1, 60_000)
        elif choice == 6:
            data[at:at] = "\u2028\u0085\r".encode()
        else:
            data[at:at] = rng.randbytes(rng.randrange(1, 16))
    return suffix, bytes(data[:MAX_INPUT])


GENERATORS: dict[str, Callable[[random.Random], tuple[str, bytes]]] = {
    "dsl": dsl_input, "yaml": yaml_input, "bytes": byte_input, "grammar": grammar_input,
}


def generate(rng: random.Random) -> tuple[str, str, bytes]:
    """One input from a generator chosen at random: (generator, suffix, bytes)."""
    kind = rng.choices(list(GENERATORS), weights=[4, 4, 2, 2])[0]
    suffix, data = GENERATORS[kind](rng)
    return kind, suffix, data
