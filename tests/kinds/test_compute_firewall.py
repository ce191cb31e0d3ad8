"""compute.Firewall: spec validation, the firewall-open-ports guardrail, and create / full
update / delete over the real compute client against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.engine import errors
from mlops_infra.engine.diff import diff
from mlops_infra.kinds.compute.firewall import Firewall
from mlops_infra.kinds.compute.network import Network
from tests.kinds.kinds_testlib import PROJECT, ctx, fields, mismatches

ROOT = "https://www.googleapis.com/compute/v1/"
SSH = {"network": "vpc", "allowed": [{"IPProtocol": "TCP", "ports": [22]}],
       "sourceRanges": ["0.0.0.0/0"]}


pytestmark = pytest.mark.emulator_services("compute")


@pytest.fixture
def kind(clients: Clients) -> Firewall:
    network = Network(clients)
    network.create(network.identify(ctx("vpc"), {}), network.desired(ctx("vpc"), {}))
    return Firewall(clients)


def build(name: str, raw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    kind = Firewall(None)
    f = fields(Firewall, raw)
    return kind.identify(ctx(name), f), kind.desired(ctx(name), f)


def violations(raw: dict[str, Any], policy: dict[str, Any] | None = None) -> list[Any]:
    _, desired = build("fw", raw)
    return Firewall(None).check_policy(desired, policy or {})


# --- shape --------------------------------------------------------------------------------

def test_desired_canonicalises_network_protocol_and_ports() -> None:
    rid, desired = build("ssh", SSH)
    assert rid.name == f"projects/{PROJECT}/global/firewalls/ssh"
    assert desired == {"name": "ssh", "network": f"{ROOT}projects/{PROJECT}/global/networks/vpc",
                       "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
                       "sourceRanges": ["0.0.0.0/0"]}


@pytest.mark.parametrize("raw", [
    {"network": "vpc"},
    {"network": "vpc", "allowed": [{"IPProtocol": "tcp"}], "denied": [{"IPProtocol": "udp"}]},
    {"network": "vpc", "allowed": [{"IPProtocol": "tcp"}], "priority": 70000},
    {"network": "vpc", "allowed": [{"IPProtocol": "tcp"}], "direction": "SIDEWAYS"},
    {"network": "vpc", "allowed": [{"protocol": "tcp"}]},
])
def test_invalid_specs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Firewall.model.model_validate(raw)


def test_network_and_direction_changes_replace() -> None:
    kind = Firewall(None)
    assert kind.replace_reason(diff({"direction": "EGRESS"}, {"direction": "INGRESS"}))
    assert kind.replace_reason(diff({"priority": 10}, {"priority": 1000})) is None


# --- guardrail: firewall-open-ports -----------------------------------------------------------

def test_public_ssh_is_a_violation_on_source_ranges() -> None:
    [found] = violations(SSH)
    assert (found.rule, found.path) == ("firewall-open-ports", "sourceRanges")
    assert "tcp:22" in found.message


@pytest.mark.parametrize("raw", [
    {**SSH, "sourceRanges": ["10.0.0.0/8"]},
    {**SSH, "direction": "EGRESS", "sourceRanges": None, "destinationRanges": ["0.0.0.0/0"]},
    {**SSH, "denied": SSH["allowed"], "allowed": None},
    {**SSH, "allowed": [{"IPProtocol": "icmp"}]},
    {**SSH, "sourceRanges": None, "sourceTags": ["bastion"]},
])
def test_rules_that_open_nothing_to_the_internet_pass(raw: dict[str, Any]) -> None:
    assert violations({k: v for k, v in raw.items() if v is not None}) == []


@pytest.mark.parametrize(("raw", "policy", "opened"), [
    ({**SSH, "sourceRanges": ["::/0"]}, {}, "tcp:22"),
    ({"network": "vpc", "allowed": [{"IPProtocol": "tcp", "ports": [22]}]}, {}, "tcp:22"),
    ({**SSH, "allowed": [{"IPProtocol": "tcp"}]}, {"allowed_public_ports": [22]},
     "all tcp ports"),
    ({**SSH, "allowed": [{"IPProtocol": "all"}]}, {}, "all protocols"),
    ({**SSH, "allowed": [{"IPProtocol": "tcp", "ports": ["8000-8090"]}]},
     {"allowed_public_ports": ["8000-8080"]}, "tcp:8000-8090"),
])
def test_open_ports_outside_the_policy_are_violations(raw: dict[str, Any], policy: dict[str, Any],
                                                      opened: str) -> None:
    [found] = violations(raw, policy)
    assert opened in found.message


@pytest.mark.parametrize("allowed", [[22], ["22"], ["20-30"], [21, 22, "23-90"], ["0-65535"]])
def test_ports_listed_in_the_policy_pass(allowed: list[Any]) -> None:
    assert violations(SSH, {"allowed_public_ports": allowed}) == []


def test_ranges_in_the_policy_merge() -> None:
    raw = {**SSH, "allowed": [{"IPProtocol": "tcp", "ports": ["80-90"]}]}
    assert violations(raw, {"allowed_public_ports": ["80-84", 85, "86-90"]}) == []


@pytest.mark.parametrize("bad", ["22", ["http"], ["90-80"], [70000], [True]])
def test_a_malformed_policy_is_a_user_error(bad: Any) -> None:
    with pytest.raises(errors.UserError, match="allowed_public_ports"):
        violations(SSH, {"allowed_public_ports": bad})


# --- over the wire --------------------------------------------------------------------------

def test_create_waits_and_matches_the_spec(emulator: Emulator, kind: Firewall) -> None:
    emulator.set_operation_duration(0.3)
    rid, desired = build("web", {"network": "vpc", "priority": 900, "targetTags": ["web"],
                                 "allowed": [{"IPProtocol": "tcp", "ports": [80, 443]}],
                                 "sourceRanges": ["10.0.0.0/8"],
                                 "logConfig": {"enable": True}})
    live = kind.create(rid, desired)
    assert mismatches(desired, kind.normalize(live)) == []
    assert any("/global/operations/" in e.path for e in emulator.journal)
    assert kind.list(rid.scope)[rid.name]["direction"] == "INGRESS"
    assert set(kind.outputs_of(rid, live)) == {"name", "selfLink", "id"}


def test_update_replaces_the_whole_rule(kind: Firewall) -> None:
    rid, applied = build("fw", {"network": "vpc", "targetTags": ["web"], "priority": 10,
                                "allowed": [{"IPProtocol": "tcp", "ports": [22]}],
                                "sourceRanges": ["10.0.0.0/8"]})
    live = kind.create(rid, applied)
    _, desired = build("fw", {"network": "vpc", "denied": [{"IPProtocol": "udp"}],
                              "sourceTags": ["batch"]})
    changes = diff(desired, kind.normalize(live), applied)
    assert kind.replace_reason(changes) is None
    after = kind.update(rid, desired, changes, live)
    assert after["denied"] == [{"IPProtocol": "udp"}] and "allowed" not in after
    assert after["sourceTags"] == ["batch"] and "sourceRanges" not in after
    assert "targetTags" not in after and after["priority"] == 1000
    assert diff(desired, kind.normalize(after), desired) == []


def test_a_missing_network_is_a_permanent_error(kind: Firewall) -> None:
    rid, desired = build("fw", {**SSH, "network": "nowhere"})
    with pytest.raises(errors.PermanentError, match="nowhere"):
        kind.create(rid, desired)


def test_delete_and_conflict(kind: Firewall) -> None:
    rid, desired = build("fw", SSH)
    kind.create(rid, desired)
    with pytest.raises(errors.Conflict):
        kind.create(rid, desired)
    kind.delete(rid, force=False)
    assert kind.get(rid) is None
    kind.delete(rid, force=False)
