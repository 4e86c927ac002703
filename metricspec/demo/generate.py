"""The entry point: generate the whole ``support`` warehouse at a scale and seed.

Scale → rows (see ``docs/demo-data.md`` for measured figures): users are
``round(12,000 × scale)``; the ordinary period's conversations, messages, feedback and
assignments grow linearly with the scale (about 0.63 M messages per unit of scale), and the
monitoring day adds a fixed ~0.43 M messages and ~91 k feedback rows at every scale from 0.25
to about 60 (below 0.25 it shrinks in proportion; above 60 natural traffic alone fills it).

Users are simulated in chunks of :data:`CHUNK_USERS` (so memory stays bounded at any scale)
while a background thread writes the previous chunk into DuckDB; writes keep their order, and
every chunk draws from its own seeded streams, so the same ``(scale, seed)`` gives identical
tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from metricspec.demo import writer
from metricspec.demo.backlog import add_backlog
from metricspec.demo.chunks import POPULATION_STREAM, ChunkSimulator, users_batch
from metricspec.demo.dimensions import add_dimensions
from metricspec.demo.experiments import EXPERIMENTS
from metricspec.demo.monitoring import Incident, thumbs_per_5_minutes
from metricspec.demo.population import draw_population, n_users
from metricspec.demo.summary import DemoSummary, ExperimentTruth

CHUNK_USERS = 100_000
"""Users simulated together: about 5 M messages and 1.5 GB of working memory per chunk."""
DEFAULT_SEED = 20261122

Progress = Callable[[str, float], None]


def _rescaled(report: Progress, start: float, width: float) -> Progress:
    """Map a chunk's own progress (0 to 1) onto its slice of the overall progress."""
    return lambda stage, done: report(stage, start + width * done)


ROW_GROUP_SIZE = 2048
"""Rows per row group of a warehouse file this module creates (DuckDB's default: 122,880).

A time-ordered table stored in small row groups behaves like a warehouse table partitioned by
time: DuckDB skips the row groups outside a filter on the time column by their min/max, so a
query over the last day (a monitor, an incremental experiment refresh) reads about that day.
At scale 1 a day is ~700 feedback rows and ~8,000 messages, less than one default row group.
Measured on the demo (docs/benchmarks.md, section 7): experiment runs take the same time, the
file is ~20% larger, and a day-14 incremental refresh reads 0.11 of a full run's source rows
instead of 0.57. The smallest size DuckDB accepts is its vector size, 2,048."""


def _connect(
    target: str | Path | duckdb.DuckDBPyConnection,
) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """The connection to write with, and whether this module opened it (and closes it).

    A path is attached with `ROW_GROUP_SIZE` (an `ATTACH` option; `duckdb.connect` has none),
    spilling next to the file as a connection to the file would."""
    if isinstance(target, duckdb.DuckDBPyConnection):
        return target, False
    path = str(target).replace("'", "''")
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{path}.tmp'")
        con.execute(f"ATTACH '{path}' AS warehouse (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        con.execute("USE warehouse")
    except BaseException:
        con.close()
        raise
    return con, True


def generate(
    target: str | Path | duckdb.DuckDBPyConnection,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate the demo warehouse into schema ``support`` of a DuckDB database.

    The five demo tables of schema ``support`` are created or replaced, then the dimension
    tables and the checkout experiment built from them (`demo.dimensions`); nothing else in
    the database is touched.

    Args:
        target: A DuckDB database path (created if missing; new rows are stored in row
            groups of :data:`ROW_GROUP_SIZE`) or an open connection, which is left open and
            written with its own settings.
        scale: Size multiplier; ``1.0`` gives 12,000 users and about 1.1 M messages. Must be
            positive.
        seed: Random seed; the same ``(scale, seed)`` gives identical tables.
        progress: Called as ``progress(stage, fraction)`` with the overall fraction done,
            rising from 0.0 to 1.0, e.g. to draw a progress bar.

    Returns:
        Row counts, the generation time and the ground truth of the planted effects.

    Raises:
        ValueError: If ``scale`` is not positive.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    con, owned = _connect(target)
    setting = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    con.execute("SET enable_progress_bar = false")
    try:
        report("users", 0.0)
        writer.prepare(con)
        population = draw_population(
            n_users(scale), np.random.default_rng([seed, POPULATION_STREAM])
        )
        with _BackgroundWriter(con) as sink:
            sink("users", users_batch(population))
            simulator = ChunkSimulator(population, seed, scale, sink)
            starts = range(0, len(population), CHUNK_USERS)
            share = 0.95 / len(starts)
            for index, lo in enumerate(starts):
                chunk_report = _rescaled(report, 0.05 + index * share, share)
                simulator.run(index, population.take(slice(lo, lo + CHUNK_USERS)), chunk_report)
                sink.wait_for_earlier_chunks()
        dimension_rows = add_dimensions(con)  # built from the users just written
        dimension_rows.update(add_backlog(con))  # from the conversations
        report("done", 1.0)
    finally:
        if owned:
            con.close()
        elif setting is not None:
            con.execute(f"SET enable_progress_bar = {bool(setting[0])}")
    return DemoSummary(
        scale=scale,
        seed=seed,
        rows={"users": len(population), **simulator.rows, **dimension_rows},
        seconds=time.perf_counter() - started,
        experiments=tuple(
            ExperimentTruth.of(e, tuple(int(c) for c in simulator.exposure_counts[k]))
            for k, e in enumerate(EXPERIMENTS)
        ),
        incident=Incident(thumbs_per_5_minutes=thumbs_per_5_minutes(scale)),
    )


class _BackgroundWriter:
    """Append batches to DuckDB on one background thread, in submission order.

    Simulating the next chunk (numpy, mostly one core) overlaps with writing the previous one
    (DuckDB, its own threads). At most two chunks are held in memory.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metricspec-demo")
        self.current: list[Future[None]] = []
        self.earlier: list[Future[None]] = []

    def __enter__(self) -> _BackgroundWriter:
        return self

    def __call__(self, table: str, columns: Mapping[str, npt.NDArray[Any]]) -> None:
        self.current.append(self.pool.submit(writer.append, self.con, table, columns))

    def wait_for_earlier_chunks(self) -> None:
        """Block until the chunk before the one just submitted is written."""
        for future in self.earlier:
            future.result()
        self.earlier, self.current = self.current, []

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                for future in self.earlier + self.current:
                    future.result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
