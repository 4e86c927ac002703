"""Fixtures for the statistics-engine tests: the reference data set and its numbers.

The reference material lives in the shared folder next to the repository
(``<repo>/../shared/reference``); tests that need it are skipped with a clear message when
that folder is absent. Helpers live in ``stats_reference.py`` (a unique module name, so
other test folders' conftest modules cannot shadow them).
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from stats_reference import REFERENCE, Reference

from metricspec.stats import Moments


def _require_shared() -> None:
    if not REFERENCE.is_dir():
        message = f"shared reference folder not found at {REFERENCE.resolve()}"
        if os.environ.get("METRICSPEC_REQUIRE_REFERENCE") == "1":
            pytest.fail(message + " (METRICSPEC_REQUIRE_REFERENCE=1, as in CI)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def reference() -> Reference:
    """Parsed /work/shared/reference/reference.txt."""
    _require_shared()
    return Reference((REFERENCE / "reference.txt").read_text())


@pytest.fixture(scope="session")
def units() -> dict[str, dict[str, np.ndarray]]:
    """Unit-level columns of data.csv per variant (used only to build sufficient statistics)."""
    _require_shared()
    cols: dict[str, dict[str, list[float]]] = {}
    with open(REFERENCE / "data.csv", newline="") as fh:
        for rec in csv.DictReader(fh):
            arm = cols.setdefault(rec["variant"], {})
            for k, v in rec.items():
                if k not in ("variant", "user_id"):
                    arm.setdefault(k, []).append(float(v))
    return {v: {k: np.asarray(x) for k, x in c.items()} for v, c in cols.items()}


@pytest.fixture(scope="session")
def moments(units: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Moments]]:
    """Per variant, per metric: revenue (mean + CUPED), conv (0/1), cps (clicks/sessions)."""
    out: dict[str, dict[str, Moments]] = {}
    for arm, u in units.items():
        out[arm] = {
            "revenue": Moments.from_units(
                {"revenue.x": u["revenue"], "revenue.c": u["pre_revenue"]}
            ),
            "conv": Moments.from_units({"conv.x": u["converted"]}),
            "cps": Moments.from_units(
                {
                    "cps.x": u["clicks"],
                    "cps.y": u["sessions"],
                    "cps.c": u["pre_clicks"],
                    "cps.d": u["pre_sessions"],
                }
            ),
        }
    return out
