"""`import live` of the Vertex AI and Workbench kinds: what Terraform and this tool's own
reconcile left live comes back as a spec whose first plan is a no-op, with references
rebuilt, Google's defaults and server keys left out, server-named resources found again
through the ledger, the regions' zones listed at once, and the default metadata store kept."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.api import Stack, validate
from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_live
from mlops_infra.importers.run import ImportResult
from tests.conftest import PROJECT
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("aiplatform", "notebooks", "bigquery", "compute", "iam",
                                           "kms", "storage", "serviceusage", "resourcemanager")
TF = FIXTURES / "terraform"
ML_KINDS = {"vertex.Endpoint", "vertex.Tensorboard", "vertex.FeatureOnlineStore",
            "vertex.FeatureView", "vertex.MetadataStore", "workbench.Instance"}
WANTED = ["vertex", "workbench", "bigquery", "compute", "iam", "kms"]


def _import(emulator: Emulator, out: Path, *, stack: str = "live",
            regions: tuple[str, ...] = ("us-central1", "us"),
            kinds: list[str] | None = None) -> tuple[ImportResult, dict[str, Any]]:
    result = import_live(PROJECT, kinds_wanted=kinds or WANTED, regions=list(regions), env=None,
                         options=Options(out=out, stack=stack, endpoints=emulator.endpoints))
    return result, dict(yaml.safe_load(out.read_text())["resources"])


def _no_op(emulator: Emulator, result: ImportResult, out: Path) -> None:
    assert result.clean, [(c.address, [x.path for x in c.changes])
                          for c in result.checks[None].differences]
    validate(out)
    plan = Stack.load(out, endpoints=emulator.endpoints).plan()
    assert [(c.address, [x.path for x in c.changes]) for c in plan.resources if c.mutates] == []


def _by_kind(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {a: r for a, r in resources.items() if r["kind"] == kind}


def _ref(resources: dict[str, Any], kind: str, name: str, output: str) -> str:
    """``${address.output}`` of the imported ``kind`` named ``name``."""
    address = next(a for a, r in resources.items() if r["kind"] == kind and r.get("name", a) == name)
    return f"${{{address}.{output}}}"


def _ledger(emulator: Emulator, out: Path) -> dict[str, Any]:
    state = Stack.load(out, endpoints=emulator.endpoints).ledger.read()
    return {e.address: e for e in state.entries.values()}


def test_terraform_applied_vertex_and_workbench_come_back_as_a_no_op(emulator: Emulator,
                                                                     tmp_path: Path) -> None:
    api = TerraformApply(emulator.endpoints)
    applied = api.apply(TF / "google_vertex_ai.tfstate")
    api.apply(TF / "google_workbench_instance.tfstate")
    out = tmp_path / "live.yaml"
    result, resources = _import(emulator, out)
    _no_op(emulator, result, out)
    assert {r["kind"] for r in resources.values()} >= ML_KINDS

    # references rebuilt: the view's store and table, the notebook's network, subnet, account
    view = next(iter(_by_kind(resources, "vertex.FeatureView").values()))
    store = next(iter(_by_kind(resources, "vertex.FeatureOnlineStore")))
    table = next(iter(_by_kind(resources, "bigquery.Table")))
    assert view["featureOnlineStore"] == f"${{{store}.id}}"
    assert view["bigQuerySource"] == {"uri": f"${{{table}.ref}}", "entityIdColumns": ["customer_id"]}
    notebooks = {r.get("name", a): r for a, r in _by_kind(resources, "workbench.Instance").items()}
    gpu = notebooks["ds-gpu-notebook"]
    assert gpu["network"].startswith("${") and gpu["subnetwork"].startswith("${")
    assert gpu["serviceAccount"].startswith("${")
    # the server's metadata keys and tags left out, the user's kept
    assert gpu["metadata"] == {"install-nvidia-driver": "True", "notebook-disable-downloads": "true"}
    assert gpu["tags"] == ["notebooks"] and gpu["idleShutdownSeconds"] == 3600
    assert gpu["bootDisk"] == {"diskSizeGb": 200, "diskType": "PD_SSD"}
    # the Compute default account, e2-standard-4, the default network and disks: not written
    assert set(notebooks["ds-sandbox"]) == {"kind", "zone", "disablePublicIp", "waivers"}

    # a store at Google's cpu target default is left out; the one set (60) is kept
    store_fields = resources[store]
    assert store_fields["bigtable"] == {"autoScaling": {"minNodeCount": 1, "maxNodeCount": 3,
                                                        "cpuUtilizationTarget": 60}}
    # server-named: the Tensorboard's full name goes to the ledger, not to the spec
    board_address, board = next(iter(_by_kind(resources, "vertex.Tensorboard").items()))
    tf_name = next(i["attributes"]["id"] for r in applied["resources"]
                   if r["type"] == "google_vertex_ai_tensorboard" for i in r["instances"])
    assert _ledger(emulator, out)[board_address].id == tf_name
    assert tf_name.rsplit("/", 1)[1] not in json.dumps(board)
    assert board["displayName"] == "ML experiments" and board_address == "ml-experiments"
    endpoint = next(iter(_by_kind(resources, "vertex.Endpoint").values()))
    assert endpoint["endpointId"] == "481516234"          # an id the user chose stays in the spec
    # the default metadata store Vertex AI made is imported, with a note, never skipped
    stores = _by_kind(resources, "vertex.MetadataStore")
    assert [r.get("name", a) for a, r in stores.items()] == ["default"]
    assert "Vertex AI made it" in out.read_text()
    assert not [s for s in result.skipped if s.what in ML_KINDS]


RECONCILED = """
apiVersion: mlops-infra/v1
stack: ml
project: test-project
region: us-central1
resources:
  ml-keys: {kind: kms.KeyRing, name: ml-keys, location: us-central1}
  ml-key: {kind: kms.CryptoKey, name: ml, keyRing: "${ml-keys.id}"}
  scorer:
    kind: iam.ServiceAccount
    name: wb-scorer
    displayName: Scoring notebooks
  vpc: {kind: compute.Network, name: ml-vpc}
  subnet:
    kind: compute.Subnetwork
    name: ml-subnet
    network: ${vpc.selfLink}
    ipCidrRange: 10.60.0.0/24
  private-endpoint:
    kind: vertex.Endpoint
    endpointId: private-scoring
    displayName: Private scoring
    privateServiceConnectConfig: {enablePrivateServiceConnect: true, projectAllowlist: [test-project]}
  served:
    kind: vertex.Endpoint
    displayName: Served models
    description: server-named
    kmsKeyName: ${ml-key.id}
    labels: {team: ml}
  runs:
    kind: vertex.Tensorboard
    displayName: Nightly runs
    kmsKeyName: ${ml-key.id}
  fast:
    kind: vertex.FeatureOnlineStore
    name: fast_features
    optimized: true
    labels: {tier: online}
  scaled:
    kind: vertex.FeatureOnlineStore
    name: scaled_features
    bigtable: {autoScaling: {minNodeCount: 2, maxNodeCount: 4}}
    kmsKeyName: ${ml-key.id}
  ds: {kind: bigquery.Dataset, name: ml_features, location: US}
  events:
    kind: bigquery.Table
    name: events
    dataset: ${ds.name}
    schema: [{name: user_id, type: STRING, mode: REQUIRED}, {name: clicks, type: INTEGER}]
  clicks:
    kind: vertex.FeatureView
    name: clicks
    featureOnlineStore: ${fast.id}
    bigQuerySource: {uri: "${events.ref}", entityIdColumns: [user_id]}
    syncConfig: {continuous: true}
    serviceAgentType: SERVICE_AGENT_TYPE_FEATURE_VIEW
    labels: {team: ml}
  lineage:
    kind: vertex.MetadataStore
    name: team-lineage
    description: Lineage of the scoring team
    kmsKeyName: ${ml-key.id}
  scoring-notebook:
    kind: workbench.Instance
    zone: us-central1-c
    machineType: n1-standard-4
    gpu: {type: NVIDIA_TESLA_T4, coreCount: 2}
    installGpuDriver: true
    bootDisk: {diskSizeGb: 250}
    dataDisk: {diskSizeGb: 300, diskType: PD_SSD}
    network: ${vpc.selfLink}
    subnetwork: ${subnet.selfLink}
    serviceAccount: ${scorer.email}
    instanceOwners: [carol@example.com]
    idleShutdownSeconds: 1800
    metadata: {notebook-disable-terminal: "true"}
    labels: {team: scoring}
    tags: [scoring]
    enableSecureBoot: true
"""


def test_what_reconcile_made_comes_back_as_a_no_op(emulator: Emulator, tmp_path: Path) -> None:
    spec = tmp_path / "ml.yaml"
    spec.write_text(RECONCILED)
    with Stack.load(spec, endpoints=emulator.endpoints) as stack:
        _, applied = stack.reconcile()
        assert applied is not None and applied.ok, applied.failures
        made = {e.address: e.id for e in stack.ledger.read().entries.values()}
    # a project whose resources exist but whose ledger is gone: the import writes it anew
    bucket, blob = stack.ledger.read().location.removeprefix("gs://").split("/", 1)
    Clients(project=PROJECT, endpoints=emulator.endpoints).storage().bucket(bucket).blob(blob).delete()
    out = tmp_path / "imported.yaml"
    result, resources = _import(emulator, out, stack="ml")
    _no_op(emulator, result, out)
    assert {r["kind"] for r in resources.values()} >= ML_KINDS
    by_name = {r.get("name", a): r for a, r in resources.items()}

    endpoints = _by_kind(resources, "vertex.Endpoint")
    private = by_name["private-scoring"] if "private-scoring" in by_name else next(
        r for r in endpoints.values() if r.get("endpointId") == "private-scoring")
    assert private["privateServiceConnectConfig"] == {"enablePrivateServiceConnect": True,
                                                      "projectAllowlist": ["test-project"]}
    served_address, served = next((a, r) for a, r in endpoints.items() if "endpointId" not in r)
    key = _ref(resources, "kms.CryptoKey", "ml", "id")
    assert served["kmsKeyName"] == key and served["labels"] == {"team": "ml"}
    assert _ledger(emulator, out)[served_address].id == made["served"]   # found by its full name
    board_address = next(iter(_by_kind(resources, "vertex.Tensorboard")))
    assert _ledger(emulator, out)[board_address].id == made["runs"]

    assert by_name["fast_features"]["optimized"] is True
    assert by_name["scaled_features"]["bigtable"] == {"autoScaling": {"minNodeCount": 2,
                                                                      "maxNodeCount": 4}}
    clicks = by_name["clicks"]
    assert clicks["featureOnlineStore"] == _ref(resources, "vertex.FeatureOnlineStore",
                                                "fast_features", "id")
    assert clicks["bigQuerySource"]["uri"] == _ref(resources, "bigquery.Table", "events", "ref")
    assert clicks["syncConfig"] == {"continuous": True}
    assert clicks["serviceAgentType"] == "SERVICE_AGENT_TYPE_FEATURE_VIEW"
    assert by_name["team-lineage"] == {"kind": "vertex.MetadataStore", "description":
                                       "Lineage of the scoring team", "kmsKeyName": key}

    notebook = by_name["scoring-notebook"]
    assert {k: notebook[k] for k in ("machineType", "gpu", "installGpuDriver", "bootDisk",
                                     "idleShutdownSeconds", "metadata", "tags", "enableSecureBoot",
                                     "labels")} == {
        "machineType": "n1-standard-4", "gpu": {"type": "NVIDIA_TESLA_T4", "coreCount": 2},
        "installGpuDriver": True, "bootDisk": {"diskSizeGb": 250}, "idleShutdownSeconds": 1800,
        "metadata": {"notebook-disable-terminal": "true"}, "tags": ["scoring"],
        "enableSecureBoot": True, "labels": {"team": "scoring"}}
    assert notebook["dataDisk"] == {"diskSizeGb": 300}          # its type is input only
    assert (notebook["network"], notebook["subnetwork"], notebook["serviceAccount"]) == (
        _ref(resources, "compute.Network", "ml-vpc", "selfLink"),
        _ref(resources, "compute.Subnetwork", "ml-subnet", "selfLink"),
        _ref(resources, "iam.ServiceAccount", "wb-scorer", "email"))
    assert "instanceOwners" not in notebook and "kmsKey" not in notebook
    assert "input only" in out.read_text()                      # said in a note
    assert not any(k.startswith("mlops-infra") for r in resources.values()
                   for k in (r.get("labels") or {}))


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):     # noqa: S310 (the emulator, loopback)
        pass


def _zonal_state(tmp_path: Path) -> Path:
    """Terraform-made Workbench instances in three zones and Tensorboards in two regions."""
    def notebook(name: str, zone: str) -> dict[str, Any]:
        return {"type": "google_workbench_instance", "name": name, "mode": "managed",
                "instances": [{"attributes": {
                    "name": name, "location": zone, "project": PROJECT, "labels": {},
                    "gce_setup": [{"machine_type": "e2-standard-4", "disable_public_ip": True}]}}]}

    def board(name: str, region: str) -> dict[str, Any]:
        return {"type": "google_vertex_ai_tensorboard", "name": name, "mode": "managed",
                "instances": [{"attributes": {"display_name": name, "region": region,
                                              "project": PROJECT}}]}

    path = tmp_path / "zonal.tfstate"
    path.write_text(json.dumps({"version": 4, "resources": [
        notebook("eu-notebook", "europe-west1-b"), notebook("eu-notebook-2", "europe-west1-d"),
        notebook("us-notebook", "us-east1-c"), board("eu-board", "europe-west1"),
        board("us-board", "us-east1")]}))
    return path


def test_only_the_regions_asked_for_and_their_zones_are_read(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    TerraformApply(emulator.endpoints).apply(_zonal_state(tmp_path))
    emulator.clear_journal()
    out = tmp_path / "eu.yaml"
    result, resources = _import(emulator, out, regions=("europe-west1", "eu"),
                                kinds=["vertex", "workbench"])
    assert sorted(resources) == ["eu-board", "eu-notebook", "eu-notebook-2"]
    assert {r["zone"] for r in _by_kind(resources, "workbench.Instance").values()} == {
        "europe-west1-b", "europe-west1-d"}
    lists = [e.path for e in emulator.journal if e.service == "notebooks" and e.method == "GET"
             and e.path.endswith("/instances")]
    assert lists[0].endswith("/locations/-/instances")       # one listing for every zone
    assert not [p for p in lists if "/locations/us-" in p]    # (the check then plans per zone)
    vertex_locations = {e.path.split("/locations/")[1].split("/")[0] for e in emulator.journal
                        if e.service == "aiplatform" and "/locations/" in e.path}
    assert vertex_locations == {"europe-west1"}                   # 'eu' is no Vertex AI region
    _no_op(emulator, result, out)


def test_a_feature_view_this_tool_cannot_hold_is_left_out_with_its_reason(
        emulator: Emulator, tmp_path: Path) -> None:
    base = f"{emulator.endpoints['aiplatform']}/us-central1-aiplatform/v1/projects/{PROJECT}/locations/us-central1"
    _post(f"{base}/featureOnlineStores?featureOnlineStoreId=registry", {"optimized": {}})
    _post(f"{base}/featureOnlineStores/registry/featureViews?featureViewId=from_registry",
          {"featureRegistrySource": {"featureGroups": [{"featureGroupId": "g", "featureIds": ["f"]}]}})
    out = tmp_path / "views.yaml"
    result, resources = _import(emulator, out, kinds=["vertex"])
    skipped = {s.origin: s for s in result.skipped}
    view = f"projects/{PROJECT}/locations/us-central1/featureOnlineStores/registry/featureViews/from_registry"
    assert skipped[view].category == "not importable" and "featureRegistrySource" in skipped[view].reason
    assert [r["kind"] for r in resources.values()] == ["vertex.FeatureOnlineStore"]
    assert view not in {e.id for e in _ledger(emulator, out).values()}
    _no_op(emulator, result, out)


def test_an_emulator_without_the_services_lists_them_as_unreadable(tmp_path: Path) -> None:
    from tests.conftest import start_emulator

    emu = start_emulator(("storage", "resourcemanager"))
    try:
        out = tmp_path / "none.yaml"
        result = import_live(PROJECT, kinds_wanted=["vertex", "workbench"], regions=["us-central1"],
                             env=None, options=Options(out=out, stack="none", endpoints=emu.endpoints,
                                                       ledger_bucket="acme-state", write_ledger=False))
        unreadable = {s.what for s in result.imports[None].skipped if s.category == "unreadable"}
        assert unreadable == ML_KINDS
    finally:
        emu.stop()
