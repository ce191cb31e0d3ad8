"""BigQuery API v2 (datasets and tables), as google-cloud-bigquery 3.x calls it."""

from mlops_infra.emulator.bigquery.service import BigQueryService

SERVICE = BigQueryService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "BigQueryService"]
