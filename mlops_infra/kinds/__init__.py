"""Resource kinds, one module per GCP service; importing this package registers them all.

Each kind module's docstring holds the table of REST paths a spec may write for it.
"""

from mlops_infra.kinds import bigquery, storage  # noqa: F401  (registers the kinds)
