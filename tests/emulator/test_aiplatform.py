"""The Vertex AI emulator through the real aiplatform_v1 REST clients: regional endpoints,
project numbers in names, server-generated ids, operations polled at /ui/..., the collections'
rules, CMEK checks, and every route and answer fitting the aiplatform v1 discovery document."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.projects import project_number
from mlops_infra.emulator.services import build_service
from mlops_infra.kinds._clients import KMS, aiplatform
from tests.emulator import discovery_check
from tests.emulator.support import PROJECT, raw

pytestmark = pytest.mark.emulator_services("aiplatform", "kms")
NUMBER = project_number(PROJECT)
EU = f"projects/{PROJECT}/locations/europe-west4"


def _client(emu: Emulator, service: str, region: str = "europe-west4") -> Any:
    return Clients(project=PROJECT, endpoints=emu.endpoints).get(aiplatform(service, region))


def _done(client: Any, operation: Any) -> Any:
    """Poll the operation as the kinds do (no result(): it would parse the response)."""
    for _ in range(500):
        found = client.transport.operations_client.get_operation(operation.operation.name,
                                                                 retry=None, timeout=5)
        if found.done:
            return found
        time.sleep(0.01)
    raise AssertionError("operation never done")


def test_each_region_has_its_endpoint_and_a_mismatched_location_is_refused(emulator: Emulator):
    east = _client(emulator, "EndpointServiceClient", "us-east1")
    with pytest.raises(gexc.BadRequest, match="doesn't match the endpoint. The valid location "
                                               "ID is `us-east1`"):
        list(east.list_endpoints(request={"parent": EU}, retry=None))
    response = raw(emulator, "aiplatform", "GET", f"/v1/{EU}/endpoints")   # the global host
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["fieldViolations"][0]["field"] == "parent"
    assert "`us-central1`" in response.json()["error"]["message"]
    assert list(_client(emulator, "EndpointServiceClient").list_endpoints(
        request={"parent": EU}, retry=None)) == []


def test_names_carry_the_project_number_and_ids_are_the_servers(emulator: Emulator):
    client = _client(emulator, "EndpointServiceClient")
    operation = client.create_endpoint(request={"parent": EU, "endpoint": {"display_name": "x"}},
                                       retry=None)
    name = operation.operation.name.split("/operations/")[0]
    assert re.fullmatch(rf"projects/{NUMBER}/locations/europe-west4/endpoints/\d{{19}}", name)
    assert _done(client, operation).response.type_url.endswith("aiplatform.v1.Endpoint")
    by_id = client.get_endpoint(request={"name": name.replace(NUMBER, PROJECT)}, retry=None)
    assert by_id.name == name
    chosen = client.create_endpoint(request={"parent": EU, "endpoint": {"display_name": "y"},
                                             "endpoint_id": "scoring"}, retry=None)
    assert chosen.operation.name.startswith(f"projects/{NUMBER}/locations/europe-west4/endpoints/scoring/")
    with pytest.raises(gexc.Conflict):
        client.create_endpoint(request={"parent": EU, "endpoint": {"display_name": "y"},
                                        "endpoint_id": "scoring"}, retry=None)


def test_operations_are_polled_at_ui_and_last_the_configured_time(emulator: Emulator):
    emulator.set_delays(operations={"aiplatform": 0.3})
    client = _client(emulator, "TensorboardServiceClient")
    operation = client.create_tensorboard(request={"parent": EU, "tensorboard": {"display_name": "t"}},
                                          retry=None)
    assert not operation.operation.done
    name = operation.operation.name.split("/operations/")[0]
    assert client.get_tensorboard(request={"name": name}, retry=None).display_name == "t"
    _done(client, operation)
    polls = [e.path for e in emulator.journal if e.path.startswith("/ui/")]
    assert polls and all("/operations/" in p for p in polls)


def test_collections_keep_their_rules(emulator: Emulator):
    stores = _client(emulator, "FeatureOnlineStoreAdminServiceClient")
    bad_scaling = {"bigtable": {"auto_scaling": {"min_node_count": 1, "max_node_count": 20}}}
    with pytest.raises(gexc.BadRequest, match="10 times"):
        stores.create_feature_online_store(request={"parent": EU, "feature_online_store_id": "s",
                                                    "feature_online_store": bad_scaling}, retry=None)
    with pytest.raises(gexc.BadRequest, match="featureOnlineStoreId"):
        stores.create_feature_online_store(request={"parent": EU, "feature_online_store_id": "my-store",
                                                    "feature_online_store": {"optimized": {}}}, retry=None)
    _done(stores, stores.create_feature_online_store(request={
        "parent": EU, "feature_online_store_id": "s", "feature_online_store": {"optimized": {}}},
        retry=None))
    view = {"big_query_source": {"uri": "bq://test-project.ds.t", "entity_id_columns": ["id"]},
            "service_agent_type": 2}
    _done(stores, stores.create_feature_view(request={
        "parent": f"{EU}/featureOnlineStores/s", "feature_view_id": "v", "feature_view": view},
        retry=None))
    found = stores.get_feature_view(request={"name": f"{EU}/featureOnlineStores/s/featureViews/v"},
                                    retry=None)
    assert found.service_account_email.endswith(".iam.gserviceaccount.com")
    with pytest.raises(gexc.BadRequest, match="FeatureViews"):
        stores.delete_feature_online_store(request={"name": f"{EU}/featureOnlineStores/s"}, retry=None)
    with pytest.raises(gexc.NotFound):
        stores.create_feature_view(request={"parent": f"{EU}/featureOnlineStores/nope",
                                            "feature_view_id": "v", "feature_view": view}, retry=None)
    endpoints = _client(emulator, "EndpointServiceClient")
    with pytest.raises(gexc.BadRequest, match="project number"):
        endpoints.create_endpoint(request={"parent": EU, "endpoint": {
            "display_name": "x", "network": f"projects/{PROJECT}/global/networks/vpc"}}, retry=None)
    _done(endpoints, endpoints.create_endpoint(request={
        "parent": EU, "endpoint": {"display_name": "x"}, "endpoint_id": "e1"}, retry=None))
    with pytest.raises(gexc.BadRequest, match="not supported"):
        endpoints.update_endpoint(request={"endpoint": {"name": f"{EU}/endpoints/e1"},
                                           "update_mask": {"paths": ["encryption_spec"]}}, retry=None)


def test_metadata_stores_have_no_update_method(emulator: Emulator):
    response = raw(emulator, "aiplatform", "PATCH",
                   f"/europe-west4-aiplatform/v1/{EU}/metadataStores/default", json={})
    assert response.status_code == 404


def test_a_cmek_key_must_be_in_region_and_usable_by_the_vertex_agent(emulator: Emulator):
    kms = Clients(project=PROJECT, endpoints=emulator.endpoints).get(KMS)
    ring = kms.create_key_ring(request={"parent": EU, "key_ring_id": "r", "key_ring": {}}, retry=None)
    key = kms.create_crypto_key(request={"parent": ring.name, "crypto_key_id": "k",
                                         "crypto_key": {"purpose": 1}}, retry=None).name
    client = _client(emulator, "MetadataServiceClient")
    store = {"encryption_spec": {"kms_key_name": key}}
    with pytest.raises(gexc.BadRequest, match=f"service-{NUMBER}@gcp-sa-aiplatform"):
        client.create_metadata_store(request={"parent": EU, "metadata_store": store,
                                              "metadata_store_id": "default"}, retry=None)
    with pytest.raises(gexc.BadRequest, match="same region"):
        _client(emulator, "MetadataServiceClient", "us-east1").create_metadata_store(request={
            "parent": f"projects/{PROJECT}/locations/us-east1", "metadata_store": store,
            "metadata_store_id": "default"}, retry=None)
    member = f"serviceAccount:service-{NUMBER}@gcp-sa-aiplatform.iam.gserviceaccount.com"
    kms.set_iam_policy(request={"resource": key, "policy": {"bindings": [
        {"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "members": [member]}]}}, retry=None)
    emulator.set_iam_propagation_delay(0)
    _done(client, client.create_metadata_store(request={"parent": EU, "metadata_store": store,
                                                        "metadata_store_id": "default"}, retry=None))


# --- fidelity ---------------------------------------------------------------------------------

def test_every_route_is_in_the_discovery_document_or_is_the_ui_alias():
    routes = build_service("aiplatform").route_table
    assert len(routes) >= 30
    missing = [(r.method, r.template) for r in routes
               if discovery_check.method_of("aiplatform", r.method,
                                            re.sub(r"\{[^}]+\}", "x", r.template)) is None]
    assert missing == []
    assert discovery_check.method_of("aiplatform", "PATCH", f"/v1/{EU}/metadataStores/x") is None


def test_answers_fit_the_documented_schemas(emulator: Emulator):
    emulator.record_bodies()
    stores = _client(emulator, "FeatureOnlineStoreAdminServiceClient")
    bigtable = {"bigtable": {"auto_scaling": {"min_node_count": 1, "max_node_count": 2}},
                "labels": {"a": "b"}}
    _done(stores, stores.create_feature_online_store(request={
        "parent": EU, "feature_online_store_id": "s", "feature_online_store": bigtable}, retry=None))
    _done(stores, stores.update_feature_online_store(request={
        "feature_online_store": {"name": f"{EU}/featureOnlineStores/s", "labels": {"a": "c"}},
        "update_mask": {"paths": ["labels"]}}, retry=None))
    list(stores.list_feature_online_stores(request={"parent": EU}, retry=None))
    tensorboards = _client(emulator, "TensorboardServiceClient")
    _done(tensorboards, tensorboards.create_tensorboard(request={
        "parent": EU, "tensorboard": {"display_name": "t"}}, retry=None))
    list(tensorboards.list_tensorboards(request={"parent": EU}, retry=None))
    assert len(emulator.journal) > 5
    problems = [p for e in emulator.journal for p in discovery_check.check_entry(e)]
    assert problems == []
