"""One demo warehouse at scale 0.25, generated once for the whole demo test suite."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from demo_warehouse import SCALE, Warehouse

from metricspec.demo import generate


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    con = duckdb.connect()
    summary = generate(con, scale=SCALE)
    yield Warehouse(con, summary)
    con.close()
