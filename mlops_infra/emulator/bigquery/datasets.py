"""Dataset resources: validation, server-set defaults, merge-patch, list items."""

from __future__ import annotations

import copy
import re
from typing import Any

from mlops_infra.emulator.bigquery.common import string_ms
from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import merge_patch

WRITABLE = frozenset({
    "access", "defaultCollation", "defaultEncryptionConfiguration",
    "defaultPartitionExpirationMs", "defaultRoundingMode", "defaultTableExpirationMs",
    "description", "externalDatasetReference", "friendlyName", "isCaseInsensitive", "labels",
    "location", "maxTimeTravelHours", "resourceTags", "restrictions", "storageBillingModel",
})
DEFAULT_ACCESS = (
    {"role": "WRITER", "specialGroup": "projectWriters"},
    {"role": "OWNER", "specialGroup": "projectOwners"},
    {"role": "READER", "specialGroup": "projectReaders"},
)
_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_LIST_ITEM_KEYS = ("kind", "id", "datasetReference", "labels", "friendlyName", "location", "type")


def validate_reference(body: dict[str, Any], *, project: str) -> str:
    """The dataset id from ``datasetReference``, checked against the URL's project."""
    reference = body.get("datasetReference") or {}
    dataset_id = reference.get("datasetId")
    if not dataset_id:
        raise HttpError(400, "Required parameter is missing: datasetReference.datasetId",
                        reason="required")
    if not _ID.match(dataset_id):
        raise HttpError(400, f"Invalid dataset ID \"{dataset_id}\". Dataset IDs must be "
                             "alphanumeric (plus underscores) and must be at most 1024 "
                             "characters long.", reason="invalid")
    if reference.get("projectId", project) != project:
        raise HttpError(400, "The project in datasetReference does not match the URL",
                        reason="invalid")
    return dataset_id


def new_dataset(body: dict[str, Any], *, project: str, dataset_id: str,
                base_url: str) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    dataset = _normalise(user)
    dataset.update({
        "kind": "bigquery#dataset", "id": f"{project}:{dataset_id}",
        "datasetReference": {"datasetId": dataset_id, "projectId": project},
        "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{project}/datasets/{dataset_id}",
        "type": "DEFAULT",
    })
    return dataset


def patch_dataset(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    patch = {k: v for k, v in body.items() if k in WRITABLE}
    return _replace_user_part(current, merge_patch(_user_part(current), patch))


def update_dataset(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    user.setdefault("location", current["location"])
    return _replace_user_part(current, user)


def list_item(dataset: dict[str, Any]) -> dict[str, Any]:
    """The partial representation ``datasets.list`` returns."""
    return {k: copy.deepcopy(dataset[k]) for k in _LIST_ITEM_KEYS if k in dataset}


def _user_part(dataset: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in dataset.items() if k in WRITABLE}


def _replace_user_part(current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    if str(user.get("location", current["location"])).lower() != current["location"].lower():
        raise HttpError(400, "Cannot change the location of dataset "
                             f"{current['id']}", reason="invalid")
    server = {k: v for k, v in current.items() if k not in WRITABLE}
    dataset = _normalise(user)
    dataset.update(server)
    return dataset


def _normalise(user: dict[str, Any]) -> dict[str, Any]:
    dataset = dict(user)
    dataset["location"] = dataset.get("location") or "US"
    dataset["access"] = dataset.get("access") or copy.deepcopy(list(DEFAULT_ACCESS))
    dataset["maxTimeTravelHours"] = string_ms(dataset.get("maxTimeTravelHours", 168),
                                              field="maxTimeTravelHours")
    for key in ("defaultTableExpirationMs", "defaultPartitionExpirationMs"):
        if key in dataset:
            dataset[key] = string_ms(dataset[key], field=key)
    _check_labels(dataset.get("labels"))
    if not dataset.get("labels"):
        dataset.pop("labels", None)
    return dataset


def _check_labels(labels: Any) -> None:
    if labels is not None and not (isinstance(labels, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
        raise HttpError(400, "Invalid labels: they must map strings to strings",
                        reason="invalid")
