"""The Vertex AI kinds over the real aiplatform_v1 REST clients against the emulator: one
client per region, names kept with the project id, server-named resources, update masks,
operations, CMEK errors that wait for the key grant, replace-only metadata stores."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.projects import project_number
from mlops_infra.engine import errors
from mlops_infra.engine.diff import compare
from mlops_infra.engine.kind import FieldChange, Kind, ResourceId
from mlops_infra.engine.ownership import with_managed_labels
from mlops_infra.kinds._clients import KMS, aiplatform
from mlops_infra.kinds.vertex.endpoint import Endpoint
from mlops_infra.kinds.vertex.feature_store import FeatureOnlineStore, FeatureView
from mlops_infra.kinds.vertex.metadata_store import MetadataStore
from mlops_infra.kinds.vertex.tensorboard import Tensorboard
from tests.kinds.kinds_testlib import PROJECT, STACK, ctx, fields

pytestmark = pytest.mark.emulator_services("aiplatform", "kms", "resourcemanager")


def _place(kind_cls: type[Kind], clients: Clients, name: str, raw: dict[str, Any],
           region: str = "europe-west1") -> tuple[Kind, ResourceId, dict[str, Any]]:
    kind = kind_cls(clients)
    values = fields(kind_cls, raw)
    place = ctx(name, region=region)
    return kind, kind.identify(place, values), with_managed_labels(kind, kind.desired(place, values),
                                                                    STACK, place.address)


def _created(kind: Kind, rid: ResourceId, desired: dict[str, Any]) -> tuple[ResourceId, dict[str, Any]]:
    live = kind.create(rid, desired)
    if not rid.name:
        rid = kind.id_from_name(kind.api_name(live))
    return rid, live


def test_a_server_named_endpoint_is_kept_under_the_project_id(clients: Clients) -> None:
    kind, rid, desired = _place(Endpoint, clients, "predict", {"labels": {"team": "ml"}})
    assert rid.name == "" and rid.scope == f"projects/{PROJECT}/locations/europe-west1"
    rid, live = _created(kind, rid, desired)
    assert live["name"].startswith(f"projects/{PROJECT}/locations/europe-west1/endpoints/")
    assert project_number(PROJECT) not in live["name"]
    assert list(kind.list(rid.scope)) == [rid.name]
    assert compare(kind, desired, kind.normalize(kind.get(rid))) == []
    assert kind.outputs_of(rid, live) == {"id": rid.name, "name": rid.name.rsplit("/", 1)[1]}


def test_an_endpoint_id_names_it_and_a_network_is_sent_with_the_project_number(
        clients: Clients, emulator: Emulator) -> None:
    kind, rid, desired = _place(Endpoint, clients, "predict", {
        "endpointId": "predict", "network": "ml-vpc", "description": "d", "labels": {"a": "b"}})
    assert rid.name == f"projects/{PROJECT}/locations/europe-west1/endpoints/predict"
    emulator.record_bodies()
    live = kind.create(rid, desired)
    sent = next(e.request for e in emulator.journal if e.method == "POST" and e.service == "aiplatform")
    assert sent["network"] == f"projects/{project_number(PROJECT)}/global/networks/ml-vpc"
    assert live["network"] == f"projects/{PROJECT}/global/networks/ml-vpc"
    assert compare(kind, desired, kind.normalize(live)) == []
    changed = {**desired, "labels": {k: v for k, v in desired["labels"].items() if k != "a"},
               "description": "e"}
    changes = compare(kind, changed, kind.normalize(live), desired)
    assert {c.path for c in changes} == {"labels.a", "description"}
    updated = kind.update(rid, changed, changes, live)
    assert "a" not in updated["labels"] and updated["description"] == "e"
    assert kind.replace_reason([FieldChange("endpointId", "change", "predict", "other")])


def test_endpoint_specs_refuse_what_the_api_refuses() -> None:
    for raw in ({"endpointId": "Predict"}, {"endpointId": "0123"},
                {"network": "vpc", "privateServiceConnectConfig": {"enablePrivateServiceConnect": True}}):
        with pytest.raises(ValidationError):
            Endpoint.model.model_validate(raw)
    kind = Endpoint(None)
    assert "same region" not in (kind.check_name(ctx("e"), {}) or "")
    problem = kind.check_name(ctx("e"), {"kmsKeyName": "projects/p/locations/us/keyRings/r/cryptoKeys/k"})
    assert problem and "resource's region ('europe-west1')" in problem


def test_each_region_gets_its_own_client(clients: Clients) -> None:
    made = []
    for region in ("europe-west1", "us-east1"):
        kind, rid, desired = _place(FeatureOnlineStore, clients, "store", {"optimized": True},
                                    region=region)
        kind.create(rid, desired)
        made.append(kind.get(rid)["name"])
    assert made == [f"projects/{PROJECT}/locations/{r}/featureOnlineStores/store"
                    for r in ("europe-west1", "us-east1")]
    assert clients.get(aiplatform("FeatureOnlineStoreAdminServiceClient", "us-east1")) is not \
        clients.get(aiplatform("FeatureOnlineStoreAdminServiceClient", "europe-west1"))


def test_tensorboards_update_and_hold_data_only_with_runs(clients: Clients) -> None:
    kind, rid, desired = _place(Tensorboard, clients, "experiments", {"description": "runs"})
    rid, live = _created(kind, rid, desired)
    assert kind.holds_data(rid) is False and int(live.get("runCount", 0)) == 0
    changed = {**desired, "description": "all runs"}
    updated = kind.update(rid, changed, compare(kind, changed, kind.normalize(live)), live)
    assert updated["description"] == "all runs"
    kind.delete(rid, force=False)
    assert kind.get(rid) is None


def test_a_feature_view_over_a_table_and_its_store_update_in_place(clients: Clients) -> None:
    store_kind, store, store_desired = _place(FeatureOnlineStore, clients, "ml_features", {
        "bigtable": {"autoScaling": {"minNodeCount": 1, "maxNodeCount": 2}}})
    live = store_kind.create(store, store_desired)
    scaled = {**store_desired, "bigtable": {"autoScaling": {"minNodeCount": 1, "maxNodeCount": 4}}}
    changes = compare(store_kind, scaled, store_kind.normalize(live))
    assert [c.path for c in changes] == ["bigtable.autoScaling.maxNodeCount"]
    assert store_kind.replace_reason(changes) is None
    assert store_kind.update(store, scaled, changes, live)["bigtable"]["autoScaling"]["maxNodeCount"] == 4
    view_kind, view, view_desired = _place(FeatureView, clients, "customers", {
        "featureOnlineStore": store.name,
        "bigQuerySource": {"uri": f"{PROJECT}.features.customers", "entityIdColumns": ["id"]},
        "syncConfig": {"cron": "0 * * * *"}, "runSyncImmediately": True})
    assert view.name == f"{store.name}/featureViews/customers"
    view_live = view_kind.create(view, view_desired)
    assert view_live["bigQuerySource"]["uri"] == f"bq://{PROJECT}.features.customers"
    assert compare(view_kind, view_desired, view_kind.normalize(view_live)) == []
    with pytest.raises(errors.PermanentError, match="FeatureViews"):
        store_kind.delete(store, force=False)
    store_kind.delete(store, force=True)
    assert view_kind.get(view) is None and store_kind.get(store) is None


def test_feature_ids_are_checked_before_any_call() -> None:
    assert "no '-'" in FeatureOnlineStore(None).check_name(ctx("ml-features"), {"optimized": {}})
    assert "did you mean 'ml_features'" in FeatureOnlineStore(None).check_name(ctx("ml-features"), {})
    with pytest.raises(ValidationError, match="10 times"):
        FeatureOnlineStore.model.model_validate({"bigtable": {"autoScaling": {
            "minNodeCount": 1, "maxNodeCount": 11}}})
    with pytest.raises(ValidationError, match="cron"):
        FeatureView.model.model_validate({"featureOnlineStore": "s", "syncConfig": {"cron": "hourly"},
                                          "bigQuerySource": {"uri": "a.b.c", "entityIdColumns": ["x"]}})


def test_a_metadata_store_has_no_update_so_any_change_replaces_it(clients: Clients) -> None:
    kind, rid, desired = _place(MetadataStore, clients, "default", {"description": "lineage"})
    assert kind.labels_path is None and kind.data_bearing
    kind.create(rid, desired)
    assert kind.holds_data(rid)
    reason = kind.replace_reason([FieldChange("description", "change", "lineage", "other")])
    assert reason and "no update method" in reason
    with pytest.raises(errors.PermanentError):
        kind.update(rid, desired, [], {})
    assert "4-128" in (kind.check_name(ctx("ml"), {}) or "")


def test_a_key_the_vertex_agent_cannot_use_yet_is_waited_for(clients: Clients) -> None:
    kms = clients.get(KMS)
    parent = f"projects/{PROJECT}/locations/europe-west1"
    ring = kms.create_key_ring(request={"parent": parent, "key_ring_id": "r", "key_ring": {}}, retry=None)
    key = kms.create_crypto_key(request={"parent": ring.name, "crypto_key_id": "k",
                                         "crypto_key": {"purpose": 1}}, retry=None).name
    kind, rid, desired = _place(Tensorboard, clients, "tb", {"kmsKeyName": key})
    with pytest.raises(errors.EventuallyConsistent) as waiting:
        kind.create(rid, desired)
    assert "Cloud KMS key grant" in waiting.value.waiting_for
    agent = Tensorboard.service_agent
    assert agent is not None and agent.email(clients, PROJECT) == \
        f"service-{project_number(PROJECT)}@gcp-sa-aiplatform.iam.gserviceaccount.com"
