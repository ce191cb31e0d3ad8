"""Every request the kinds send and every answer the emulator gives, in a realistic scenario
(the platform spec's dev environment on a fresh project: reconcile, a no-op rerun, an update,
then destroy), fits Google's discovery documents; gRPC answers use canonical status codes and
put their details in google.rpc.Status form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import DEFAULT_SERVICES
from tests.conftest import start_emulator
from tests.emulator import discovery_check

SPEC = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"
UPDATES = (
    ("labels: {layer: raw, team: ml-platform}", "labels: {layer: raw, team: ml-data}"),
    ("description: Curated feature tables for training and serving",
     "description: Curated features"),
    ("sourceRanges: [10.0.0.0/8]", "sourceRanges: [10.0.0.0/8, 172.16.0.0/12]"),
    ("logConfig: {enable: true, aggregationInterval: INTERVAL_5_SEC, flowSampling: 0.5}",
     "logConfig: {enable: true, aggregationInterval: INTERVAL_5_SEC, flowSampling: 0.25}"),
    ("displayName: Data pipelines", "displayName: Data pipelines (batch)"),
    ("labels: {team: ml-platform}", "labels: {team: ml-platform, tier: gold}"),
    ('members: ["serviceAccount:${pipeline.email}"]',
     'members: ["serviceAccount:${pipeline.email}", "group:Data-Eng@acme.com"]'),
    # the compute layer: cluster labels, pool autoscaling and node labels, VM tags, the NAT
    ("    resourceLabels: {team: ml-platform}\n    deletionProtection:",
     "    resourceLabels: {team: ml-platform, tier: gold}\n    deletionProtection:"),
    ("cpu_pool_max: 2", "cpu_pool_max: 3"),
    ("labels: {pool: cpu}", "labels: {pool: cpu, tier: general}"),
    ("tags: [ml-serving]", "tags: [ml-serving, http]"),
    ("logConfig: {enable: true, filter: ERRORS_ONLY}", "logConfig: {enable: true, filter: ALL}"),
    ("title: Feature drift", "title: Feature drift (max)"),            # a dashboard PATCH
)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The journal of the whole scenario, bodies recorded."""
    updated = tmp_path_factory.mktemp("spec") / "platform.yaml"
    text = SPEC.read_text()
    for old, new in UPDATES:
        assert old in text, old
        text = text.replace(old, new, 1)
    updated.write_text(text)
    with pytest.MonkeyPatch.context() as patch, \
            start_emulator(DEFAULT_SERVICES, enable_in=None) as emu:
        patch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.02")
        # long enough that a new account is still unreadable on its first read, however
        # loaded the machine (0.1 s could pass between the create and that read; at a load
        # average of 16 on two cores, more than 0.5 s did)
        emu.set_delays(service_account=2.0)
        emu.record_bodies()
        _run(emu, SPEC, updated)
        return emu.journal


def _run(emu: Emulator, spec: Path, updated: Path) -> None:
    for path, destroy in ((spec, False), (spec, False), (updated, False), (updated, True)):
        with Stack.load(path, env="dev", endpoints=emu.endpoints) as stack:
            result = stack.apply(stack.plan(destroy=destroy, allow_data_loss=destroy))
            assert result.ok, result.failures


def test_the_scenario_used_every_rest_service(traffic: list[Any]) -> None:
    used = {e.service for e in traffic if e.method != "RPC"}
    # dev reads its alerting tokens from the environment: Secret Manager's traffic is checked
    # in tests/scenarios/test_secrets_never_leak.py
    assert used >= set(discovery_check.DISCOVERY) - {"secretmanager"}
    assert any(e.service == "dashboards" and e.method == "PATCH" for e in traffic)
    assert any(e.request is not None for e in traffic)


def test_every_rest_request_and_response_fits_the_discovery_documents(traffic: list[Any]) -> None:
    problems = [p for entry in traffic for p in discovery_check.check_entry(entry)]
    assert problems == []


def test_grpc_answers_use_canonical_codes_and_status_details(traffic: list[Any]) -> None:
    rpcs = [e for e in traffic if e.method == "RPC"]
    assert rpcs
    codes = {code.name for code in grpc.StatusCode}
    for entry in rpcs:
        if entry.status >= 300 and entry.response is not None:
            assert entry.response["code"] in codes
            assert all("@type" in d for d in entry.response["details"])
    waits = [e for e in rpcs if e.status == 404 and e.path.endswith("/GetServiceAccount")]
    assert waits, "new service accounts were read before they propagated"


def test_the_fresh_project_met_api_enablement_and_propagation(traffic: list[Any]) -> None:
    disabled = [e for e in traffic if e.status == 403 and e.response
                and any(d.get("reason") == "SERVICE_DISABLED"
                        for d in e.response.get("error", {}).get("details", []))]
    assert disabled, "a fresh project answers 403 SERVICE_DISABLED before its APIs are enabled"
    kms_waits = [e for e in traffic if e.status == 403 and e.service in ("storage", "bigquery")
                 and "KMS" in str(e.response)]
    assert kms_waits, "CMEK creates waited for the key grant to propagate"


# --- the checker itself ----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "problem"), [
    ({"name": "n", "madeUp": 1}, "madeUp: not in the schema"),
    ({"name": "n", "mtu": "1460"}, "expected an integer"),
    ({"name": "n", "routingConfig": {"routingMode": "WORLDWIDE"}}, "not one of its enum values"),
    ({"name": "n", "id": 5}, "int64 must be a JSON string"),
    ({"mtu": 1460}, "name: required by compute.networks.insert"),
])
def test_the_checker_catches_what_google_would_refuse(value: dict[str, Any], problem: str) -> None:
    found = discovery_check.check(value, "Network", service="compute",
                                  method="compute.networks.insert", path="Network",
                                  int_enums=False)
    assert any(problem in p for p in found), found


def test_the_checker_finds_methods_by_flat_path() -> None:
    method = discovery_check.method_of(
        "kms", "POST", "/v1/projects/p/locations/us/keyRings/r/cryptoKeys/k:setIamPolicy")
    assert method is not None and method.id.endswith("cryptoKeys.setIamPolicy")
    assert discovery_check.method_of("compute", "POST", "/compute/v1/projects/p/nonsense") is None


def test_the_scenario_updated_the_compute_layer_in_place(traffic: list[Any]) -> None:
    verbs = {e.path.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for e in traffic
             if e.service in ("container", "compute") and e.method in ("POST", "PUT", "PATCH")}
    assert {"setResourceLabels", "setAutoscaling", "setTags"} <= verbs
    assert any(e.method == "PUT" and "/nodePools/" in e.path for e in traffic)   # UpdateNodePool
    assert any(e.method == "PATCH" and "/routers/" in e.path for e in traffic)
