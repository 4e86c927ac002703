"""BigQuery SQL through zetasql: Google's GoogleSQL front end (and reference evaluator)
compiled to WebAssembly.

Every ``run(sql)`` first *analyzes* the SQL exactly as written against a catalog in which
each loaded ``dataset.table`` exists (as a path and as a quoted single name), with the
default time zone UTC, so non-BigQuery syntax (``IFF``, ``WITHIN GROUP``, ``APPROX_PERCENTILE``,
``DATE_TRUNC('day', ts)``) is rejected. It then *executes* it on the loaded rows with the
reference evaluator, after the small rewrite described in :mod:`harness.zetasql_rewrite`.
Language options are ZetaSQL's maximum feature set, a close superset of BigQuery's.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import time
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from harness.base import REPO_ROOT, Engine, EngineUnavailable, logical_type, split_name
from harness.zetasql_rewrite import rewrite
from metricspec.run.connections import WarehouseError

try:
    from zetasql.api import Analyzer, CatalogBuilder, PreparedQuery, TableBuilder
    from zetasql.core import ZetaSqlLocalService
    from zetasql.core.exceptions import ZetaSQLError
    from zetasql.types import (
        AnalyzerOptions,
        EvaluateQueryRequest,
        LanguageOptions,
        ParseLocationRecordType,
        SimpleCatalog,
        ZetaSQLBuiltinFunctionOptions,
    )
    from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2

    from harness.zetasql_tables import register_catalog, table_content
    from harness.zetasql_values import TYPE_KINDS, from_value
except ImportError as exc:  # pragma: no cover - reported as an unavailable engine
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None


#: Compiled WebAssembly is cached here: compiling the 28 MB module takes 15-60 s.
CACHE_DIR = REPO_ROOT / ".engines" / "zetasql-cache"


def cache_compiled_module(cache_dir: Path = CACHE_DIR) -> None:
    """Make zetasql load its compiled WebAssembly from ``cache_dir`` (compiling it once).

    zetasql compiles its module with ``wasmtime.Module.from_file`` on first use; this swaps
    in a version that stores ``Module.serialize()`` output keyed by the zetasql and wasmtime
    versions and the file size, and falls back to compiling if the cache does not load.
    """
    import wasmtime
    import zetasql.core.wasm_client as wasm_client

    compile_module = wasmtime.Module.from_file

    def from_file(engine: Any, path: str) -> Any:
        versions = "-".join(importlib.metadata.version(p) for p in ("zetasql", "wasmtime"))
        cached = cache_dir / f"zetasql-{versions}-{os.path.getsize(path)}.cwasm"
        if cached.exists():
            with contextlib.suppress(Exception):
                return wasmtime.Module.deserialize_file(engine, str(cached))
        module = compile_module(engine, path)
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(module.serialize())
        partial.replace(cached)
        return module

    wasm_client.Module = types.SimpleNamespace(from_file=from_file)


class ZetaSQLEngine(Engine):
    """BigQuery's SQL dialect, analyzed and executed by zetasql."""

    name = "bigquery"

    def __init__(self) -> None:
        if IMPORT_ERROR is not None:
            raise EngineUnavailable(f"the zetasql package is not importable: {IMPORT_ERROR}")
        super().__init__()
        started = time.perf_counter()
        cache_compiled_module()  # before anything touches the service
        self.language = LanguageOptions.maximum_features()
        self.options = AnalyzerOptions(
            language_options=self.language,
            default_timezone="UTC",
            parse_location_record_type=ParseLocationRecordType.PARSE_LOCATION_RECORD_FULL_NODE_SCOPE,
        )
        self.service = ZetaSqlLocalService.get_instance()
        self.schemas: dict[str, list[tuple[str, str]]] = {}
        self.contents: dict[str, Any] = {}
        #: The load call (a serial number) that gave each table its current rows.
        self.loaded_by: dict[str, int] = {}
        self.loads = 0
        #: Registered execution catalogs: the (table, load) pairs each holds -> its id.
        self.registered: dict[frozenset[tuple[str, int]], int] = {}
        self._catalogs()
        self.analyze("SELECT 1")  # instantiate the WebAssembly module now
        self.startup_seconds = time.perf_counter() - started

    def _tables(self, as_path: bool, only: frozenset[str] | None = None) -> list[Any]:
        tables = []
        for serial, (qualified, cols) in enumerate(sorted(self.schemas.items()), start=1):
            if only is not None and qualified not in only:
                continue
            builder = TableBuilder(qualified.partition(".")[2] if as_path else qualified)
            for column, logical in cols:
                builder = builder.add_column(column, TYPE_KINDS[logical])
            table = builder.with_serialization_id(serial).build()
            table.full_name = qualified
            tables.append(table)
        return tables

    def _catalogs(self) -> None:
        builtins = ZetaSQLBuiltinFunctionOptions(language_options=self.language)
        # Analysis: `dataset.table` as a path (sub-catalog per dataset) and as one name.
        root = CatalogBuilder("bigquery").with_builtin_functions(builtins).build()
        datasets: dict[str, SimpleCatalog] = {}
        for table in self._tables(as_path=True):
            dataset = table.full_name.partition(".")[0]
            if dataset not in datasets:
                datasets[dataset] = CatalogBuilder(dataset).build()
                root.catalog.append(datasets[dataset])
            datasets[dataset].table.append(table)
        for table in self._tables(as_path=False):
            root.table.append(table)
        self.analysis_catalog = root
        self.table_names = {t.serialization_id: t.full_name for t in self._tables(False)}
        # Execution catalogs holding rows are registered when a query needs them; drop those
        # holding rows a load has replaced.
        current = set(self.loaded_by.items())
        for held, registered_id in list(self.registered.items()):
            if not held <= current:
                self.service.unregister_catalog(registered_id=registered_id)
                del self.registered[held]

    def _execution_catalog(self, scanned: frozenset[str]) -> int:
        """The id of a registered catalog holding the current rows of every table in
        ``scanned``, registering one if none does.

        A new one holds every table loaded by the same ``load`` calls as ``scanned``: the
        rows are sent to the WebAssembly service once per load (as before this was lazy),
        while tables of other tests' loads, which this query does not read, are not sent
        again with it (re-sending a demo warehouse took ~3 s of CPU per later load).
        """
        needed = {(name, self.loaded_by[name]) for name in scanned}
        for held, registered_id in self.registered.items():
            if needed <= held:
                return registered_id
        loads = {load for _, load in needed}
        names = frozenset(n for n, load in self.loaded_by.items() if load in loads)
        builtins = ZetaSQLBuiltinFunctionOptions(language_options=self.language)
        flat = CatalogBuilder("bigquery").with_builtin_functions(builtins).build()
        flat.table.extend(self._tables(as_path=False, only=names))
        contents = {name: self.contents[name] for name in names}
        registered_id = register_catalog(self.service, flat, contents)
        self.registered[frozenset((n, self.loaded_by[n]) for n in names)] = registered_id
        return registered_id

    def _load(self, tables: Mapping[str, pa.Table]) -> None:
        """Add each table (in dataset ``schema``) to the analysis catalog and keep its rows
        for the execution catalog of the first query that reads it."""
        self.loads += 1
        load = self.loads
        for qualified, table in tables.items():
            split_name(qualified)
            self.schemas[qualified] = [(f.name, logical_type(f)) for f in table.schema]
            self.contents[qualified] = table_content(table)
            self.loaded_by[qualified] = load
        self._catalogs()

    def analyze(self, sql: str) -> Any:
        """Analyze ``sql`` as BigQuery SQL; return the resolved statement.

        Raises:
            WarehouseError: With ZetaSQL's message if the SQL is not valid BigQuery SQL.
        """
        try:
            return Analyzer(self.options, self.analysis_catalog).analyze_statement(sql)
        except ZetaSQLError as exc:
            raise WarehouseError(f"bigquery (zetasql) rejected the SQL: {exc}") from exc

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        """Analyze ``sql``, then execute it on the loaded rows."""
        resolved = self.analyze(sql)
        executable, scanned = rewrite(sql, resolved, self.table_names)
        try:
            registered_id = self._execution_catalog(scanned)
            query = (
                PreparedQuery.builder()
                .set_sql(executable)
                .set_analyzer_options(self.options)
                .set_registered_catalog_id(registered_id)
                .prepare()
            )
            with query:
                # The public execute() drops timestamps while converting the response, so
                # ask the service for the raw protobuf answer.
                response = self.service.wasm_client.call_grpc_func(
                    "ZetaSqlLocalService_EvaluateQuery",
                    EvaluateQueryRequest(prepared_query_id=query.prepared_query_id).to_proto(),
                    local_service_pb2.EvaluateQueryResponse,
                )
        except ZetaSQLError as exc:
            raise WarehouseError(f"bigquery (zetasql) failed to execute: {exc}") from exc
        types = [c.type for c in query.columns]
        return [
            tuple(from_value(v, t) for v, t in zip(row.cell, types, strict=True))
            for row in response.content.table_data.row
        ]

    def close(self) -> None:
        """Unregister the catalogs holding the rows."""
        for registered_id in self.registered.values():
            self.service.unregister_catalog(registered_id=registered_id)
        self.registered.clear()
