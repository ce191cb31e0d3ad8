"""What the Vertex AI kinds share: one client per region, names with the project id (the API
answers with the project number), proto <-> REST dicts, update masks, and waiting on
long-running operations with a deadline.

Moving in from a live project (``import live``): Vertex AI is served per region
(https://cloud.google.com/vertex-ai/docs/general/locations), so each kind lists
``projects/P/locations/R`` for every ``--region`` shaped like one (BigQuery's and KMS's
multi-regions such as ``us`` hold none of these resources); ``from_live`` writes the fields
``desired`` sends, back from the API's answer, leaving out what is at Google's default.
Labels starting with ``goog-`` are Google's (Terraform's attribution label, the
``goog-caip-*`` system labels: terraform-provider-google 5.0 upgrade guide) and are left out.

Measured (google-cloud-aiplatform 2.7.0, REST): operations are polled at ``GET /ui/{name}``
(every aiplatform_v1 REST client's operations client lists ``/ui/...`` first); a done
operation is only asked for its error, then the resource is read (``kinds/_lro.py`` says why).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    Layer,
    Names,
    ResourceContext,
    ResourceId,
    ServiceAgent,
    Violation,
)
from mlops_infra.kinds import _lro
from mlops_infra.kinds._agents import VERTEX_AI_AGENT, project_number
from mlops_infra.kinds._base import CALL, SpecModel, check_labels, translate_errors
from mlops_infra.kinds._clients import AIPLATFORM, RESOURCE_MANAGER, aiplatform
from mlops_infra.kinds._imports import (
    block,
    last_segment,
    leftovers,
    terraform_labels,
    user_labels,
)
from mlops_infra.kinds._names import CryptoKeyName, region_problem
from mlops_infra.kinds._policy import CMEK_SETTINGS, REQUIRE_CMEK, cmek_violations

API = "aiplatform.googleapis.com"
OPERATION_DEADLINE = 1800.0   # Terraform gives Vertex AI operations 20 min (metadata stores 40)
_NUMBERED = re.compile(r"(?<![\w-])projects/(\d+)/")


# --- clients and names ---------------------------------------------------------------------------

def client(clients: Any, service: str, region: str) -> Any:
    """The ``aiplatform_v1`` client ``service`` of ``region`` (its own regional endpoint)."""
    return clients.get(aiplatform(service, region))


def region_of(ctx: ResourceContext, fields: dict[str, Any]) -> str:
    region = str(fields.get("region") or ctx.region or "")
    problem = region_problem(region) if region else "a Vertex AI resource needs a region " \
        "(the resource's region or the spec's)"
    if problem:
        raise errors.SpecError(problem, field=f"{ctx.address}.region")
    return region


def with_project_id(value: Any, project: str, number: str) -> Any:
    """``value`` with ``projects/NUMBER/`` written ``projects/ID/`` (what the spec and the
    ledger use), so a number and an id never make a diff."""
    if isinstance(value, str):
        return _NUMBERED.sub(lambda m: f"projects/{project}/" if m.group(1) == number else m.group(0),
                             value)
    if isinstance(value, dict):
        return {k: with_project_id(v, project, number) for k, v in value.items()}
    if isinstance(value, list):
        return [with_project_id(v, project, number) for v in value]
    return value


def live_of(message: Any, project: str) -> dict[str, Any]:
    """A proto-plus message as its REST dict, names with the project id."""
    from google.protobuf import json_format

    data = json_format.MessageToDict(type(message).pb(message))
    match = _NUMBERED.match(str(data.get("name", "")))
    return with_project_id(data, project, match.group(1)) if match else data


def to_message(cls: Any, body: dict[str, Any]) -> Any:
    return cls.from_json(json.dumps(body))


def snake(path: str) -> str:
    """Field-mask paths are proto names (``auto_scaling``); the client sends them camelCase."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def merged_labels(desired: dict[str, Any], changes: Iterable[FieldChange],
                  live: dict[str, Any]) -> dict[str, str]:
    """Live labels with ours set and the ones removed from the spec dropped (others' kept)."""
    removed = {paths.split(c.path)[1] for c in changes
               if c.op == "remove" and c.path.startswith("labels") and len(paths.split(c.path)) > 1}
    labels = {**(live.get("labels") or {}), **(desired.get("labels") or {})}
    return {k: v for k, v in labels.items() if k not in removed}


def labels_field(value: dict[str, str] | None) -> dict[str, str] | None:
    return check_labels(value)


# --- operations ------------------------------------------------------------------------------------

def wait(api_client: Any, operation: Any, *, what: str) -> None:
    """Wait until ``operation`` (an ``api_core.operation.Operation``) is done (``kinds/_lro.py``)."""
    _lro.wait(api_client.transport.operations_client, operation.operation, what=what,
              deadline=OPERATION_DEADLINE)


def resource_of(operation: Any) -> str:
    """The resource an operation acts on: its name without ``/operations/ID``."""
    return str(operation.operation.name).split("/operations/")[0]


# --- the shared kind --------------------------------------------------------------------------------

class VertexKind(Kind):
    """What every Vertex AI kind shares: the API, the regional client, CMEK through the Vertex
    AI service agent, names and listing under ``projects/P/locations/R``."""

    api: ClassVar[str | None] = API
    layer: ClassVar[Layer] = "ML Platform"
    uses = (AIPLATFORM, RESOURCE_MANAGER)
    service_agent: ClassVar[ServiceAgent | None] = VERTEX_AI_AGENT
    cmek_fields: ClassVar[tuple[str, ...]] = ("kmsKeyName", "encryptionSpec.kmsKeyName")
    guardrails: ClassVar[Mapping[str, str]] = REQUIRE_CMEK
    policy_settings: ClassVar[Mapping[str, Any]] = CMEK_SETTINGS
    client_class: ClassVar[str]       # e.g. "EndpointServiceClient"
    collection: ClassVar[str]         # e.g. "endpoints"
    noun: ClassVar[str]               # e.g. "endpoint": create_endpoint, get_endpoint ...
    message: ClassVar[str]            # e.g. "Endpoint": the aiplatform_v1 type

    region_field: ClassVar[str | None] = "region"
    terraform_known: ClassVar[tuple[str, ...]] = ()   # attributes ``terraform_fields`` reads

    # --- moving in ---
    live_known: ClassVar[frozenset[str]] = frozenset()   # live fields ``live_fields`` reads

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """The kind's own spec fields from a live resource (as ``list`` answers it)."""
        return {}

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for region in live_regions(regions):
            found.update(self.list(f"projects/{project}/locations/{region}"))
        return found

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        rid = self.id_from_name(name)
        region = rid.parts["locations"]
        notes: list[str] = []
        fields = self.live_fields(live, notes)
        key = (live.get("encryptionSpec") or {}).get("kmsKeyName")
        if key and self.cmek_fields:
            fields["kmsKeyName"] = key
        if "region" in self.model.model_fields:       # a feature view's is its store's
            fields["region"] = region
        known = self.live_known | _LIVE_KNOWN
        extra = sorted(k for k, v in live.items() if k not in known and v not in (None, "", [], {}))
        if extra:
            notes.append(f"not carried over (left as it is live): {', '.join(extra)}")
        entry, api_name = last_segment(name), ""
        if self.naming == "server":      # its display name names the entry; its id is no name
            entry = _address_of(str(live.get("displayName") or "")) or entry
            api_name = "" if fields.get(f"{self.noun}Id") else name
        return [Imported(name=entry, project=rid.parts["projects"], region=region, fields=fields,
                         notes=tuple(notes), api_name=api_name)]

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's own spec fields from a Terraform instance's attributes."""
        return {}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        a = attributes
        region = str(a.get("region") or a.get("location") or "") or None
        fields = self.terraform_fields(a)
        if region:
            fields["region"] = region
        key = block(a, "encryption_spec").get("kms_key_name")
        if key and self.cmek_fields:
            fields["kmsKeyName"] = key
        known = (*self.terraform_known, "name", "region", "location", "encryption_spec",
                 "create_time", "update_time", "state")
        name = last_segment(str(a.get("name") or a.get("id") or ""))
        api_name = ""
        if self.naming == "server":
            api_name = f"projects/{a.get('project')}/locations/{region}/{self.collection}/{name}"
            name = ""
        return [Imported(name=name, project=a.get("project"), region=region, fields=fields,
                         notes=leftovers(a, known), api_name=api_name)]

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        if not self.cmek_fields:
            return []
        return cmek_violations(desired, policy, at=("encryptionSpec.kmsKeyName",),
                               field="kmsKeyName", what=self.noun.replace("_", " "))

    def api_client(self, rid: ResourceId) -> Any:
        return client(self.clients, self.client_class, rid.parts["locations"])

    def describe(self, rid: ResourceId) -> str:
        return f"{self.noun.replace('_', ' ')} {rid.name or rid.address}"

    def parent_of(self, rid: ResourceId) -> str:
        return rid.scope

    def number(self, project: str) -> str:
        return project_number(self.clients, project)

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        project, region = scope.split("/")[1], scope.split("/")[3]
        with translate_errors(f"{self.collection} in {scope}"):
            api = client(self.clients, self.client_class, region)
            pages = getattr(api, f"list_{self.noun}s")(request={"parent": scope}, **CALL)
            items = [live_of(item, project) for item in pages]
        return {item["name"]: item for item in items}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        from google.api_core.exceptions import NotFound

        with translate_errors(self.describe(rid)):
            try:
                found = getattr(self.api_client(rid), f"get_{self.noun}")(
                    request={"name": rid.name}, **CALL)
            except NotFound:
                return None
        return live_of(found, rid.parts["projects"])

    def read_after(self, rid: ResourceId, name: str) -> dict[str, Any]:
        """The resource named ``name`` (project number or id) once its operation is done."""
        parts = name.split("/")
        parts[1] = rid.parts["projects"]
        live = self.get(self.id_from_name("/".join(parts)))
        if live is None:
            raise errors.TransientError(f"{self.describe(rid)}: not readable after its operation")
        return live

    # --- writes ---
    def create_request(self, rid: ResourceId, body: dict[str, Any],
                       desired: dict[str, Any]) -> dict[str, Any]:
        """The create request: the parent and the resource (kinds add their id parameter)."""
        from google.cloud import aiplatform_v1

        return {"parent": self.parent_of(rid),
                self.noun: to_message(getattr(aiplatform_v1, self.message), body)}

    def body_of(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        """What is sent for ``desired`` (local fields left out)."""
        return {k: v for k, v in desired.items() if k not in self.local_fields}

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        api = self.api_client(rid)
        with translate_errors(self.describe(rid)):
            operation = getattr(api, f"create_{self.noun}")(
                request=self.create_request(rid, self.body_of(rid, desired), desired), **CALL)
        wait(api, operation, what=f"creating {self.describe(rid)}")
        return self.read_after(rid, resource_of(operation))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        from google.api_core.exceptions import NotFound

        api = self.api_client(rid)
        with translate_errors(self.describe(rid)):
            try:
                operation = getattr(api, f"delete_{self.noun}")(
                    request=self.delete_request(rid, force=force), **CALL)
            except NotFound:
                return
        wait(api, operation, what=f"deleting {self.describe(rid)}")

    def delete_request(self, rid: ResourceId, *, force: bool) -> dict[str, Any]:
        return {"name": rid.name}

    def update_with_mask(self, rid: ResourceId, body: dict[str, Any], mask: Names, *,
                         long_running: bool) -> dict[str, Any]:
        """PATCH ``body`` (named ``rid``) with ``mask``; wait when it answers an operation."""
        from google.cloud import aiplatform_v1

        api = self.api_client(rid)
        message = to_message(getattr(aiplatform_v1, self.message), {**body, "name": rid.name})
        with translate_errors(self.describe(rid)):
            answer = getattr(api, f"update_{self.noun}")(request={
                self.noun: message, "update_mask": {"paths": [snake(p) for p in mask]}}, **CALL)
        if long_running:
            wait(api, answer, what=f"updating {self.describe(rid)}")
        return self.read_after(rid, rid.name)

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        if not rid.name:
            return {}
        return {"id": rid.name, "name": rid.name.rsplit("/", 1)[1]}


# --- moving in from live -------------------------------------------------------------------------

# What every resource carries that says nothing the user set (output only: discovery).
_LIVE_KNOWN = frozenset({"name", "createTime", "updateTime", "etag", "encryptionSpec", "labels",
                         "satisfiesPzs", "satisfiesPzi", "state"})


def live_regions(regions: Iterable[str]) -> list[str]:
    """The ``--region``s Vertex AI is served in: those shaped like a region."""
    return [r for r in dict.fromkeys(regions) if region_problem(r) is None]


def live_labels(live: dict[str, Any], fields: dict[str, Any]) -> None:
    """``labels`` without mlops-infra's own and Google's (``goog-...``)."""
    labels = {k: v for k, v in user_labels(live.get("labels")).items() if not k.startswith("goog-")}
    if labels:
        fields["labels"] = labels


def _address_of(display_name: str) -> str:
    """A server-named resource's entry name: its display name as address characters."""
    out = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")
    return out if out[:1].isalpha() else ""


# --- spec pieces -------------------------------------------------------------------------------------

class EncryptionSpec(SpecModel):
    """``encryptionSpec``: the CMEK key (a key in the resource's region)."""

    kmsKeyName: CryptoKeyName


def labels_from_terraform(attributes: Mapping[str, Any], fields: dict[str, Any]) -> None:
    """``labels`` as the configuration set them (provider >= 5: ``terraform_labels``)."""
    labels = terraform_labels(attributes)
    if labels:
        fields["labels"] = labels


def encryption_of(fields: dict[str, Any]) -> dict[str, Any]:
    """``encryptionSpec`` from the REST field or the ``kmsKeyName`` shorthand."""
    key = fields.get("kmsKeyName") or (fields.get("encryptionSpec") or {}).get("kmsKeyName")
    return {"encryptionSpec": {"kmsKeyName": key}} if key else {}


def key_region_problem(fields: dict[str, Any], region: str) -> str | None:
    """Vertex AI needs the key in the resource's region (aiplatform v1 discovery,
    ``EncryptionSpec.kmsKeyName``: "The Cloud KMS key must be in the same region as the
    resource")."""
    key = (encryption_of(fields).get("encryptionSpec") or {}).get("kmsKeyName", "")
    parts = key.split("/")
    if len(parts) > 3 and "${" not in key and parts[3] != region:
        return (f"kmsKeyName {key!r} is in location {parts[3]!r}: Vertex AI needs a key in the "
                f"resource's region ({region!r}), e.g. a key ring in {region}")
    return None
