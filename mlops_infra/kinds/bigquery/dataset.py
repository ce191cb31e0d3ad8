"""The ``bigquery.Dataset`` kind.

Fields a spec may write (REST names of the BigQuery v2 ``Dataset`` resource):

| path                                        | notes                                              |
|---------------------------------------------|----------------------------------------------------|
| ``location``                                | a region or ``US``/``EU`` (any case); immutable (a change replaces the dataset); API default ``US`` |
| ``description``, ``friendlyName``           |                                                    |
| ``labels``                                  | map; ``managed-by``/stack labels are added          |
| ``defaultTableExpirationMs``                | milliseconds (int64: ``3600000`` == ``"3600000"``)  |
| ``defaultPartitionExpirationMs``            | milliseconds                                       |
| ``access[]``                                | ``{role, userByEmail|groupByEmail|domain|specialGroup|iamMember|view|routine|dataset}``; compared only when written (the server fills defaults); order does not matter |
| ``defaultEncryptionConfiguration.kmsKeyName`` | shorthand ``defaultKmsKeyName: projects/..``     |

The dataset id is the resource ``name``: letters, digits and underscores only (checked before
any call, like ``location`` and the ids in ``access`` entries: ``kinds/_names.py``).
Outputs: ``name`` (dataset id), ``id`` (``project:dataset``), ``ref`` (``project.dataset``),
``selfLink``. Identity ``projects/PROJECT/datasets/NAME``, listed per ``projects/PROJECT``
(listed items are partial, so the engine reads the ones it needs). A dataset holding
tables is only deleted with ``force``.

Moving in: ``google_bigquery_dataset`` and live datasets map to these fields, without what
BigQuery applies when it is absent (location ``US``, the default access of a new dataset:
``projectOwners``/``projectWriters``/``projectReaders`` and its creator as OWNER, bigquery v2
discovery ``Dataset.access``). Access entries that ``bigquery.DatasetBindings`` resources of
the same import grant are left to them (writing both would fight). Hidden datasets (ids
starting with ``_``) are left out of live imports.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    ResourceContext,
    ResourceId,
    ServiceAgent,
    Violation,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import (
    CALL,
    FieldChanges,
    SpecModel,
    check_labels,
    int64_at,
    patch_body,
    translate_errors,
)
from mlops_infra.kinds._clients import BIGQUERY
from mlops_infra.kinds._imports import block, blocks, leftovers, put, terraform_labels, user_labels
from mlops_infra.kinds._names import (
    CryptoKeyName,
    DatasetId,
    DatasetLocation,
    ProjectId,
    TableId,
    dataset_id_problem,
)
from mlops_infra.kinds._policy import CMEK_SETTINGS, DATASET_RULES, dataset_violations
from mlops_infra.kinds.bigquery import _access
from mlops_infra.spec.jsoncopy import copy_json

_INT64_PATHS = ("defaultTableExpirationMs", "defaultPartitionExpirationMs")
_ENTITY_KEYS = ("userByEmail", "groupByEmail", "domain", "specialGroup", "iamMember", "view",
                "routine", "dataset")
# The API reports these IAM roles by their basic-role names.
_BASIC_ROLES = {"roles/bigquery.dataViewer": "READER", "roles/bigquery.dataEditor": "WRITER",
                "roles/bigquery.dataOwner": "OWNER"}
_MULTI_REGIONS = frozenset({"us", "eu"})


# --- spec model -----------------------------------------------------------------------

class TableRef(SpecModel):
    projectId: ProjectId
    datasetId: DatasetId
    tableId: TableId


class RoutineRef(SpecModel):
    projectId: ProjectId
    datasetId: DatasetId
    routineId: str


class DatasetRef(SpecModel):
    projectId: ProjectId
    datasetId: DatasetId


class DatasetAccess(SpecModel):
    dataset: DatasetRef
    targetTypes: list[Literal["VIEWS", "ROUTINES"]] | None = None


class AccessEntry(SpecModel):
    role: str | None = None
    userByEmail: str | None = None
    groupByEmail: str | None = None
    domain: str | None = None
    specialGroup: Literal["projectOwners", "projectReaders", "projectWriters",
                          "allAuthenticatedUsers"] | None = None
    iamMember: str | None = None
    view: TableRef | None = None
    routine: RoutineRef | None = None
    dataset: DatasetAccess | None = None

    @model_validator(mode="after")
    def _one_entity(self) -> AccessEntry:
        given = [k for k in _ENTITY_KEYS if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"an access entry needs exactly one of {', '.join(_ENTITY_KEYS)}"
                             f" (got {', '.join(given) or 'none'})")
        return self


class EncryptionConfiguration(SpecModel):
    kmsKeyName: CryptoKeyName


class DatasetSpec(SpecModel):
    """A BigQuery dataset (REST field names, plus the ``defaultKmsKeyName`` shorthand)."""

    location: DatasetLocation | None = None
    description: str | None = None
    friendlyName: str | None = None
    labels: dict[str, str] | None = None
    defaultTableExpirationMs: int | None = Field(default=None, ge=3_600_000)  # discovery: min 1 h
    defaultPartitionExpirationMs: int | None = Field(default=None, ge=0)
    access: list[AccessEntry] | None = None
    defaultEncryptionConfiguration: EncryptionConfiguration | None = None
    defaultKmsKeyName: CryptoKeyName | None = None  # shorthand

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _no_double_spelling(self) -> DatasetSpec:
        if {"defaultKmsKeyName", "defaultEncryptionConfiguration"} <= self.model_fields_set:
            raise ValueError("'defaultKmsKeyName' is a shorthand for "
                             "'defaultEncryptionConfiguration.kmsKeyName': write only one")
        return self


# --- canonical form (applied to desired and live alike) ----------------------------------

def bq_location(value: Any) -> Any:
    """Multi-regions upper-case (``US``, ``EU``), regions lower-case, as the API reports them."""
    if not isinstance(value, str):
        return value
    return value.upper() if value.lower() in _MULTI_REGIONS else value.lower()


_IAM_MEMBER_TYPES = {"user": "userByEmail", "group": "groupByEmail", "domain": "domain",
                     "serviceAccount": "userByEmail"}


def _access_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An access entry as BigQuery reports it: basic roles, an ``iamMember`` that is a user,
    group, domain or service account as that member type, emails lower-cased (magic-modules
    Dataset.yaml ``string_to_lower_case``, DatasetAccess.yaml ``api_updated_member``)."""
    out = dict(entry)
    if isinstance(out.get("role"), str):
        out["role"] = _BASIC_ROLES.get(out["role"], out["role"])
    kind, sep, value = str(out.get("iamMember", "")).partition(":")
    if sep and kind in _IAM_MEMBER_TYPES and "${" not in value:
        del out["iamMember"]
        out[_IAM_MEMBER_TYPES[kind]] = value
    for key in ("userByEmail", "groupByEmail", "domain"):
        if isinstance(out.get(key), str) and "${" not in out[key]:
            out[key] = out[key].lower()
    return out


def canonical(body: dict[str, Any]) -> dict[str, Any]:
    out = copy_json(body)
    if "location" in out:
        out["location"] = bq_location(out["location"])
    if isinstance(out.get("access"), list):
        entries = {json.dumps(_access_entry(e), sort_keys=True) for e in out["access"]}
        out["access"] = [json.loads(e) for e in sorted(entries)]       # a set, as the API has it
    int64_at(out, _INT64_PATHS)
    return out


def _without_granted(item: Imported, bindings: list[Imported]) -> Imported:
    """A dataset whose access ``bigquery.DatasetBindings`` entries also grant leaves ``access``
    to them: ``access`` is the whole list, so writing both would undo each other."""
    access = item.fields.get("access") or []
    granted = _granted(bindings, item.project, item.name) if access else set()
    if not granted:
        return item
    rest = [e for e in access if json.dumps(e, sort_keys=True) not in granted]
    notes = item.notes
    if rest and not default_access(rest):
        notes += ("access entries not granted by its bigquery.DatasetBindings (authorized "
                  "views, other members) are left as they are live",)
    return dataclasses.replace(item, notes=notes,
                               fields={k: v for k, v in item.fields.items() if k != "access"})


def dataset_id(ctx: ResourceContext) -> str:
    """The dataset id (the resource name), refusing names BigQuery would reject."""
    problem = dataset_id_problem(ctx.name)
    if problem:
        raise errors.SpecError(problem, field=f"{ctx.address}.name")
    return ctx.name


def _agent_email(clients: Any, project: str) -> str:
    with translate_errors(f"BigQuery service agent of {project}"):
        return str(clients.get(BIGQUERY, project).get_service_account_email(project=project,
                                                                              **CALL))


BIGQUERY_API = "bigquery.googleapis.com"
# bq-PROJECT_NUMBER@bigquery-encryption.iam.gserviceaccount.com:
# https://cloud.google.com/bigquery/docs/customer-managed-encryption
BIGQUERY_AGENT = ServiceAgent(name="bigquery", email=_agent_email, uses=(BIGQUERY,),
                              email_pattern=r"bq-\d+@bigquery-encryption\.iam\.gserviceaccount\.com")
"""BigQuery's service agent: it must be granted a dataset's CMEK key."""


def _parts(rid: ResourceId) -> tuple[str, str]:
    # ``parts`` keys follow ``Kind.id_from_name``: collection -> value.
    return rid.parts["projects"], rid.parts["datasets"]


def _ref(project: str, dataset: str) -> Any:
    from google.cloud.bigquery import DatasetReference

    return DatasetReference(project, dataset)


# --- moving in -----------------------------------------------------------------------------

_DEFAULT_GROUPS = {("OWNER", "projectOwners"), ("WRITER", "projectWriters"),
                   ("READER", "projectReaders")}
_TF_ENTITIES = {"user_by_email": "userByEmail", "group_by_email": "groupByEmail",
                "domain": "domain", "special_group": "specialGroup", "iam_member": "iamMember"}
_TF_KNOWN = ("dataset_id", "location", "friendly_name", "description", "labels",
             "default_table_expiration_ms", "default_partition_expiration_ms",
             "default_encryption_configuration", "access", "max_time_travel_hours",
             "is_case_insensitive", "storage_billing_model", "default_collation")


def _tf_ref(raw: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {"".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): raw[k]
            for k in keys if raw.get(k)}


def _tf_access(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """One ``access`` block as the REST entry (``None`` for a conditional one: not a field here)."""
    if block(raw, "condition"):
        return None
    entry: dict[str, Any] = {}
    put(entry, "role", raw.get("role"))
    entry.update({key: raw[attr] for attr, key in _TF_ENTITIES.items() if raw.get(attr)})
    if block(raw, "view"):
        entry["view"] = _tf_ref(block(raw, "view"), ("project_id", "dataset_id", "table_id"))
    if block(raw, "routine"):
        entry["routine"] = _tf_ref(block(raw, "routine"), ("project_id", "dataset_id", "routine_id"))
    if block(raw, "dataset"):
        inner = block(raw, "dataset")
        entry["dataset"] = {"dataset": _tf_ref(block(inner, "dataset"), ("project_id", "dataset_id")),
                            "targetTypes": list(inner.get("target_types") or [])}
    return entry


def default_access(entries: list[dict[str, Any]]) -> bool:
    """Whether ``entries`` is what BigQuery gives a dataset created without ``access``."""
    groups = {(e.get("role"), e.get("specialGroup")) for e in entries if "specialGroup" in e}
    others = [e for e in entries if "specialGroup" not in e]
    return groups <= _DEFAULT_GROUPS and len(others) <= 1 and all(
        set(e) == {"role", "userByEmail"} and e["role"] == "OWNER" for e in others)


def _access_field(fields: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    shaped = [_access_entry(e) for e in entries]
    if shaped and not default_access(shaped):
        fields["access"] = shaped


def _tf_fields(a: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    fields: dict[str, Any] = {}
    put(fields, "location", bq_location(a.get("location")), default="US")
    put(fields, "friendlyName", a.get("friendly_name"))
    put(fields, "description", a.get("description"))
    put(fields, "labels", terraform_labels(a))
    put(fields, "defaultTableExpirationMs", a.get("default_table_expiration_ms") or None)
    put(fields, "defaultPartitionExpirationMs", a.get("default_partition_expiration_ms") or None)
    put(fields, "defaultKmsKeyName", block(a, "default_encryption_configuration").get("kms_key_name"))
    raw = blocks(a, "access")
    entries = [e for e in (_tf_access(r) for r in raw) if e]
    _access_field(fields, entries)
    notes = leftovers({k: v for k, v in a.items() if k not in ("max_time_travel_hours",
                                                                 "storage_billing_model")}, _TF_KNOWN)
    if len(entries) < len(raw):
        notes += ("conditional access entries are not carried over (write them as "
                  "bigquery.DatasetBindings with a condition)",)
    return fields, notes


def _live_fields(live: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    put(fields, "location", bq_location(live.get("location")), default="US")
    for key in ("friendlyName", "description"):
        put(fields, key, live.get(key))
    put(fields, "labels", user_labels(live.get("labels")))
    for key in ("defaultTableExpirationMs", "defaultPartitionExpirationMs"):
        put(fields, key, int(live[key]) if live.get(key) not in (None, "", "0") else None)
    put(fields, "defaultKmsKeyName", (live.get("defaultEncryptionConfiguration") or {})
        .get("kmsKeyName"))
    _access_field(fields, [e for e in live.get("access") or [] if "condition" not in e])
    return fields


def _granted(bindings: list[Imported], project: str | None, dataset: str) -> set[tuple[str, str]]:
    """(basic-or-IAM role, entity JSON) pairs ``bigquery.DatasetBindings`` entries grant."""
    from mlops_infra.kinds.bigquery.bindings import entry_of

    found = set()
    for item in bindings:
        if item.fields.get("dataset") != dataset or (item.project and project
                                                     and item.project != project):
            continue
        for b in item.fields.get("bindings", []):
            found |= {json.dumps(_access_entry(entry_of(b["role"], m)), sort_keys=True)
                      for m in b["members"] if not b.get("condition")}
    return found  # type: ignore[return-value]


# --- the kind -----------------------------------------------------------------------------

@register
class Dataset(Kind):
    """A BigQuery dataset."""

    name = "bigquery.Dataset"
    name_pattern = "projects/*/datasets/*"
    layer = "Data"
    model = DatasetSpec
    api = BIGQUERY_API
    uses = (BIGQUERY,)
    outputs = frozenset({"name", "id", "ref", "selfLink"})
    immutable = frozenset({"location"})
    set_paths = frozenset({"access"})      # bigquery v2 discovery: access entries are a set
    list_keys = {"access": ""}
    data_bearing = True
    loss = "it holds tables"
    complete_listing = False
    service_agent = BIGQUERY_AGENT
    cmek_fields = ("defaultKmsKeyName", "defaultEncryptionConfiguration.kmsKeyName")
    guardrails = DATASET_RULES
    policy_settings = CMEK_SETTINGS
    terraform_types = ("google_bigquery_dataset",)
    terraform_refs = {"defaultKmsKeyName": "id"}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return dataset_id_problem(ctx.name)

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        ds = dataset_id(ctx)
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/datasets/{ds}",
                          scope=f"projects/{ctx.project}",
                          parts={"projects": ctx.project, "datasets": ds})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: copy_json(v) for k, v in fields.items() if k != "defaultKmsKeyName"}
        if "defaultKmsKeyName" in fields:
            body["defaultEncryptionConfiguration"] = {"kmsKeyName": fields["defaultKmsKeyName"]}
        ref = {"projectId": ctx.project, "datasetId": dataset_id(ctx)}
        return canonical({"datasetReference": ref, **body})

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return canonical(live)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        project, ds = _parts(rid)
        out: dict[str, Any] = {"name": ds, "id": f"{project}:{ds}", "ref": f"{project}.{ds}"}
        if live and live.get("selfLink"):
            out["selfLink"] = live["selfLink"]
        return out

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return dataset_violations(desired, policy)

    # --- moving in ---
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        fields, notes = _tf_fields(attributes)
        return [Imported(name=str(attributes["dataset_id"]), project=attributes.get("project"),
                         fields=fields, notes=notes)]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        ref = live.get("datasetReference") or {}
        return [Imported(name=str(ref.get("datasetId") or name.rsplit("/", 1)[-1]),
                         project=ref.get("projectId"), fields=_live_fields(live))]

    def adjust_imports(self, own: ImportedList, every: Mapping[str, ImportedList]) -> ImportedList:
        """Access entries a ``bigquery.DatasetBindings`` of the same import grants are its."""
        bindings = every.get("bigquery.DatasetBindings", [])
        return [_without_granted(item, bindings) for item in own]

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        dataset = name.rsplit("/", 1)[-1]
        return "a hidden dataset (BigQuery's own)" if dataset.startswith("_") else None

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project = scope.split("/")[1]
        with translate_errors(f"datasets in {scope}"):
            client = self.clients.get(BIGQUERY, project)
            items = client.list_datasets(project=project, include_all=True, **CALL)
            return {f"projects/{project}/datasets/{d.dataset_id}": dict(d._properties)
                    for d in items}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        project, ds = _parts(rid)
        from google.api_core.exceptions import NotFound

        with translate_errors(f"dataset {project}:{ds}"):
            try:   # accessPolicyVersion=3: conditional access entries read as they are
                return _access.get_dataset_once(self.clients, project, ds)
            except NotFound:
                return None

    def holds_data(self, rid: ResourceId) -> bool:
        project, ds = _parts(rid)
        from google.api_core.exceptions import NotFound

        with translate_errors(f"dataset {project}:{ds}"):
            try:
                tables = self.clients.get(BIGQUERY, project).list_tables(
                    _ref(project, ds), max_results=1, **CALL)
                return next(iter(tables), None) is not None
            except NotFound:
                return False

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        project, ds = _parts(rid)
        from google.api_core.exceptions import Conflict
        from google.cloud.bigquery import Dataset as BqDataset

        with translate_errors(f"dataset {project}:{ds}"):
            dataset = BqDataset.from_api_repr(copy_json(desired))
            try:
                return self.clients.get(BIGQUERY, project).create_dataset(
                    dataset, **CALL).to_api_repr()
            except Conflict as exc:
                raise errors.Conflict(f"409 Conflict: dataset {project}:{ds} already exists",
                                      status=409) from exc

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        project, ds = _parts(rid)
        from google.cloud.bigquery import Dataset as BqDataset

        body = canonical(patch_body(desired, changes))
        if "defaultTableExpirationMs" in body and body["defaultTableExpirationMs"] is None:
            # bigquery v2 discovery: "To clear an existing default expiration with a PATCH
            # request, set to 0" (a null is not documented to clear it).
            body["defaultTableExpirationMs"] = "0"
        access = body.pop("access", None)
        client = self.clients.get(BIGQUERY, project)
        with translate_errors(f"dataset {project}:{ds}"):
            if access is not None:   # at accessPolicyVersion=3, so conditional entries may be kept
                _access.patch_access(client, project, ds, access=access, etag=None)
            if not body:
                return _access.get_dataset(client, project, ds)
            # A fresh object: no etag, so a retried patch after a lost response cannot 412.
            dataset = BqDataset(_ref(project, ds))
            dataset._properties.update(body)
            return client.update_dataset(dataset, list(body), **CALL).to_api_repr()

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        project, ds = _parts(rid)
        if not force and self.holds_data(rid):
            raise errors.PermanentError(f"dataset {project}:{ds} holds tables: deleting it "
                                        "needs allowDataLoss")
        with translate_errors(f"dataset {project}:{ds}"):
            self.clients.get(BIGQUERY, project).delete_dataset(
                _ref(project, ds), delete_contents=force, not_found_ok=True, **CALL)
