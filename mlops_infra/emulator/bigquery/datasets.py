"""Dataset resources: validation, server-set defaults, merge-patch, list items.

Sources (bigquery v2 discovery unless named):
* ``location`` defaults to ``US`` (magic-modules Dataset.yaml ``default_value: "US"``);
  ``maxTimeTravelHours`` to 168 (discovery: "from 48 to 168 hours"; Dataset.yaml
  ``default_from_api``); ``id``, ``etag``, ``creationTime``, ``lastModifiedTime``,
  ``selfLink``, ``type`` are output only; int64 fields are answered as strings.
* ``access`` left out at creation gets projectReaders/Writers/Owners and the creator
  (``userByEmail``, OWNER); predefined roles come back in their legacy form (OWNER/WRITER/
  READER); ``userByEmail``/``groupByEmail`` come back lower-cased and an ``iamMember`` that
  is a user, group, domain or service account comes back as that member type
  (magic-modules Dataset.yaml ``string_to_lower_case``, DatasetAccess.yaml
  ``api_updated_member``); the entries are a set (Dataset.yaml ``is_set``).
* ``accessPolicyVersion`` (datasets.get/insert/patch/update): an access entry with a
  ``condition`` needs version 3 to be written; a dataset holding one rejects writes without
  it, and a read without it shows each such entry's role as
  ``ROLE_with_conditionalbinding_HASH`` with the condition left out.
* ``defaultTableExpirationMs``: at least 3600000; "To clear an existing default expiration
  with a PATCH request, set to 0". A PATCH with ``null`` for it is taken as "not given" (no
  change): only 0 is documented to clear it.
"""

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
LEGACY_ROLES = {"roles/bigquery.dataOwner": "OWNER", "roles/bigquery.dataEditor": "WRITER",
                "roles/bigquery.dataViewer": "READER"}
_IAM_MEMBER_TYPES = {"user": "userByEmail", "group": "groupByEmail", "domain": "domain",
                     "serviceAccount": "userByEmail"}
_MIN_TABLE_EXPIRATION = 3_600_000
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
                base_url: str, creator: str) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    if not user.get("access"):
        user["access"] = [*copy.deepcopy(list(DEFAULT_ACCESS)),
                          {"role": "OWNER", "userByEmail": creator}]
    if user.get("defaultTableExpirationMs") in (0, "0"):
        del user["defaultTableExpirationMs"]
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
    if "defaultTableExpirationMs" in patch and patch["defaultTableExpirationMs"] is None:
        del patch["defaultTableExpirationMs"]        # null: not given (only 0 clears it)
    user = merge_patch(_user_part(current), patch)
    if user.get("defaultTableExpirationMs") in (0, "0"):
        del user["defaultTableExpirationMs"]
    return _replace_user_part(current, user)


def update_dataset(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    if user.get("defaultTableExpirationMs") in (0, "0"):
        del user["defaultTableExpirationMs"]
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
    dataset["access"] = normalize_access(dataset.get("access") or copy.deepcopy(list(DEFAULT_ACCESS)))
    dataset["maxTimeTravelHours"] = string_ms(dataset.get("maxTimeTravelHours", 168),
                                              field="maxTimeTravelHours")
    for key in ("defaultTableExpirationMs", "defaultPartitionExpirationMs"):
        if key in dataset:
            dataset[key] = string_ms(dataset[key], field=key)
    if int(dataset.get("defaultTableExpirationMs", _MIN_TABLE_EXPIRATION)) < _MIN_TABLE_EXPIRATION:
        raise HttpError(400, "The default table expiration must be at least 3600000 "
                             "milliseconds (one hour); 0 clears it.", reason="invalid")
    _check_labels(dataset.get("labels"))
    if not dataset.get("labels"):
        dataset.pop("labels", None)
    return dataset


def _check_labels(labels: Any) -> None:
    if labels is not None and not (isinstance(labels, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
        raise HttpError(400, "Invalid labels: they must map strings to strings",
                        reason="invalid")


# --- access entries -------------------------------------------------------------------------

def normalize_access(entries: Any) -> list[dict[str, Any]]:
    """Access entries as BigQuery stores them: legacy roles, member types resolved, emails
    lower-cased, duplicates dropped (the entries are a set)."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise HttpError(400, "Invalid value for access: expected a list of entries",
                        reason="invalid")
    out: list[dict[str, Any]] = []
    for entry in entries:
        normalized = _entry(entry)
        if normalized not in out:
            out.append(normalized)
    return out


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(entry)
    if isinstance(out.get("role"), str):
        out["role"] = LEGACY_ROLES.get(out["role"], out["role"])
    member = out.get("iamMember")
    kind, sep, value = member.partition(":") if isinstance(member, str) else ("", "", "")
    if sep and kind in _IAM_MEMBER_TYPES:
        del out["iamMember"]
        out[_IAM_MEMBER_TYPES[kind]] = value
    for key in ("userByEmail", "groupByEmail", "domain"):
        if isinstance(out.get(key), str):
            out[key] = out[key].lower()
    return out


def has_conditions(access: list[dict[str, Any]] | None) -> bool:
    return any("condition" in entry for entry in access or [])


def check_access_version(version: int, *, wanted: list[dict[str, Any]] | None,
                         current: list[dict[str, Any]] | None) -> None:
    """A write touching conditional entries needs ``accessPolicyVersion=3``."""
    if version not in (0, 1, 3):
        raise HttpError(400, f"Invalid accessPolicyVersion {version}: valid values are 0, 1 "
                             "and 3", reason="invalid")
    if version < 3 and (has_conditions(wanted) or has_conditions(current)):
        raise HttpError(400, "The dataset's access policy has conditional bindings: requests "
                             "must specify accessPolicyVersion=3.", reason="invalid")


def render_access(dataset: dict[str, Any], version: int) -> dict[str, Any]:
    """``dataset`` as a reader asking for ``accessPolicyVersion`` ``version`` sees it."""
    if version >= 3 or not has_conditions(dataset.get("access")):
        return dataset
    out = dict(dataset)
    out["access"] = [_hidden_condition(entry) for entry in dataset["access"]]
    return out


def _hidden_condition(entry: dict[str, Any]) -> dict[str, Any]:
    if "condition" not in entry:
        return entry
    import hashlib
    import json

    digest = hashlib.sha1(json.dumps(entry["condition"], sort_keys=True).encode()).hexdigest()
    role = {v: k for k, v in LEGACY_ROLES.items()}.get(entry.get("role", ""), entry.get("role"))
    out = {k: v for k, v in entry.items() if k != "condition"}
    out["role"] = f"{role}_with_conditionalbinding_{digest[:10]}"
    return out
