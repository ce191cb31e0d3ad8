"""``vertex.Endpoint``: a Vertex AI prediction endpoint (``aiplatform_v1.EndpointServiceClient``).

| field | notes |
|---|---|
| ``region`` | default: the spec's region; the client of that region is used |
| ``endpointId`` | optional: the endpoint's id (a letter then up to 62 of ``a-z0-9-``, or up to 9 digits); without it the server chooses a 19-digit id and the endpoint is found again by its ownership labels; immutable |
| ``displayName`` | default: the resource name (the API requires one) |
| ``description``, ``labels`` | updated in place (PATCH with an update mask) |
| ``kmsKeyName`` | shorthand for ``encryptionSpec.kmsKeyName``: a key in the endpoint's region, usually ``${key.id}`` (the Vertex AI service agent is granted it); immutable |
| ``network`` | VPC peering: a network name, ``projects/P/global/networks/N`` or its selfLink (the API takes the project **number**: the kind converts it); needs private services access on the network; immutable |
| ``privateServiceConnectConfig`` | ``{enablePrivateServiceConnect: true, projectAllowlist: [PROJECT]}``; immutable; not with ``network`` |

Identity ``projects/P/locations/R/endpoints/ID``, listed per ``projects/P/locations/R``. The
API answers names with the project number; they are kept with the project id. Outputs:
``id`` (the full name) and ``name`` (the endpoint id), known before creation only with an
``endpointId``. Sources: aiplatform v1 discovery (``Endpoint``, ``endpoints.create``),
magic-modules Endpoint.yaml (immutable fields, ``network`` format), research/clients.md
section e (PATCH is synchronous; ``:update`` is an operation only for the client connection
config, which this kind does not manage).

Moving in: ``google_vertex_ai_endpoint`` (magic-modules Endpoint.yaml: ``name`` is the endpoint
id, ``location``, ``display_name``, ``description``, ``labels``, ``network`` written with the
project number, ``encryption_spec``, ``private_service_connect_config``): the id becomes
``endpointId``, a network in the endpoint's own project is written as its selfLink, so it
becomes ``${vpc.selfLink}`` when the network is imported too. From a live project
(``import live``): the same fields read back; an id the user chose becomes ``endpointId``, a
19-digit one the server chose stays out of the spec and goes into the ledger (as a
Tensorboard's does). Deployed models and their traffic split are not managed here: noted,
left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._imports import block, last_segment
from mlops_infra.kinds._names import (
    NETWORK_URL,
    CryptoKeyName,
    NetworkRef,
    ProjectId,
    Region,
    endpoint_id_problem,
)
from mlops_infra.kinds.vertex._common import (
    EncryptionSpec,
    VertexKind,
    encryption_of,
    key_region_problem,
    labels_from_terraform,
    live_labels,
    merged_labels,
    region_of,
)

_IMMUTABLE = frozenset({"encryptionSpec", "network", "privateServiceConnectConfig", "endpointId"})
_NUMBERED_NETWORK = re.compile(r"^projects/([^/]+)/global/networks/([^/]+)$")


class PrivateServiceConnectConfig(SpecModel):
    enablePrivateServiceConnect: bool
    projectAllowlist: list[ProjectId] | None = None


class EndpointSpec(SpecModel):
    """A Vertex AI endpoint (REST field names, plus the ``kmsKeyName`` shorthand)."""

    region: Region | None = None
    endpointId: str | None = Field(default=None, description="the endpoint id; default: the server's")
    displayName: str | None = Field(default=None, max_length=128)
    description: str | None = None
    labels: dict[str, str] | None = None
    encryptionSpec: EncryptionSpec | None = None
    kmsKeyName: CryptoKeyName | None = None
    network: NetworkRef | None = None
    privateServiceConnectConfig: PrivateServiceConnectConfig | None = None

    @field_validator("endpointId")
    @classmethod
    def _endpoint_id(cls, value: str | None) -> str | None:
        problem = endpoint_id_problem(value) if value and "${" not in value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _one_way_in(self) -> EndpointSpec:
        if self.network and self.privateServiceConnectConfig:
            raise ValueError("write 'network' (VPC peering) or 'privateServiceConnectConfig', not "
                             "both: the API accepts only one")
        if self.kmsKeyName and self.encryptionSpec:
            raise ValueError("'kmsKeyName' is a shorthand for 'encryptionSpec.kmsKeyName': write one")
        return self


def network_path(value: str, project: str) -> str:
    """A network as ``projects/P/global/networks/N`` (the project id unless written otherwise)."""
    if "${" in value:
        return value
    if "/" not in value:
        return f"projects/{project}/global/networks/{value}"
    match = NETWORK_URL.fullmatch(value)
    if match is None:
        raise errors.UserError(f"network {value!r}: use a network name, "
                               "'projects/P/global/networks/N' or its selfLink")
    return f"projects/{match.group(1) or project}/global/networks/{match.group(2)}"


@register
class Endpoint(VertexKind):
    """A Vertex AI endpoint, named by the user (``endpointId``) or by the server."""

    name = "vertex.Endpoint"
    name_pattern = "projects/*/locations/*/endpoints/*"
    model = EndpointSpec
    naming = "server"
    outputs = frozenset({"id", "name"})
    immutable = _IMMUTABLE
    set_paths = frozenset({"privateServiceConnectConfig.projectAllowlist"})
    list_keys = {"privateServiceConnectConfig.projectAllowlist": ""}
    client_class = "EndpointServiceClient"
    collection = "endpoints"
    noun = "endpoint"
    message = "Endpoint"
    terraform_types = ("google_vertex_ai_endpoint",)
    terraform_refs = {"kmsKeyName": "id", "network": "selfLink"}
    terraform_known = ("display_name", "description", "labels", "terraform_labels",
                       "effective_labels", "network", "private_service_connect_config",
                       "deployed_models", "etag", "model_deployment_monitoring_job",
                       "dedicated_endpoint_dns", "dedicated_endpoint_enabled")

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        a = attributes
        fields: dict[str, Any] = {"endpointId": last_segment(str(a["name"]))}
        for attr, key in (("display_name", "displayName"), ("description", "description")):
            if a.get(attr):
                fields[key] = a[attr]
        labels_from_terraform(a, fields)
        match = NETWORK_URL.fullmatch(str(a.get("network") or ""))
        if match:
            project = a.get("project") if (match.group(1) or "").isdigit() else match.group(1)
            fields["network"] = ("https://www.googleapis.com/compute/v1/projects/"
                                 f"{project or a.get('project')}/global/networks/{match.group(2)}")
        psc = block(a, "private_service_connect_config")
        if psc.get("enable_private_service_connect"):
            fields["privateServiceConnectConfig"] = {
                "enablePrivateServiceConnect": True,
                **({"projectAllowlist": sorted(psc["project_allowlist"])}
                   if psc.get("project_allowlist") else {})}
        return fields

    live_known = frozenset({"displayName", "description", "network", "privateServiceConnectConfig",
                            "deployedModels", "trafficSplit", "modelDeploymentMonitoringJob",
                            "dedicatedEndpointDns", "dedicatedEndpointEnabled"})

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        given = str(live["name"]).rsplit("/", 1)[1]
        fields: dict[str, Any] = {} if endpoint_id_problem(given) else {"endpointId": given}
        fields.update({k: live[k] for k in ("displayName", "description") if live.get(k)})
        live_labels(live, fields)
        match = _NUMBERED_NETWORK.match(str(live.get("network") or ""))
        if match:        # a selfLink, so it becomes ${vpc.selfLink} when the network is imported
            fields["network"] = ("https://www.googleapis.com/compute/v1/projects/"
                                 f"{match.group(1)}/global/networks/{match.group(2)}")
        psc = live.get("privateServiceConnectConfig") or {}
        if psc.get("enablePrivateServiceConnect"):
            fields["privateServiceConnectConfig"] = {
                "enablePrivateServiceConnect": True,
                **({"projectAllowlist": sorted(psc["projectAllowlist"])}
                   if psc.get("projectAllowlist") else {})}
        if live.get("deployedModels"):
            notes.append(f"{len(live['deployedModels'])} deployed model(s) and their traffic split "
                         "are not managed here: left as they are")
        if live.get("dedicatedEndpointEnabled"):
            notes.append("dedicatedEndpointEnabled has no field here: left as it is")
        return fields

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return key_region_problem(fields, region_of(ctx, fields))

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = region_of(ctx, fields)
        scope = f"projects/{ctx.project}/locations/{region}"
        given = fields.get("endpointId")
        if given:
            return self.id_from_name(f"{scope}/endpoints/{given}")
        return ResourceId(kind=self.name, name="", scope=scope,
                          parts={"projects": ctx.project, "locations": region})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"displayName": fields.get("displayName") or ctx.name}
        for key in ("endpointId", "description", "labels", "privateServiceConnectConfig"):
            if key in fields:
                body[key] = fields[key]
        if fields.get("network"):
            body["network"] = network_path(fields["network"], ctx.project)
        return {**body, **encryption_of(fields)}

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        out = dict(live)
        if out.get("name"):
            out["endpointId"] = str(out["name"]).rsplit("/", 1)[1]
        return out

    def body_of(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in desired.items() if k != "endpointId"}
        match = _NUMBERED_NETWORK.match(str(body.get("network", "")))
        if match and not match.group(1).isdigit():   # the API takes the project number
            body["network"] = f"projects/{self.number(match.group(1))}/global/networks/{match.group(2)}"
        return body

    def create_request(self, rid: ResourceId, body: dict[str, Any],
                       desired: dict[str, Any]) -> dict[str, Any]:
        request = super().create_request(rid, body, desired)
        wanted = rid.name.rsplit("/", 1)[1] if rid.name else None
        if wanted:
            request["endpoint_id"] = wanted
        return request

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        if not rid.name and desired.get("endpointId"):     # a replace: the id is the spec's
            rid = self.id_from_name(f"{rid.scope}/endpoints/{desired['endpointId']}")
        return super().create(rid, desired)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        mask = sorted({paths.split(c.path)[0] for c in changes})
        body = {key: desired.get(key) for key in mask}
        if "labels" in mask:
            body["labels"] = merged_labels(desired, changes, live)
        return self.update_with_mask(rid, body, mask, long_running=False)
