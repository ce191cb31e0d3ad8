"""The compute-layer and Workbench mappings: what they fold, leave out and never carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_terraform
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("storage", "iam", "kms", "serviceusage", "compute",
                                           "resourcemanager", "notebooks")
TF = FIXTURES / "terraform"


def _imported(emulator: Emulator, state: Path, tmp_path: Path) -> dict[str, dict[str, object]]:
    path = TerraformApply(emulator.endpoints).applied(state, tmp_path)
    out = tmp_path / "spec.yaml"
    import_terraform([str(path)], envs=None,
                     options=Options(out=out, stack="imported", endpoints=emulator.endpoints))
    return dict(yaml.safe_load(out.read_text())["resources"])


def test_nats_fold_into_their_router_without_the_api_defaults(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    resources = _imported(emulator, TF / "google_compute_router.tfstate", tmp_path)
    routers = {r["name"]: r for r in resources.values() if r["kind"] == "compute.Router"}
    assert set(routers) == {"wl-router", "wl-edge"}          # no entry of a NAT's own
    nats = {n["name"]: n for n in routers["wl-router"]["nats"]}
    assert set(nats) == {"wl-nat-batch", "wl-nat-nodes"}
    assert nats["wl-nat-nodes"]["minPortsPerVm"] == 128
    assert nats["wl-nat-nodes"]["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}
    assert nats["wl-nat-batch"]["udpIdleTimeoutSec"] == 60
    for nat in nats.values():      # at RouterNat.yaml defaults: left out
        assert not {"icmpIdleTimeoutSec", "tcpEstablishedIdleTimeoutSec",
                    "natIpAllocateOption"} & set(nat)
        assert nat["subnetworks"][0]["name"].startswith("${")     # a reference, not a URL
    assert "nats" not in routers["wl-edge"]


def test_a_customer_supplied_key_never_reaches_spec_or_ledger(emulator: Emulator,
                                                             tmp_path: Path) -> None:
    doc = json.loads((TF / "google_compute_instance.tfstate").read_text())
    secret = "SGVsbG8sIFdvcmxkIGtleSBvZiAzMiBieXRlcyEhISE="
    for resource in doc["resources"]:
        if resource["type"] == "google_compute_instance" and resource["name"] == "tools":
            instance = resource["instances"][0]
            instance["attributes"]["boot_disk"][0]["disk_encryption_key_raw"] = secret
            instance["sensitive_attributes"] = [[
                {"type": "get_attr", "value": "boot_disk"},
                {"type": "index", "value": {"value": 0, "type": "number"}},
                {"type": "get_attr", "value": "disk_encryption_key_raw"}]]
    state = tmp_path / "in" / "vms.tfstate"
    state.parent.mkdir()
    state.write_text(json.dumps(doc))
    resources = _imported(emulator, state, tmp_path)
    out = tmp_path / "spec.yaml"
    text = out.read_text()
    ledger = Stack.load(out, endpoints=emulator.endpoints).ledger.read()
    stored = json.dumps([e.to_json() for e in ledger.entries.values()])
    assert secret not in text and secret not in stored
    assert "customer-supplied key" in text            # said in a note above the entry
    tools = next(r for r in resources.values() if r.get("name") == "ml-tools")
    assert set(tools["bootDisk"]) == {"image", "type"}   # the image's own size left out


def test_workbench_leaves_out_what_the_server_set(emulator: Emulator, tmp_path: Path) -> None:
    resources = _imported(emulator, TF / "google_workbench_instance.tfstate", tmp_path)
    gpu = next(r for r in resources.values() if r.get("name") == "ds-gpu-notebook")
    assert gpu["metadata"] == {"install-nvidia-driver": "True",
                               "notebook-disable-downloads": "true"}
    assert gpu["idleShutdownSeconds"] == 3600 and gpu["tags"] == ["notebooks"]
    assert gpu["serviceAccount"].startswith("${")
    sandbox = next(r for r in resources.values() if r.get("name") == "ds-sandbox")
    # the Compute default account, e2-standard-4, default disks: nothing of them written
    assert set(sandbox) == {"kind", "name", "zone", "disablePublicIp", "waivers"}


def test_a_nat_whose_router_is_not_imported_is_listed_as_left_out(tmp_path: Path) -> None:
    doc = json.loads((TF / "google_compute_router.tfstate").read_text())
    doc["resources"] = [r for r in doc["resources"]
                        if (r["type"], r["name"]) != ("google_compute_router", "nat")]
    state = tmp_path / "nats.tfstate"
    state.write_text(json.dumps(doc))
    out = tmp_path / "spec.yaml"
    result = import_terraform([str(state)], envs=None, options=Options(
        out=out, stack="imported", write_ledger=False))
    left = {s.origin: (s.category, s.reason) for s in result.skipped}
    nats = {origin: why for origin, why in left.items() if "router_nat" in origin}
    assert set(nats) == {"module.net.google_compute_router_nat.nodes (nat:wl-nat-nodes)",
                         "module.net.google_compute_router_nat.batch (nat:wl-nat-batch)"}
    assert all(category == "not importable" and "router wl-router is not in this import" in reason
               for category, reason in nats.values())
    assert "module.net.google_compute_router_nat.nodes" in out.read_text().split("# Not imported")[1]
    routers = [r for r in yaml.safe_load(out.read_text())["resources"].values()
               if r["kind"] == "compute.Router"]
    assert [r["name"] for r in routers] == ["wl-edge"] and "nats" not in routers[0]
