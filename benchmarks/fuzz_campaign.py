"""A long fuzz campaign: generated hostile spec files through `check` and `compile`.

    python benchmarks/fuzz_campaign.py --minutes 60 --seed 1 --out fuzz-failures

Inputs come from the generators of the CI fuzz test (`tests/fuzz/fuzz_inputs.py`: mutated
DSL, mutated YAML with anchors, merge keys, alias bombs, tags and deep nesting, mutated
bytes, and new metrics generated from a project's own sources). Each runs in a child process
with a limit of 5 s of CPU (30 s of wall time, for inputs that block) and of 3 GiB of memory,
so hangs and memory blow-ups are caught as well as exceptions; inputs that `check` accepts are
compiled for every backend. Failing inputs are saved under `--out/<class>/` with a `.txt`
holding the failure, and a summary (inputs tried, accepted, failures by class) is printed
every `--every` seconds and at the end, and written to `--out/summary.json`.

The run is reproducible: the same `--seed` gives the same inputs in the same order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))

from fuzz_harness import TIMEOUT, Result, Worker  # noqa: E402
from fuzz_inputs import generate  # noqa: E402

KEEP_PER_CLASS = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input generator")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"),
                        help="folder for failing inputs and summary.json")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help="CPU seconds per input (waiting is limited to six times that)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between reports")
    parser.add_argument("--max-inputs", type=int, default=0, help="stop after N inputs")
    parser.add_argument("--no-compile", action="store_true",
                        help="only check (faster; skips compiling accepted inputs)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    stop_at = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    tried, accepted, compiled = Counter[str](), Counter[str](), 0
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    next_report = started + args.every
    args.out.mkdir(parents=True, exist_ok=True)
    with Worker(compile_all_backends=not args.no_compile, timeout=args.timeout) as worker:
        worker.run(".mspec", b"", timeout=120)  # start the child (imports) before timing
        while time.monotonic() < stop_at:
            if args.max_inputs and sum(tried.values()) >= args.max_inputs:
                break
            kind, suffix, data = generate(rng)
            result = worker.run(suffix, data)
            tried[kind] += 1
            accepted[kind] += result.accepted
            compiled += result.compiled
            if result.failure:
                failures[result.failure] += 1
                saved = _save(args.out, result, kind, suffix, data, failures[result.failure])
                examples.setdefault(result.failure, saved)
            if time.monotonic() >= next_report:
                _report(tried, accepted, compiled, failures, started, final=False)
                next_report += args.every
    summary = _report(tried, accepted, compiled, failures, started, final=True)
    summary.update(seed=args.seed, minutes=args.minutes, examples=examples)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                          encoding="utf-8")
    return 1 if failures else 0


def _save(out: Path, result: Result, kind: str, suffix: str, data: bytes, count: int) -> str:
    if count > KEEP_PER_CLASS:
        return ""
    folder = out / re.sub(r"[^A-Za-z0-9_.-]+", "_", result.failure or "failure")[:80]
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:12]
    (folder / f"{name}{suffix}").write_bytes(data)
    (folder / f"{name}.txt").write_text(
        f"generator: {kind}\nfailure: {result.failure}\n\n{result.detail}\n", encoding="utf-8")
    return str(folder / f"{name}{suffix}")


def _report(tried: Counter[str], accepted: Counter[str], compiled: int,
            failures: Counter[str], started: float, final: bool) -> dict[str, object]:
    total = sum(tried.values())
    elapsed = time.monotonic() - started
    by_kind = ", ".join(f"{k} {tried[k]:,} ({accepted[k]:,} accepted)" for k in sorted(tried))
    print(f"{'final' if final else 'so far'}: {total:,} inputs in {elapsed / 60:.1f} min "
          f"({total / max(elapsed, 1e-9):.1f}/s) — {by_kind}; {compiled:,} queries compiled; "
          f"{sum(failures.values()):,} failures", flush=True)
    for name, count in failures.most_common():
        print(f"  {count:6,}  {name}", flush=True)
    return {"inputs": total, "by_generator": dict(tried), "accepted": dict(accepted),
            "compiled_queries": compiled, "failures": dict(failures),
            "seconds": round(elapsed, 1)}


if __name__ == "__main__":
    raise SystemExit(main())
