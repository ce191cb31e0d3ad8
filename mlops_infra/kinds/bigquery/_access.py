"""Reading and patching a dataset's access with ``accessPolicyVersion=3``.

bigquery v2 discovery (datasets.get/patch): "Requests for conditional access policy binding in
datasets must specify version 3"; without it a conditional entry reads as
``ROLE_with_conditionalbinding_HASH`` (its condition hidden) and a patch of a dataset holding
one is rejected. google-cloud-bigquery's ``get_dataset``/``update_dataset`` cannot send the
parameter, so this module calls the client's private ``_call_api`` - the one place it is
used, exercised against the emulator by tests/kinds (a library change breaks them first).
"""

from __future__ import annotations

from typing import Any

from mlops_infra.kinds._base import API_TIMEOUT

ACCESS_POLICY_VERSION = {"accessPolicyVersion": 3}


def get_dataset(client: Any, project: str, dataset: str) -> dict[str, Any]:
    """The dataset's REST resource, conditional access entries shown as they are."""
    return dict(client._call_api(None, method="GET", path=_path(project, dataset),
                                 query_params=ACCESS_POLICY_VERSION, timeout=API_TIMEOUT))


def get_dataset_once(clients: Any, project: str, dataset: str) -> dict[str, Any]:
    """``get_dataset``, shared during a plan by the kinds reading it (dataset, its bindings)."""
    from mlops_infra.kinds._clients import BIGQUERY

    return clients.read_once(  # type: ignore[no-any-return]
        ("bigquery.dataset", project, dataset),
        lambda: get_dataset(clients.get(BIGQUERY, project), project, dataset))


def patch_access(client: Any, project: str, dataset: str, *, access: list[dict[str, Any]],
                 etag: str | None) -> dict[str, Any]:
    """PATCH ``access`` (whole list) with ``If-Match: etag`` (a concurrent change is a 412)."""
    headers = {"If-Match": etag} if etag else None
    return dict(client._call_api(None, method="PATCH", path=_path(project, dataset),
                                 data={"access": access}, headers=headers,
                                 query_params=ACCESS_POLICY_VERSION, timeout=API_TIMEOUT))


def _path(project: str, dataset: str) -> str:
    return f"/projects/{project}/datasets/{dataset}"
