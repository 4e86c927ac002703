"""Fuzzing in CI: a bounded number of generated hostile spec files per run.

Every input goes through `check`; every input check accepts is compiled for every backend.
Anything other than diagnostics — an exception, a diagnostic with an unknown code, output
out of proportion to the input, a compile failure of an accepted spec, more than 5 s of CPU
(or 30 s of waiting) — fails
the test with the input's seed, so it can be replayed:

    python -c "import random, sys; sys.path.insert(0, 'tests/fuzz'); \\
        from fuzz_inputs import dsl_input; print(dsl_input(random.Random(SEED)))"

Hypothesis draws the seeds (derandomised: the same inputs every run, no example database);
`HYPOTHESIS_SCALE=10` runs ten times as many. `benchmarks/fuzz_campaign.py` runs the same
generators for as long as you like, in a child process with a hard timeout.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_harness import Worker, check_input
from fuzz_inputs import GENERATORS, MAX_INPUT

SCALE = int(os.environ.get("HYPOTHESIS_SCALE", "1"))
COUNTS = {"dsl": 30, "yaml": 60, "bytes": 30, "grammar": 6}


def _settings(kind: str) -> settings:
    return settings(max_examples=COUNTS[kind] * SCALE, derandomize=True, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck))


def _run(kind: str, seed: int) -> None:
    suffix, data = GENERATORS[kind](random.Random(seed))
    assert len(data) <= MAX_INPUT
    result = check_input(suffix, data)
    assert result.failure is None, (f"{kind} input of seed {seed}: {result.failure}\n"
                                    f"{result.detail}\ninput: {data[:500]!r}")


@pytest.mark.slow
@given(st.integers(0, 2**32 - 1))
@_settings("dsl")
def test_mutated_dsl_specs_give_only_diagnostics(seed: int) -> None:
    _run("dsl", seed)


@pytest.mark.slow
@given(st.integers(0, 2**32 - 1))
@_settings("yaml")
def test_mutated_yaml_specs_give_only_diagnostics(seed: int) -> None:
    _run("yaml", seed)


@given(st.integers(0, 2**32 - 1))
@_settings("bytes")
def test_mutated_bytes_give_only_diagnostics(seed: int) -> None:
    _run("bytes", seed)


@pytest.mark.slow
@given(st.integers(0, 2**32 - 1))
@_settings("grammar")
def test_generated_metrics_check_and_compile(seed: int) -> None:
    """New metrics built from a project's own sources, columns and metrics: most are
    accepted, and every accepted one must compile for every backend."""
    _run("grammar", seed)


def _laughs(levels: int, width: int) -> bytes:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]"
              for i in range(1, levels)]
    return ("\n".join(lines) + f"\nmetrics: {{m: {{expr: count(x), tags: *a{levels - 1}}}}}\n"
            ).encode()


HOSTILE: dict[str, tuple[str, bytes]] = {
    "billion laughs": (".yaml", _laughs(9, 9)),
    "wide laughs": (".yaml", _laughs(3, 2000)),
    "recursive merge": (".yaml", b"metrics:\n  m: &m\n    expr: count(x)\n    <<: *m\n"),
    "self alias": (".yaml", b"a: &a [1, *a]\n"),
    "deep flow": (".yaml", b"a: " + b"[" * 20_000),
    "deep block": (".yaml", b"- " * 20_000 + b"x"),
    "tagged empty": (".yaml", b"metrics:\n  m:\n    expr: count(x)\n    tags: !! [4]\n"),
    "python tag": (".yaml", b"metrics: !!python/object/apply:os.system ['true']\n"),
    "yaml 9.9": (".yaml", b"%YAML 9.9\n---\nmetrics: {}\n"),
    "deep filter": (".mspec", b"source s = table t { entity u time ts }\nmetric m = count(s "
                    b"where " + b"(" * 60 + b"1" + b")" * 60 + b")\n"),
    "braces": (".mspec", b"metric m = count(s where " + b"{" * 60 + b")\n"),
    "quoted type": (".mspec", b"source s = table t { entity u time ts }\nmetric m = count(s "
                    b"where CAST(x AS \"text/*\") = 'a')\n"),
    "long line": (".mspec", b"metric m = " + b"x" * 900_000 + b" +\n"),
    "utf16": (".yaml", "metrics: {}\n".encode("utf-16")),
    "binary": (".mspec", bytes(range(256)) * 64),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_inputs_finish_in_a_child_process(name: str, worker: Worker) -> None:
    suffix, data = HOSTILE[name]
    result = worker.run(suffix, data)
    assert result.failure is None, f"{name}: {result.failure}\n{result.detail}"
    assert not result.accepted or name == "tagged empty" or result.diagnostics


@pytest.fixture(scope="module")
def worker() -> object:
    with Worker(compile_all_backends=True) as running:
        running.run(".mspec", b"", timeout=60)  # start it (imports) outside the timings
        yield running
