"""Google BigQuery through google-cloud-bigquery: ``bigquery://project/dataset``.

Credentials come from the environment (Application Default Credentials). The dataset is the
default dataset of every query, so SQL may say ``users`` or ``dataset.users``. Query parameter
``location`` sets the job location.
"""

from __future__ import annotations

from typing import Any

from metricspec.run import cost
from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL, import_driver
from metricspec.run.cost import ScanCost
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
        dry_run_config: Any = None,
    ) -> None:
        super().__init__(url)
        self.native = client
        self.job_config = job_config
        self.dry_run_config = dry_run_config
        self.query_errors = errors
        self._job: dict[str, Any] | None = None

    def _execute(self, sql: str) -> QueryResult:
        location = self.url.query.get("location")
        job = self.native.query(sql, job_config=self.job_config, location=location)
        rows = job.result()
        self._job = job.to_api_repr()
        columns = tuple(f.name for f in rows.schema)
        return QueryResult(columns=columns, rows=[tuple(r.values()) for r in rows])

    def _measure(self, sql: str) -> ScanCost | None:
        """The job's own statistics: bytes processed and billed."""
        job, self._job = self._job, None
        return cost.bigquery_job(job) if job else None

    def estimate(self, sql: str) -> ScanCost | None:
        """A dry run: BigQuery says exactly how many bytes the query would process."""
        self.check_one_statement(sql)
        if self.dry_run_config is None:
            return None
        try:
            job = self.native.query(sql, job_config=self.dry_run_config,
                                    location=self.url.query.get("location"))
        except self.query_errors as exc:
            raise self.error(f"bigquery dry run failed: {self.describe(exc)}", exc) from exc
        return cost.bigquery_job(job.to_api_repr())

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
    dataset = f"{url.host}.{url.path[0]}"
    job_config = bigquery.QueryJobConfig(default_dataset=dataset)
    dry_run = bigquery.QueryJobConfig(default_dataset=dataset, dry_run=True,
                                      use_query_cache=False)
    return BigQueryConnection(url, client, job_config, errors, dry_run)
