"""The emulated Vertex AI collections: what each resource accepts, what the server adds, what
an update may change.

| resource | id | update | rules kept (source) |
|---|---|---|---|
| ``endpoints`` (``Endpoint``) | ``endpointId``: a letter then up to 62 of ``[a-z0-9-]`` ending in a letter or digit, or up to 9 digits without a leading zero; else 19 server digits | PATCH, synchronous; ``displayName``, ``description``, ``labels``, ``trafficSplit``, ``predictRequestResponseLoggingConfig``, ``dedicatedEndpointEnabled`` | ``displayName`` required; ``network`` (``projects/NUMBER/global/networks/N``: a project **number**) and ``privateServiceConnectConfig`` are mutually exclusive and immutable, as is ``encryptionSpec`` (aiplatform v1 discovery ``Endpoint``; magic-modules Endpoint.yaml) |
| ``tensorboards`` (``Tensorboard``) | always the server's (CreateTensorboardRequest has no id) | PATCH, an operation; ``displayName``, ``description``, ``labels``, ``isDefault`` | ``displayName`` required; ``encryptionSpec`` immutable; the server adds ``blobStoragePathPrefix`` and ``runCount`` (discovery ``Tensorboard``; magic-modules Tensorboard.yaml) |
| ``featureOnlineStores`` (``FeatureOnlineStore``) | required: up to 60 of ``[a-z0-9_]``, not starting with a digit | PATCH, an operation; ``labels``, ``description``, ``bigtable``, ``bigtable.autoScaling``, ``bigtable.enableMultiRegionReplica`` (the discovery's list) | exactly one of ``bigtable`` (``autoScaling`` required: ``minNodeCount`` >= 1, ``maxNodeCount`` between it and 10 times it, ``cpuUtilizationTarget`` 10-80) and ``optimized``; ``state`` STABLE, UPDATING while an operation runs; deleting one that has feature views needs ``force`` (discovery ``featureOnlineStores.delete``) |
| ``featureViews`` (``FeatureView``) | required, the same rule | PATCH, an operation; ``labels``, ``serviceAgentType``, ``bigQuerySource`` (``.uri``, ``.entityIdColumns``), ``featureRegistrySource``, ``syncConfig`` (``.cron``), ``optimizedConfig.automaticResources`` | one source; ``bigQuerySource.uri`` is ``bq://PROJECT.DATASET.TABLE`` with ``entityIdColumns``; the parent store must exist (discovery ``FeatureView``; research/clients.md section e) |
| ``metadataStores`` (``MetadataStore``) | ``metadataStoreId``: 4-128 of ``[a-z-]``; else a UUID | none: the API has no update method | no labels; ``state.diskUtilizationBytes`` added (discovery ``metadataStores``) |

Every resource can be read as soon as its create is accepted (its name is in the operation's
name); ``createTime``/``updateTime`` are set, and ``etag`` where the resource has one.
Simplifications: ``filter``/``orderBy``/``readMask`` on lists are ignored; an ``etag`` sent
with an update is not compared (the kinds send none: a blind overwrite, as the discovery
documents for an update without one); models are never deployed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops_infra.emulator.aiplatform.common import (
    check_labels,
    metadata_store_uuid,
    new_etag,
    server_id,
)
from mlops_infra.emulator.core import HttpError

_ENDPOINT_ID = re.compile(r"^(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|[1-9][0-9]{0,8})$")
_FEATURE_ID = re.compile(r"^[a-z_][a-z0-9_]{0,59}$")
_METADATA_ID = re.compile(r"^[a-z-]{4,128}$")
_NETWORK = re.compile(r"^projects/([^/]+)/global/networks/[^/]+$")
_BQ_URI = re.compile(r"^bq://[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[^.]{1,1024}$")
_AGENT_TYPES = ("SERVICE_AGENT_TYPE_UNSPECIFIED", "SERVICE_AGENT_TYPE_PROJECT",
                "SERVICE_AGENT_TYPE_FEATURE_VIEW")      # FeatureView.ServiceAgentType (discovery)
_CRON = re.compile(r"^(?:TZ=[A-Za-z_/+-]+ |CRON_TZ=[A-Za-z_/+-]+ )?\S+ \S+ \S+ \S+ \S+$")


@dataclass(frozen=True)
class Context:
    """Where a create happens: the project (id and number), the location, the new name."""

    project: str
    number: str
    location: str
    name: str
    emulator: Any = None


@dataclass(frozen=True)
class Collection:
    """One Vertex AI collection and its rules (see the module table)."""

    plural: str
    type_name: str
    id_param: str | None                      # the query parameter naming the caller's id
    id_rule: re.Pattern[str] | None
    id_rule_text: str
    generated_id: Callable[[], str] | None    # None: the caller must give an id
    updatable: frozenset[str] | None          # None: no update method
    patch_is_operation: bool
    prepare: Callable[[dict[str, Any], Context], dict[str, Any]]
    output_only: frozenset[str] = field(default_factory=frozenset)
    has_etag: bool = True
    parent: str | None = None                 # the parent collection (featureViews' stores)
    delete_metadata: str = "DeleteOperationMetadata"

    def check_id(self, value: str) -> None:
        if self.id_rule is not None and not self.id_rule.match(value):
            raise HttpError(400, f"Invalid {self.id_param} {value!r}: {self.id_rule_text}",
                            status="INVALID_ARGUMENT")


_COMMON_OUTPUT = frozenset({"name", "createTime", "updateTime", "etag", "satisfiesPzs",
                            "satisfiesPzi"})


def _required(body: dict[str, Any], key: str, kind: str) -> None:
    if not body.get(key):
        raise HttpError(400, f"{kind}.{key} is required", status="INVALID_ARGUMENT")


# --- endpoints -------------------------------------------------------------------------------

def _endpoint(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    _required(body, "displayName", "Endpoint")
    check_labels(body.get("labels"))
    network = body.get("network")
    psc = body.get("privateServiceConnectConfig")
    if network and psc:
        raise HttpError(400, "Only one of the fields, network or private_service_connect_config, "
                             "can be set", status="INVALID_ARGUMENT")
    if network:
        match = _NETWORK.match(network)
        if match is None or not match.group(1).isdigit():
            raise HttpError(400, f"Invalid network {network!r}: the format is "
                                 "projects/{project}/global/networks/{network} where {project} is "
                                 "a project number", status="INVALID_ARGUMENT")
    if psc is not None and not isinstance(psc.get("enablePrivateServiceConnect"), bool):
        raise HttpError(400, "privateServiceConnectConfig.enablePrivateServiceConnect is required",
                        status="INVALID_ARGUMENT")
    return body


ENDPOINTS = Collection(
    plural="endpoints", type_name="Endpoint", id_param="endpointId", id_rule=_ENDPOINT_ID,
    id_rule_text="a letter then up to 62 of [a-z0-9-] ending in a letter or digit, or up to 9 "
                 "digits with no leading zero",
    generated_id=server_id,
    updatable=frozenset({"displayName", "description", "labels", "trafficSplit",
                         "predictRequestResponseLoggingConfig", "dedicatedEndpointEnabled"}),
    patch_is_operation=False, prepare=_endpoint,
    output_only=_COMMON_OUTPUT | {"deployedModels", "modelDeploymentMonitoringJob",
                                  "dedicatedEndpointDns"})


# --- tensorboards ----------------------------------------------------------------------------

def _tensorboard(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    _required(body, "displayName", "Tensorboard")
    check_labels(body.get("labels"))
    tb_id = ctx.name.rsplit("/", 1)[1]
    return {**body, "blobStoragePathPrefix": f"cloud-ai-platform-{tb_id[:8]}/tensorboard-{tb_id}",
            "runCount": 0}


TENSORBOARDS = Collection(
    plural="tensorboards", type_name="Tensorboard", id_param=None, id_rule=None, id_rule_text="",
    generated_id=server_id,
    updatable=frozenset({"displayName", "description", "labels", "isDefault"}),
    patch_is_operation=True, prepare=_tensorboard,
    output_only=_COMMON_OUTPUT | {"blobStoragePathPrefix", "runCount"})


# --- feature online stores and views -----------------------------------------------------------

def _bigtable(bigtable: dict[str, Any]) -> None:
    scaling = bigtable.get("autoScaling")
    if not isinstance(scaling, dict):
        raise HttpError(400, "bigtable.auto_scaling is required", status="INVALID_ARGUMENT")
    low, high = int(scaling.get("minNodeCount") or 0), int(scaling.get("maxNodeCount") or 0)
    target = scaling.get("cpuUtilizationTarget")
    if low < 1 or not low <= high <= 10 * low:
        raise HttpError(400, "auto_scaling: min_node_count must be >= 1 and max_node_count between "
                             "min_node_count and 10 times min_node_count", status="INVALID_ARGUMENT")
    if target is not None and not 10 <= int(target) <= 80:
        raise HttpError(400, "auto_scaling.cpu_utilization_target must be from 10 to 80",
                        status="INVALID_ARGUMENT")


def _feature_online_store(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    check_labels(body.get("labels"))
    kinds = [k for k in ("bigtable", "optimized") if k in body]
    if len(kinds) != 1:
        raise HttpError(400, "Exactly one of bigtable or optimized must be set",
                        status="INVALID_ARGUMENT")
    out = dict(body)
    store = ctx.name.rsplit("/", 1)[1]
    if kinds == ["bigtable"]:
        _bigtable(body["bigtable"])
        out["bigtable"] = {**body["bigtable"], "bigtableMetadata": {
            "tenantProjectId": f"ta{ctx.number[-8:]}-tp", "instanceId": f"{store[:20]}-bt",
            "tableId": store}}
    else:
        out["dedicatedServingEndpoint"] = {
            **(body.get("dedicatedServingEndpoint") or {}),
            "publicEndpointDomainName": f"{server_id()[:10]}.{ctx.location}-{ctx.number}"
                                        ".featurestore.vertexai.goog"}
    return out


FEATURE_ONLINE_STORES = Collection(
    plural="featureOnlineStores", type_name="FeatureOnlineStore", id_param="featureOnlineStoreId",
    id_rule=_FEATURE_ID, id_rule_text="up to 60 of [a-z0-9_], not starting with a digit",
    generated_id=None,
    updatable=frozenset({"labels", "description", "bigtable", "bigtable.autoScaling",
                         "bigtable.enableMultiRegionReplica"}),
    patch_is_operation=True, prepare=_feature_online_store,
    output_only=_COMMON_OUTPUT | {"state"})


def _feature_view(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    check_labels(body.get("labels"))
    sources = [k for k in ("bigQuerySource", "featureRegistrySource", "vertexRagSource") if k in body]
    if len(sources) != 1:
        raise HttpError(400, "Exactly one of big_query_source, feature_registry_source or "
                             "vertex_rag_source must be set", status="INVALID_ARGUMENT")
    source = body.get("bigQuerySource")
    if source is not None:
        if not _BQ_URI.match(str(source.get("uri", ""))):
            raise HttpError(400, f"Invalid big_query_source.uri {source.get('uri')!r}: expected "
                                 "bq://PROJECT.DATASET.TABLE", status="INVALID_ARGUMENT")
        if not source.get("entityIdColumns"):
            raise HttpError(400, "big_query_source.entity_id_columns is required",
                            status="INVALID_ARGUMENT")
    cron = (body.get("syncConfig") or {}).get("cron")
    if cron is not None and not _CRON.match(cron):
        raise HttpError(400, f"Invalid sync_config.cron {cron!r}", status="INVALID_ARGUMENT")
    out = canonical_enums(body)
    if out.get("serviceAgentType") == "SERVICE_AGENT_TYPE_FEATURE_VIEW":
        view = ctx.name.rsplit("/", 1)[1].replace("_", "-")[:20]
        out["serviceAccountEmail"] = f"fv-{view}-{ctx.number[-6:]}@gcp-sa-aiplatform-fv.iam.gserviceaccount.com"
    return out


FEATURE_VIEWS = Collection(
    plural="featureViews", type_name="FeatureView", id_param="featureViewId", id_rule=_FEATURE_ID,
    id_rule_text="up to 60 of [a-z0-9_], not starting with a digit", generated_id=None,
    updatable=frozenset({"labels", "serviceAgentType", "bigQuerySource", "featureRegistrySource",
                         "syncConfig", "optimizedConfig.automaticResources"}),
    patch_is_operation=True, prepare=_feature_view, parent="featureOnlineStores",
    output_only=_COMMON_OUTPUT | {"serviceAccountEmail", "bigtableMetadata"})


# --- metadata stores ---------------------------------------------------------------------------

def _metadata_store(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {**body, "state": {"diskUtilizationBytes": "0"}}


METADATA_STORES = Collection(
    plural="metadataStores", type_name="MetadataStore", id_param="metadataStoreId",
    id_rule=_METADATA_ID, id_rule_text="4-128 of [a-z-]", generated_id=metadata_store_uuid,
    updatable=None, patch_is_operation=False, prepare=_metadata_store, has_etag=False,
    output_only=_COMMON_OUTPUT | {"state"}, delete_metadata="DeleteMetadataStoreOperationMetadata")


def canonical_enums(body: dict[str, Any]) -> dict[str, Any]:
    """Enums as the server answers them (names): the REST client sends numbers."""
    out = dict(body)
    if isinstance(out.get("serviceAgentType"), int):
        out["serviceAgentType"] = _AGENT_TYPES[out["serviceAgentType"]]
    return out


COLLECTIONS = {c.plural: c for c in (ENDPOINTS, TENSORBOARDS, FEATURE_ONLINE_STORES, FEATURE_VIEWS,
                                     METADATA_STORES)}


def stamped(record: dict[str, Any], collection: Collection, now: str) -> dict[str, Any]:
    """``record`` after a write: ``updateTime`` and a fresh ``etag`` where it has one."""
    out = {**record, "updateTime": now}
    if collection.has_etag:
        out["etag"] = new_etag()
    return out
