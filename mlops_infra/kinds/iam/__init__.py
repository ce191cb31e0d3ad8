"""IAM kinds: ``iam.ServiceAccount`` and ``iam.Role`` (project custom roles, through the
IAM admin API ``iam_admin_v1`` over gRPC), IAM bindings and audit config; importing this
package registers them."""

from mlops_infra.kinds.iam import (  # noqa: F401  (registers the kinds)
    audit,
    bindings,
    role,
    service_account,
)
