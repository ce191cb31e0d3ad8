"""Resource kinds, one module per GCP service; importing this package registers them all.

Each kind module's docstring holds the table of REST paths a spec may write for it.
"""

from mlops_infra.kinds import bigquery, storage  # noqa: F401  (registers the kinds)
from mlops_infra.kinds import kms, serviceusage  # noqa: F401  (registers KMS and API enablement)
from mlops_infra.kinds import iam  # noqa: F401  (registers the IAM kinds)
from mlops_infra.kinds import storage_bindings  # noqa: F401  (registers storage.BucketBindings)
from mlops_infra.kinds import compute  # noqa: F401  (registers the VPC networking kinds)
