"""BigQuery kinds: ``bigquery.Dataset`` (``dataset.py``) and ``bigquery.Table`` (``table.py``)."""

from mlops_infra.kinds.bigquery import bindings, dataset, table  # noqa: F401  (registers the kinds)
