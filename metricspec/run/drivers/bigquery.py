"""Google BigQuery through google-cloud-bigquery: ``bigquery://project/dataset``.

Credentials come from the environment (Application Default Credentials). The dataset is the
default dataset of every query, so SQL may say ``users`` or ``dataset.users``. Query parameter
``location`` sets the job location.
"""

from __future__ import annotations

from typing import Any

from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL, import_driver
from metricspec.run.drivers.base import DriverConnection, warehouse_error

_HINT = "use bigquery://PROJECT/DATASET, e.g. bigquery://my-project/analytics"


class BigQueryConnection(DriverConnection):
    """A BigQuery client bound to one project and default dataset."""

    dialect = "bigquery"

    def __init__(
        self,
        url: WarehouseURL,
        client: Any,
        job_config: Any,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        super().__init__(url)
        self.native = client
        self.job_config = job_config
        self.query_errors = errors

    def _execute(self, sql: str) -> QueryResult:
        location = self.url.query.get("location")
        rows = self.native.query(sql, job_config=self.job_config, location=location).result()
        columns = tuple(f.name for f in rows.schema)
        return QueryResult(columns=columns, rows=[tuple(r.values()) for r in rows])

    def _close(self) -> None:
        self.native.close()


def open_connection(url: WarehouseURL, *, create: bool = False) -> BigQueryConnection:
    """Create a BigQuery client for the project and dataset named by ``url``.

    ``create`` is ignored: connecting never creates a server's database.

    Raises:
        WarehouseError: If the URL lacks project or dataset, the driver is missing, or
            no credentials are found.
    """
    if not url.host or len(url.path) != 1:
        raise WarehouseError(
            "BigQuery URL needs a project and a dataset", url=url.redacted, hint=_HINT
        )
    bigquery = import_driver("google.cloud.bigquery", extra="bigquery", what="BigQuery")
    exceptions = import_driver("google.api_core.exceptions", extra="bigquery", what="BigQuery")
    auth = import_driver("google.auth.exceptions", extra="bigquery", what="BigQuery")
    errors = (exceptions.GoogleAPIError, auth.GoogleAuthError)
    try:
        client = bigquery.Client(project=url.host)
    except errors as exc:
        raise warehouse_error(url, f"could not connect to BigQuery: {exc}", exc) from exc
    job_config = bigquery.QueryJobConfig(default_dataset=f"{url.host}.{url.path[0]}")
    return BigQueryConnection(url, client, job_config, errors)
