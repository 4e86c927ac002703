"""Start-up time of the `metricspec` command, as a pre-commit hook or an editor pays it.

    .venv/bin/python benchmarks/startup.py              # 11 runs per command
    .venv/bin/python benchmarks/startup.py --runs 21

For `metricspec --version`, `metricspec check specs` and `metricspec compile specs --dialect
duckdb`, each run a fresh process of the installed command (the console script beside this
interpreter; `python -m metricspec` when there is none), it prints the median wall time and
the median CPU time of the child (user + system: on a shared machine wall time includes
waiting for a core), then, from one run under `python -X importtime`, which heavy
third-party packages the command imported and how long each took to import.

Children run with bytecode caching on, as an installed package has it: a
`PYTHONDONTWRITEBYTECODE` in the environment would make every run compile metricspec's
modules from source again (about 0.1 s); `--as-is` keeps the environment unchanged. The
warm-up run of each command writes the `.pyc` files and the DSL parser's cache
(`metricspec.parse.grammar_cache`).

Targets (docs/benchmarks.md, "Start-up"): `--version` under 0.15 s and `check specs` under
0.4 s wall; `tests/test_startup.py` asserts the import sets, not the times.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "numpy", "duckdb", "jinja2", "pyarrow", "pandas", "sqlglot", "pydantic",
         "lark", "ruamel", "typer", "rich")
TARGETS = {"--version": 0.15, "check specs": 0.4}


def command() -> list[str]:
    """The installed `metricspec` command, else `python -m metricspec`."""
    script = Path(sys.executable).parent / "metricspec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "metricspec"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, child CPU seconds and exit status of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def imports(args: list[str], env: dict[str, str]) -> list[tuple[int, str]]:
    """(cumulative µs, module) of every import of one `python -X importtime` run."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "metricspec", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    found = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if cumulative.strip().isdigit():
                found.append((int(cumulative), name.strip()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--as-is", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE if the environment sets it")
    options = parser.parse_args()
    env = dict(os.environ)
    if not options.as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = tempfile.mkdtemp(prefix="metricspec-startup-")
    cases = {
        "--version": ["--version"],
        "check specs": ["check", "specs"],
        "compile specs --dialect duckdb": ["compile", "specs", "--dialect", "duckdb",
                                           "--out", out],
    }
    base = command()
    print(f"{' '.join(Path(a).name for a in base)}: median of {options.runs} runs "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}, bytecode "
          f"{'off' if env.get('PYTHONDONTWRITEBYTECODE') else 'cached'})")
    for label, args in cases.items():
        timed([*base, *args], env)  # warm the file cache, the bytecode and the parser cache
        runs = [timed([*base, *args], env) for _ in range(options.runs)]
        statuses = sorted({status for _, _, status in runs})
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        target = TARGETS.get(label)
        verdict = "" if target is None else (
            f"  (target < {target:.2f} s: {'met' if wall < target else 'MISSED'})")
        print(f"\nmetricspec {label}: wall {wall:.3f} s, cpu {cpu:.3f} s, exit {statuses}"
              f"{verdict}")
        packages = {name: cumulative for cumulative, name in imports(args, env)
                    if name in HEAVY}
        listed = ", ".join(f"{name} {packages[name] / 1000:.0f} ms"
                           for name in sorted(packages, key=packages.__getitem__, reverse=True))
        print(f"  heavy packages imported (import time under -X importtime): {listed or 'none'}")


if __name__ == "__main__":
    main()
