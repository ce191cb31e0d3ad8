"""End to end: a VPC network, a subnetwork with GKE secondary ranges and firewall rules are
reconciled in dependency order against the emulator; a second run changes nothing; the
firewall-open-ports guardrail stops a plan unless waived in writing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator, operations
from mlops_infra.engine.errors import PolicyViolation
from mlops_infra.engine.plan import Action
from mlops_infra.kinds._clients import COMPUTE_SUBNETWORKS
from tests.conftest import start_emulator

SPEC = """\
apiVersion: mlops-infra/v1
stack: net
project: test-project
region: europe-west1
policy:
  allowed_public_ports: [443]
resources:
  vpc:
    kind: compute.Network
    name: ml-vpc
    routingMode: GLOBAL
  nodes:
    kind: compute.Subnetwork
    name: ml-nodes
    network: ${vpc.selfLink}
    ipCidrRange: 10.10.0.0/22
    privateIpGoogleAccess: true
    secondaryIpRanges:
      - {rangeName: pods, ipCidrRange: 10.20.0.0/16}
      - {rangeName: services, ipCidrRange: 10.30.0.0/20}
    logConfig: {aggregationInterval: INTERVAL_30_SEC, flowSampling: 0.5}
  internal:
    kind: compute.Firewall
    name: ml-allow-internal
    network: ${vpc.selfLink}
    allowed:
      - {IPProtocol: tcp}
      - {IPProtocol: icmp}
    sourceRanges: [10.0.0.0/8]
  https:
    kind: compute.Firewall
    name: ml-allow-https
    network: ${vpc.name}
    allowed: [{IPProtocol: tcp, ports: [443]}]
    sourceRanges: [0.0.0.0/0]
    targetTags: [web]
outputs:
  subnet: ${nodes.selfLink}
"""

SSH = """\
  ssh:
    kind: compute.Firewall
    network: ${vpc.selfLink}
    allowed: [{IPProtocol: tcp, ports: [22]}]
    sourceRanges: [0.0.0.0/0]
"""
WAIVER = '    waivers: {firewall-open-ports: "bastion host, tracked in SEC-123"}\n'


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """Storage (for the ledger) and Compute; operations take a little while, as in GCP."""
    emu = start_emulator(("storage", "compute"))
    emu.set_operation_duration(0.1)
    try:
        yield emu
    finally:
        emu.stop()
        operations.reset_operation_duration()


def _with(extra: str) -> str:
    """SPEC with ``extra`` appended to its resources."""
    return SPEC.replace("outputs:\n", extra + "outputs:\n")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _first_post(emulator: Emulator, collection: str) -> int:
    return next(i for i, e in enumerate(emulator.journal)
                if e.method == "POST" and e.path.endswith(f"/{collection}"))


def test_network_stack_reconciles_in_order_then_is_a_noop(emulator, open_stack,
                                                          tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    stack = open_stack(spec)
    plan = stack.plan()
    assert {r.address: r.action for r in plan.resources} == {
        "vpc": Action.CREATE, "nodes": Action.CREATE, "internal": Action.CREATE,
        "https": Action.CREATE}
    result = stack.apply(plan)
    assert result.ok, result.failures
    assert result.outputs == {"subnet": "https://www.googleapis.com/compute/v1/projects/"
                                        "test-project/regions/europe-west1/subnetworks/ml-nodes"}
    # The network's operation is DONE before anything that references it is inserted.
    finished = [o.address for o in result.outcomes]
    assert finished[0] == "vpc"
    network_post = _first_post(emulator, "networks")
    network_polls = [i for i, e in enumerate(emulator.journal)
                     if "/global/operations/" in e.path and i > network_post]
    first_dependent = min(_first_post(emulator, "subnetworks"), _first_post(emulator, "firewalls"))
    assert network_polls and network_polls[0] < first_dependent

    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    sub = clients.get(COMPUTE_SUBNETWORKS).get(project="test-project", region="europe-west1",
                                            subnetwork="ml-nodes", retry=None)
    assert [r.range_name for r in sub.secondary_ip_ranges] == ["pods", "services"]
    assert sub.private_ip_google_access is True and sub.log_config.enable is True

    emulator.clear_journal()
    again = open_stack(spec).plan()
    assert not again.has_changes
    assert emulator.mutating_requests() == []


def test_expanding_a_range_and_tightening_a_rule_update_in_place(emulator, open_stack,
                                                                  tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    assert open_stack(spec).apply(open_stack(spec).plan()).ok
    spec.write_text(SPEC.replace("10.10.0.0/22", "10.10.0.0/20")
                    .replace("sourceRanges: [10.0.0.0/8]", "sourceRanges: [10.10.0.0/20]"))
    stack = open_stack(spec)
    plan = stack.plan()
    actions = {r.address: r.action for r in plan.resources}
    assert actions["nodes"] is Action.UPDATE and actions["internal"] is Action.UPDATE
    assert actions["vpc"] is Action.NOOP
    assert stack.apply(plan).ok
    assert not open_stack(spec).plan().has_changes


def test_shrinking_a_range_is_a_replace(emulator, open_stack, tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    assert open_stack(spec).apply(open_stack(spec).plan()).ok
    spec.write_text(SPEC.replace("10.10.0.0/22", "10.10.0.0/24"))
    nodes = next(r for r in open_stack(spec).plan().resources if r.address == "nodes")
    assert nodes.action is Action.REPLACE and "ipCidrRange" in (nodes.reason or "")


def test_removing_the_stack_deletes_children_before_the_network(emulator, open_stack,
                                                                tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    assert open_stack(spec).apply(open_stack(spec).plan()).ok
    header = SPEC[:SPEC.index("resources:")]
    spec.write_text(header + "resources: {}\n")
    stack = open_stack(spec)
    plan = stack.plan()
    assert {r.action for r in plan.resources} == {Action.DELETE}
    result = stack.apply(plan)
    assert result.ok, result.failures
    state = emulator.state("compute")["projects"]["test-project"]
    assert state["networks"] == {} and state["firewalls"] == {}
    assert all(not subs for subs in state["subnetworks"].values())


def test_public_ssh_stops_the_plan_before_any_request(emulator, open_stack,
                                                      tmp_path: Path) -> None:
    text = _with(SSH)
    spec = _write(tmp_path, text)
    line = text.splitlines().index("  ssh:") + 5       # 1-based line of its sourceRanges
    emulator.clear_journal()
    with pytest.raises(PolicyViolation, match=rf"spec.yaml:{line}: resources\.ssh\.sourceRanges:"
                                              r" guardrail 'firewall-open-ports'.*tcp:22"):
        open_stack(spec).plan()
    assert emulator.journal == []


def test_a_written_waiver_lets_the_plan_through(emulator, open_stack, tmp_path: Path) -> None:
    spec = _write(tmp_path, _with(SSH + WAIVER))
    plan = open_stack(spec).plan()
    ssh = next(r for r in plan.resources if r.address == "ssh")
    assert ssh.action is Action.CREATE
    assert ssh.waivers == {"firewall-open-ports": "bastion host, tracked in SEC-123"}
