"""``vertex.FeatureOnlineStore`` and ``vertex.FeatureView``: Vertex AI Feature Store (the
current one, ``FeatureOnlineStoreAdminServiceClient``) serving features from BigQuery.

``vertex.FeatureOnlineStore``

| field | notes |
|---|---|
| (the resource name) | the store id: up to 60 of ``a-z0-9_``, not starting with a digit (no ``-``) |
| ``region`` | default: the spec's region |
| ``bigtable`` | ``{autoScaling: {minNodeCount, maxNodeCount, cpuUtilizationTarget}}``: ``minNodeCount`` >= 1, ``maxNodeCount`` from it to 10 times it, ``cpuUtilizationTarget`` 10-80; updated in place |
| ``optimized`` | ``true`` (or ``{}``): Optimized online serving instead of Bigtable |
| ``labels`` | updated in place |
| ``kmsKeyName`` | shorthand for ``encryptionSpec.kmsKeyName`` (the Vertex AI service agent is granted it); immutable |

Exactly one of ``bigtable`` and ``optimized``; switching between them replaces the store.
Identity ``projects/P/locations/R/featureOnlineStores/ID``; outputs ``id`` (the full name,
what a feature view's ``featureOnlineStore`` takes) and ``name``. Deleting a store that still
has feature views needs ``--allow-data-loss`` (the API's ``force``); the engine deletes a
store's views first when both leave the spec. The store holds copies of BigQuery data
(BigQuery stays the source of truth), so it is not data-bearing.

``vertex.FeatureView``

| field | notes |
|---|---|
| (the resource name) | the view id: the same rule as a store's |
| ``featureOnlineStore`` | required: the store's full name, usually ``${store.id}`` |
| ``bigQuerySource.uri`` | the BigQuery table or view: ``${table.ref}`` (``PROJECT.DATASET.TABLE``) or ``bq://PROJECT.DATASET.TABLE`` |
| ``bigQuerySource.entityIdColumns`` | the entity id columns (e.g. ``[customer_id]``) |
| ``syncConfig.cron`` | the sync schedule (``"0 */6 * * *"``, optionally ``TZ=Area/City`` first); or ``syncConfig.continuous: true`` |
| ``serviceAgentType`` | ``SERVICE_AGENT_TYPE_PROJECT`` (the project's Vertex AI service agent reads the source) or ``SERVICE_AGENT_TYPE_FEATURE_VIEW`` (an account of its own, the ``serviceAccountEmail`` output, which then needs read access to the source) |
| ``labels`` | updated in place |
| ``runSyncImmediately`` | sync once right after creation (a create parameter; kept in the ledger only) |

Identity ``STORE/featureViews/ID``, listed per store. Outputs: ``id``, ``name``,
``serviceAccountEmail`` (after creation, with ``SERVICE_AGENT_TYPE_FEATURE_VIEW``).
Sources: aiplatform v1 discovery (``FeatureOnlineStore``, ``FeatureView``, their
``create``/``patch``/``delete``); research/clients.md section e (updatable fields);
magic-modules FeatureOnlineStore.yaml / FeatureOnlineStoreFeatureview.yaml (force delete).
The **legacy Feature Store** (``FeaturestoreService``: featurestores, entity types,
features) is not built: it gets no new features since 2026-05-17 and is shut down on
2027-02-17 (https://docs.cloud.google.com/vertex-ai/docs/featurestore/overview).

Moving in: ``google_vertex_ai_feature_online_store`` (magic-modules FeatureOnlineStore.yaml:
``bigtable.auto_scaling``, ``optimized`` as an empty block, ``labels``) and
``google_vertex_ai_feature_online_store_featureview`` (FeatureOnlineStoreFeatureview.yaml:
``feature_online_store`` is the store's short name, ``big_query_source.uri`` a ``bq://`` URI,
written without the prefix so it becomes ``${table.ref}``, ``sync_config.cron``). From a
live project (``import live``): the same fields read back (a store's Bigtable
``cpuUtilizationTarget`` of 50 is the API's default, "If not set will default to 50%":
aiplatform v1 discovery, and is left out); views are listed under every store of the regions
asked for, their store written as its full name (``${store.id}`` once the store is imported)
and their BigQuery source without ``bq://`` (``${table.ref}`` once the table is). A view over
the Feature Registry or a Vertex RAG corpus is not importable (this kind holds BigQuery
sources only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import ImportedList, NotImportable, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, check_labels, translate_errors
from mlops_infra.kinds._imports import block, last_segment
from mlops_infra.kinds._names import CryptoKeyName, Region, feature_id_problem
from mlops_infra.kinds.vertex._common import (
    EncryptionSpec,
    VertexKind,
    client,
    encryption_of,
    key_region_problem,
    labels_from_terraform,
    live_labels,
    live_regions,
    merged_labels,
    region_of,
)

_STORE = re.compile(r"^projects/[^/]+/locations/[^/]+/featureOnlineStores/[^/]+$")
# https://en.wikipedia.org/wiki/Cron (five fields), with the optional "TZ=" / "CRON_TZ=" prefix
# the discovery document's FeatureViewSyncConfig.cron describes.
_CRON = re.compile(r"^(?:(?:CRON_)?TZ=[A-Za-z_/+-]+ )?(?:\S+ ){4}\S+$")


# --- vertex.FeatureOnlineStore -----------------------------------------------------------------------

class AutoScaling(SpecModel):
    minNodeCount: int = Field(ge=1)
    maxNodeCount: int = Field(ge=1)
    cpuUtilizationTarget: int | None = Field(default=None, ge=10, le=80)

    @model_validator(mode="after")
    def _range(self) -> AutoScaling:
        if not self.minNodeCount <= self.maxNodeCount <= 10 * self.minNodeCount:
            raise ValueError("maxNodeCount must be from minNodeCount to 10 times minNodeCount "
                             "(the API's rule)")
        return self


class Bigtable(SpecModel):
    autoScaling: AutoScaling


class FeatureOnlineStoreSpec(SpecModel):
    """A feature online store: Bigtable (with autoscaling) or Optimized serving."""

    region: Region | None = None
    bigtable: Bigtable | None = None
    optimized: bool | dict[str, Any] | None = None
    labels: dict[str, str] | None = None
    encryptionSpec: EncryptionSpec | None = None
    kmsKeyName: CryptoKeyName | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @field_validator("optimized")
    @classmethod
    def _optimized(cls, value: bool | dict[str, Any] | None) -> bool | dict[str, Any] | None:
        if value is False or (isinstance(value, dict) and value):
            raise ValueError("write 'optimized: true' (Optimized serving has no settings here)")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FeatureOnlineStoreSpec:
        if (self.bigtable is None) == (self.optimized is None):
            raise ValueError("write exactly one of 'bigtable' (with autoScaling) and "
                             "'optimized: true'")
        if self.kmsKeyName and self.encryptionSpec:
            raise ValueError("'kmsKeyName' is a shorthand for 'encryptionSpec.kmsKeyName': write one")
        return self


@register
class FeatureOnlineStore(VertexKind):
    """A Vertex AI feature online store."""

    name = "vertex.FeatureOnlineStore"
    name_pattern = "projects/*/locations/*/featureOnlineStores/*"
    model = FeatureOnlineStoreSpec
    outputs = frozenset({"id", "name"})
    immutable = frozenset({"encryptionSpec", "optimized"})
    client_class = "FeatureOnlineStoreAdminServiceClient"
    collection = "featureOnlineStores"
    noun = "feature_online_store"
    message = "FeatureOnlineStore"
    terraform_types = ("google_vertex_ai_feature_online_store",)
    terraform_refs = {"kmsKeyName": "id"}
    terraform_known = ("bigtable", "optimized", "labels", "terraform_labels", "effective_labels",
                       "force_destroy", "etag", "dedicated_serving_endpoint")

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        scaling = block(block(attributes, "bigtable"), "auto_scaling")
        if scaling:
            fields["bigtable"] = {"autoScaling": {
                "minNodeCount": scaling["min_node_count"], "maxNodeCount": scaling["max_node_count"],
                **({"cpuUtilizationTarget": scaling["cpu_utilization_target"]}
                   if scaling.get("cpu_utilization_target") else {})}}
        if attributes.get("optimized"):          # an empty block: [{}]
            fields["optimized"] = True
        labels_from_terraform(attributes, fields)
        return fields

    live_known = frozenset({"bigtable", "optimized", "dedicatedServingEndpoint"})

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        bigtable = live.get("bigtable") or {}
        scaling = bigtable.get("autoScaling") or {}
        if scaling:
            target = scaling.get("cpuUtilizationTarget")
            fields["bigtable"] = {"autoScaling": {
                "minNodeCount": int(scaling["minNodeCount"]),
                "maxNodeCount": int(scaling["maxNodeCount"]),
                **({"cpuUtilizationTarget": int(target)} if target and int(target) != 50 else {})}}
        extra = sorted(k for k in bigtable if k not in ("autoScaling", "bigtableMetadata")
                       and bigtable[k] not in (None, "", False))
        if extra:
            notes.append(f"bigtable.{', bigtable.'.join(extra)} has no field here: left as it is")
        if "optimized" in live:
            fields["optimized"] = True
        psc = (live.get("dedicatedServingEndpoint") or {}).get("privateServiceConnectConfig") or {}
        if psc.get("enablePrivateServiceConnect"):
            notes.append("dedicatedServingEndpoint.privateServiceConnectConfig has no field here: "
                         "left as it is")
        live_labels(live, fields)
        return fields

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return feature_id_problem(ctx.name) or key_region_problem(fields, region_of(ctx, fields))

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = region_of(ctx, fields)
        return self.id_from_name(f"projects/{ctx.project}/locations/{region}/featureOnlineStores/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if "bigtable" in fields:
            body["bigtable"] = fields["bigtable"]
        if fields.get("optimized") is not None:
            body["optimized"] = {}
        if "labels" in fields:
            body["labels"] = fields["labels"]
        return {**body, **encryption_of(fields)}

    def create_request(self, rid: ResourceId, body: dict[str, Any],
                       desired: dict[str, Any]) -> dict[str, Any]:
        return {**super().create_request(rid, body, desired),
                "feature_online_store_id": rid.parts["featureOnlineStores"]}

    def delete_request(self, rid: ResourceId, *, force: bool) -> dict[str, Any]:
        return {"name": rid.name, "force": force}

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        mask = sorted({"bigtable.autoScaling" if c.path.startswith("bigtable.autoScaling")
                       else paths.split(c.path)[0] for c in changes})
        body: dict[str, Any] = {}
        if any(m.startswith("bigtable") for m in mask):
            body["bigtable"] = desired.get("bigtable") or {}
        if "labels" in mask:
            body["labels"] = merged_labels(desired, changes, live)
        return self.update_with_mask(rid, body, mask, long_running=True)


# --- vertex.FeatureView ----------------------------------------------------------------------------

class BigQuerySource(SpecModel):
    uri: str = Field(description="${table.ref} or bq://PROJECT.DATASET.TABLE")
    entityIdColumns: list[str] = Field(min_length=1)


class SyncConfig(SpecModel):
    cron: str | None = None
    continuous: bool | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and "${" not in value and not _CRON.match(value):
            raise ValueError(f"{value!r} is not a cron schedule: five fields such as "
                             "'0 */6 * * *', optionally after 'TZ=Area/City '")
        return value


class FeatureViewSpec(SpecModel):
    """A feature view: a BigQuery table synced into a feature online store."""

    featureOnlineStore: str = Field(description="the store's full name, usually ${store.id}")
    bigQuerySource: BigQuerySource
    syncConfig: SyncConfig | None = None
    serviceAgentType: Literal["SERVICE_AGENT_TYPE_PROJECT", "SERVICE_AGENT_TYPE_FEATURE_VIEW"] | None = None
    labels: dict[str, str] | None = None
    runSyncImmediately: bool | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)


def bigquery_uri(value: str) -> str:
    """``PROJECT.DATASET.TABLE`` (a table's ``ref``) as the ``bq://`` URI the API takes."""
    return value if value.startswith("bq://") or "${" in value else f"bq://{value}"


@register
class FeatureView(VertexKind):
    """A feature view of a feature online store, over a BigQuery source."""

    name = "vertex.FeatureView"
    name_pattern = "projects/*/locations/*/featureOnlineStores/*/featureViews/*"
    model = FeatureViewSpec
    outputs = frozenset({"id", "name", "serviceAccountEmail"})
    local_fields = frozenset({"runSyncImmediately"})
    client_class = "FeatureOnlineStoreAdminServiceClient"
    collection = "featureViews"
    noun = "feature_view"
    message = "FeatureView"
    terraform_types = ("google_vertex_ai_feature_online_store_featureview",)
    terraform_refs = {"featureOnlineStore": "id", "bigQuerySource.uri": "ref"}
    terraform_known = ("feature_online_store", "big_query_source", "sync_config", "labels",
                       "terraform_labels", "effective_labels")

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        a = attributes
        store = str(a["feature_online_store"])
        if "/" not in store:
            store = (f"projects/{a.get('project')}/locations/{a.get('region')}/"
                     f"featureOnlineStores/{last_segment(store)}")
        source = block(a, "big_query_source")
        fields: dict[str, Any] = {"featureOnlineStore": store, "bigQuerySource": {
            "uri": str(source.get("uri", "")).removeprefix("bq://"),
            "entityIdColumns": list(source.get("entity_id_columns") or [])}}
        sync = block(a, "sync_config")
        if sync.get("cron"):
            fields["syncConfig"] = {"cron": sync["cron"]}
        elif sync.get("continuous"):
            fields["syncConfig"] = {"continuous": True}
        labels_from_terraform(a, fields)
        return fields
    live_known = frozenset({"bigQuerySource", "syncConfig", "serviceAgentType",
                            "serviceAccountEmail", "bigtableMetadata"})

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for region in live_regions(regions):
            for store in self._stores(project, region):
                found.update(self.list(store))
        return found

    def _stores(self, project: str, region: str) -> dict[str, dict[str, Any]]:
        scope = f"projects/{project}/locations/{region}"
        with translate_errors(f"featureOnlineStores in {scope}"):
            api = client(self.clients, self.client_class, region)
            stores = api.list_feature_online_stores(request={"parent": scope}, **CALL)
            # the API answers names with the project number: the spec and ledger use the id
            return {f"{scope}/featureOnlineStores/{last_segment(s.name)}": {} for s in stores}

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        other = [k for k in ("featureRegistrySource", "vertexRagSource") if live.get(k)]
        if other or not live.get("bigQuerySource"):
            raise NotImportable(f"a feature view over {other[0] if other else 'no BigQuery source'}"
                                " is not a kind here yet (BigQuery sources only)")
        return super().from_live(name, live)

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        source = live["bigQuerySource"]
        fields: dict[str, Any] = {
            "featureOnlineStore": str(live["name"]).split("/featureViews/")[0],
            "bigQuerySource": {"uri": str(source.get("uri", "")).removeprefix("bq://"),
                               "entityIdColumns": list(source.get("entityIdColumns") or [])}}
        sync = live.get("syncConfig") or {}
        if sync.get("cron"):
            fields["syncConfig"] = {"cron": sync["cron"]}
        elif sync.get("continuous"):
            fields["syncConfig"] = {"continuous": True}
        if live.get("serviceAgentType") == "SERVICE_AGENT_TYPE_FEATURE_VIEW":   # else the default
            fields["serviceAgentType"] = live["serviceAgentType"]
        live_labels(live, fields)
        return fields

    service_agent = None          # a view is not encrypted by a key of its own
    cmek_fields = ()
    guardrails: ClassVar[Mapping[str, str]] = {}
    policy_settings: ClassVar[Mapping[str, Any]] = {}

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return feature_id_problem(ctx.name, "feature view")

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        store = str(fields.get("featureOnlineStore", ""))
        if "${" not in store and not _STORE.match(store):
            raise errors.SpecError(f"featureOnlineStore {store!r}: expected the store's full name "
                                   "(usually ${store.id})", field=f"{ctx.address}.featureOnlineStore")
        return self.id_from_name(f"{store}/featureViews/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        source = dict(fields["bigQuerySource"])
        body: dict[str, Any] = {"bigQuerySource": {**source, "uri": bigquery_uri(source["uri"])}}
        for key in ("syncConfig", "serviceAgentType", "labels", "runSyncImmediately"):
            if key in fields:
                body[key] = fields[key]
        return body

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        out = super().outputs_of(rid, live)
        if live and live.get("serviceAccountEmail"):
            out["serviceAccountEmail"] = live["serviceAccountEmail"]
        return out

    def create_request(self, rid: ResourceId, body: dict[str, Any],
                       desired: dict[str, Any]) -> dict[str, Any]:
        request = {**super().create_request(rid, body, desired),
                   "feature_view_id": rid.parts["featureViews"]}
        if desired.get("runSyncImmediately"):
            request["run_sync_immediately"] = True
        return request

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        mask = sorted({paths.split(c.path)[0] for c in changes})
        body = {key: desired.get(key) for key in mask}
        if "labels" in mask:
            body["labels"] = merged_labels(desired, changes, live)
        return self.update_with_mask(rid, body, mask, long_running=True)
