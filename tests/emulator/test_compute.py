"""The Compute emulator driven by the real ``google-cloud-compute`` clients (REST): operations
that finish after the configured duration, server defaults, 409/400/412 in Compute's shape."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import compute_v1
from google.protobuf import json_format

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import (
    COMPUTE_FIREWALLS,
    COMPUTE_GLOBAL_OPERATIONS,
    COMPUTE_NETWORKS,
    COMPUTE_REGION_OPERATIONS,
    COMPUTE_SUBNETWORKS,
)
from tests.emulator.support import PROJECT

CALL: dict[str, Any] = {"retry": None, "timeout": 10}
ROOT = "https://www.googleapis.com/compute/v1/"
REGION = "europe-west1"
DONE = compute_v1.Operation.Status.DONE


pytestmark = pytest.mark.emulator_services("compute")


@pytest.fixture
def clients(emulator: Emulator) -> Clients:
    return Clients(project=PROJECT, endpoints=emulator.endpoints)


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(type(message).pb(message))


def make_network(clients: Clients, name: str = "vpc", **fields: Any) -> compute_v1.Operation:
    body = compute_v1.Network(name=name, auto_create_subnetworks=False, **fields)
    return clients.get(COMPUTE_NETWORKS).insert_unary(project=PROJECT, network_resource=body, **CALL)


def make_subnet(clients: Clients, name: str, cidr: str, *, network: str = "vpc",
                region: str = REGION, secondary: dict[str, str] | None = None
                ) -> compute_v1.Operation:
    body = compute_v1.Subnetwork(
        name=name, ip_cidr_range=cidr, network=f"projects/{PROJECT}/global/networks/{network}",
        secondary_ip_ranges=[compute_v1.SubnetworkSecondaryRange(range_name=k, ip_cidr_range=v)
                             for k, v in (secondary or {}).items()])
    return clients.get(COMPUTE_SUBNETWORKS).insert_unary(project=PROJECT, region=region,
                                                      subnetwork_resource=body, **CALL)


def make_firewall(clients: Clients, name: str, **fields: Any) -> compute_v1.Operation:
    fields.setdefault("allowed", [compute_v1.Allowed(I_p_protocol="tcp", ports=["22"])])
    body = compute_v1.Firewall(name=name, network=f"{ROOT}projects/{PROJECT}/global/networks/vpc",
                               **fields)
    return clients.get(COMPUTE_FIREWALLS).insert_unary(project=PROJECT, firewall_resource=body,
                                                    **CALL)


def subnet(clients: Clients, name: str) -> compute_v1.Subnetwork:
    return clients.get(COMPUTE_SUBNETWORKS).get(project=PROJECT, region=REGION, subnetwork=name,
                                             **CALL)


def reason(exc: gexc.GoogleAPICallError) -> str:
    return str(exc.errors[0]["reason"])


# --- operations -----------------------------------------------------------------------------

def test_operations_run_until_the_configured_duration(emulator: Emulator, clients: Clients) -> None:
    emulator.set_operation_duration(3600)
    emulator.set_delays(operation_wait=0.2)       # compute's wait gives up after its deadline
    op = make_network(clients, "slow")
    assert op.status == compute_v1.Operation.Status.PENDING
    ops = clients.get(COMPUTE_GLOBAL_OPERATIONS)
    assert ops.get(project=PROJECT, operation=op.name, **CALL).status == \
        compute_v1.Operation.Status.RUNNING
    assert ops.wait(project=PROJECT, operation=op.name, **CALL).status != DONE

    emulator.set_operation_duration(0.05)
    quick = make_network(clients, "quick")
    seen = {quick.status}
    for _ in range(5000):                 # a cap against hanging, not a time threshold
        if DONE in seen:
            break
        time.sleep(0.01)
        seen.add(ops.get(project=PROJECT, operation=quick.name, **CALL).status)
    assert DONE in seen
    assert as_dict(ops.get(project=PROJECT, operation=quick.name, **CALL))["progress"] == 100
    assert ops.get(project=PROJECT, operation=op.name, **CALL).status != DONE


def test_wait_blocks_until_the_operation_is_done(emulator: Emulator, clients: Clients) -> None:
    emulator.set_operation_duration(0.3)
    op = make_network(clients, "waited")
    ops = clients.get(COMPUTE_GLOBAL_OPERATIONS)
    assert ops.get(project=PROJECT, operation=op.name, **CALL).status != DONE
    assert ops.wait(project=PROJECT, operation=op.name, **CALL).status == DONE


def test_other_requests_are_served_while_a_wait_blocks(emulator: Emulator,
                                                       clients: Clients) -> None:
    emulator.set_operation_duration(3600)
    emulator.set_delays(operation_wait=1.0)
    op = make_network(clients, "slow")
    result: list[Any] = []
    waiter = threading.Thread(target=lambda: result.append(
        clients.get(COMPUTE_GLOBAL_OPERATIONS).wait(project=PROJECT, operation=op.name, **CALL)))
    waiter.start()
    make_network(clients, "meanwhile")          # not blocked by the waiting request's lock
    still_waiting = waiter.is_alive()
    waiter.join()
    assert still_waiting and result[0].status != DONE


def test_regional_operations_are_read_per_region(clients: Clients) -> None:
    make_network(clients)
    op = make_subnet(clients, "s", "10.0.0.0/24")
    got = clients.get(COMPUTE_REGION_OPERATIONS).wait(project=PROJECT, region=REGION,
                                                   operation=op.name, **CALL)
    assert got.status == DONE and got.region.endswith(f"/regions/{REGION}")
    assert got.target_link == f"{ROOT}projects/{PROJECT}/regions/{REGION}/subnetworks/s"
    with pytest.raises(gexc.NotFound):
        clients.get(COMPUTE_GLOBAL_OPERATIONS).get(project=PROJECT, operation=op.name, **CALL)


def test_a_missing_network_fails_the_operation_not_the_request(clients: Clients) -> None:
    op = make_subnet(clients, "orphan", "10.0.0.0/24", network="nowhere")
    got = as_dict(clients.get(COMPUTE_REGION_OPERATIONS).wait(project=PROJECT, region=REGION,
                                                           operation=op.name, **CALL))
    assert got["status"] == "DONE" and got["httpErrorStatusCode"] == 404
    assert "networks/nowhere" in got["error"]["errors"][0]["message"]
    with pytest.raises(gexc.NotFound):
        subnet(clients, "orphan")


# --- networks -------------------------------------------------------------------------------

def test_network_defaults_and_canonical_self_link(clients: Clients) -> None:
    clients.get(COMPUTE_NETWORKS).insert_unary(project=PROJECT, network_resource=compute_v1.Network(
        name="auto", auto_create_subnetworks=True), **CALL)
    net = as_dict(clients.get(COMPUTE_NETWORKS).get(project=PROJECT, network="auto", **CALL))
    assert net["autoCreateSubnetworks"] is True
    assert net["mtu"] == 1460 and net["routingConfig"] == {"routingMode": "REGIONAL"}
    assert net["selfLink"] == f"{ROOT}projects/{PROJECT}/global/networks/auto"
    assert net["id"].isdigit()


def test_insert_of_an_existing_name_is_409_already_exists(clients: Clients) -> None:
    make_network(clients)
    with pytest.raises(gexc.Conflict) as caught:
        make_network(clients)
    assert reason(caught.value) == "alreadyExists"


def test_a_network_without_auto_create_subnetworks_is_a_legacy_network(clients: Clients) -> None:
    nets = clients.get(COMPUTE_NETWORKS)
    with pytest.raises(gexc.BadRequest, match="legacy network"):
        nets.insert_unary(project=PROJECT, network_resource=compute_v1.Network(name="old"), **CALL)
    nets.insert_unary(project=PROJECT, network_resource=compute_v1.Network(
        name="old", I_pv4_range="10.240.0.0/16"), **CALL)
    net = as_dict(nets.get(project=PROJECT, network="old", **CALL))
    assert "autoCreateSubnetworks" not in net and net["gatewayIPv4"] == "10.240.0.1"


def test_network_patch_and_switch_to_custom_mode(clients: Clients) -> None:
    nets = clients.get(COMPUTE_NETWORKS)
    nets.insert_unary(project=PROJECT, network_resource=compute_v1.Network(
        name="n", auto_create_subnetworks=True), **CALL)
    both = compute_v1.Network(mtu=1500, routing_config=compute_v1.NetworkRoutingConfig(
        routing_mode="GLOBAL"))
    with pytest.raises(gexc.BadRequest, match="only routingConfig"):
        nets.patch_unary(project=PROJECT, network="n", network_resource=both, **CALL)
    nets.patch_unary(project=PROJECT, network="n", network_resource=compute_v1.Network(
        routing_config=compute_v1.NetworkRoutingConfig(routing_mode="GLOBAL")), **CALL)
    nets.patch_unary(project=PROJECT, network="n", **CALL,
                     network_resource=compute_v1.Network(mtu=1500))
    nets.switch_to_custom_mode_unary(project=PROJECT, network="n", **CALL)
    net = as_dict(nets.get(project=PROJECT, network="n", **CALL))
    assert (net["mtu"], net["routingConfig"]["routingMode"]) == (1500, "GLOBAL")
    assert net["autoCreateSubnetworks"] is False
    with pytest.raises(gexc.BadRequest):
        nets.switch_to_custom_mode_unary(project=PROJECT, network="n", **CALL)
    with pytest.raises(gexc.BadRequest):
        nets.patch_unary(project=PROJECT, network="n", **CALL,
                         network_resource=compute_v1.Network(description="changed"))


def test_deleting_a_network_in_use_is_refused_until_it_is_free(clients: Clients) -> None:
    make_network(clients)
    make_subnet(clients, "s", "10.0.0.0/24")
    make_firewall(clients, "fw")
    nets = clients.get(COMPUTE_NETWORKS)
    with pytest.raises(gexc.BadRequest) as caught:
        nets.delete_unary(project=PROJECT, network="vpc", **CALL)
    assert reason(caught.value) == "resourceInUseByAnotherResource"
    clients.get(COMPUTE_SUBNETWORKS).delete_unary(project=PROJECT, region=REGION, subnetwork="s",
                                               **CALL)
    with pytest.raises(gexc.BadRequest):
        nets.delete_unary(project=PROJECT, network="vpc", **CALL)
    clients.get(COMPUTE_FIREWALLS).delete_unary(project=PROJECT, firewall="fw", **CALL)
    assert nets.delete_unary(project=PROJECT, network="vpc", **CALL).operation_type == "delete"
    with pytest.raises(gexc.NotFound):
        nets.get(project=PROJECT, network="vpc", **CALL)


def test_network_lists_page(clients: Clients) -> None:
    for i in range(5):
        make_network(clients, f"n{i}")
    pager = clients.get(COMPUTE_NETWORKS).list(
        request=compute_v1.ListNetworksRequest(project=PROJECT, max_results=2), **CALL)
    assert [n.name for n in pager] == [f"n{i}" for i in range(5)]


# --- subnetworks ----------------------------------------------------------------------------

def test_subnetwork_server_fields(clients: Clients) -> None:
    make_network(clients)
    make_subnet(clients, "s", "10.0.0.0/24", secondary={"pods": "10.4.0.0/14"})
    got = as_dict(subnet(clients, "s"))
    assert got["gatewayAddress"] == "10.0.0.1" and got["stackType"] == "IPV4_ONLY"
    assert got["network"] == f"{ROOT}projects/{PROJECT}/global/networks/vpc"
    assert got["privateIpGoogleAccess"] is False and got["fingerprint"]
    assert got["secondaryIpRanges"] == [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}]
    net = clients.get(COMPUTE_NETWORKS).get(project=PROJECT, network="vpc", **CALL)
    assert list(net.subnetworks) == [got["selfLink"]]


@pytest.mark.parametrize("cidr", ["10.0.0.128/25", "10.4.1.0/24", "10.0.0.0/8"])
def test_overlapping_ranges_in_one_network_are_refused(clients: Clients, cidr: str) -> None:
    make_network(clients)
    make_subnet(clients, "a", "10.0.0.0/24", secondary={"pods": "10.4.0.0/16"})
    with pytest.raises(gexc.BadRequest):
        make_subnet(clients, "b", cidr, region="us-central1")


def test_the_same_range_in_another_network_is_fine(clients: Clients) -> None:
    make_network(clients)
    make_network(clients, "other")
    make_subnet(clients, "a", "10.0.0.0/24")
    op = make_subnet(clients, "b", "10.0.0.0/24", network="other")
    assert clients.get(COMPUTE_REGION_OPERATIONS).wait(project=PROJECT, region=REGION,
                                                    operation=op.name, **CALL).status == DONE


def test_subnetwork_patch_needs_the_current_fingerprint(clients: Clients) -> None:
    make_network(clients)
    make_subnet(clients, "s", "10.0.0.0/24")
    subs = clients.get(COMPUTE_SUBNETWORKS)
    before = subnet(clients, "s").fingerprint
    log = compute_v1.SubnetworkLogConfig(enable=True, flow_sampling=0.1)
    with pytest.raises(gexc.BadRequest):
        subs.patch_unary(project=PROJECT, region=REGION, subnetwork="s", **CALL,
                         subnetwork_resource=compute_v1.Subnetwork(log_config=log))
    subs.patch_unary(project=PROJECT, region=REGION, subnetwork="s", **CALL,
                     subnetwork_resource=compute_v1.Subnetwork(log_config=log, fingerprint=before))
    after = as_dict(subnet(clients, "s"))
    assert after["logConfig"] == {"enable": True, "flowSampling": 0.1, "metadata":
                                  "INCLUDE_ALL_METADATA", "aggregationInterval": "INTERVAL_5_SEC"}
    assert after["fingerprint"] != before
    with pytest.raises(gexc.PreconditionFailed):
        subs.patch_unary(project=PROJECT, region=REGION, subnetwork="s", **CALL,
                         subnetwork_resource=compute_v1.Subnetwork(log_config=log,
                                                                   fingerprint=before))


def test_expand_ip_cidr_range_only_grows(clients: Clients) -> None:
    make_network(clients)
    make_subnet(clients, "s", "10.0.0.0/24")
    subs = clients.get(COMPUTE_SUBNETWORKS)

    def expand(cidr: str) -> None:
        subs.expand_ip_cidr_range_unary(
            project=PROJECT, region=REGION, subnetwork="s", **CALL,
            subnetworks_expand_ip_cidr_range_request_resource=compute_v1
            .SubnetworksExpandIpCidrRangeRequest(ip_cidr_range=cidr))

    for bad in ("10.0.0.0/25", "10.1.0.0/16", "10.0.0.0/24"):
        with pytest.raises(gexc.BadRequest):
            expand(bad)
    expand("10.0.0.0/22")
    assert subnet(clients, "s").ip_cidr_range == "10.0.0.0/22"


def test_set_private_ip_google_access(clients: Clients) -> None:
    make_network(clients)
    make_subnet(clients, "s", "10.0.0.0/24")
    clients.get(COMPUTE_SUBNETWORKS).set_private_ip_google_access_unary(
        project=PROJECT, region=REGION, subnetwork="s", **CALL,
        subnetworks_set_private_ip_google_access_request_resource=compute_v1
        .SubnetworksSetPrivateIpGoogleAccessRequest(private_ip_google_access=True))
    assert subnet(clients, "s").private_ip_google_access is True


# --- firewalls -----------------------------------------------------------------------------

def test_firewall_defaults(clients: Clients) -> None:
    make_network(clients)
    make_firewall(clients, "fw")
    got = as_dict(clients.get(COMPUTE_FIREWALLS).get(project=PROJECT, firewall="fw", **CALL))
    assert (got["priority"], got["direction"], got["disabled"]) == (1000, "INGRESS", False)
    assert got["sourceRanges"] == ["0.0.0.0/0"]          # no source given: the whole internet
    assert got["logConfig"] == {"enable": False}
    assert got["selfLink"] == f"{ROOT}projects/{PROJECT}/global/firewalls/fw"


def test_firewall_patch_merges_and_update_replaces(clients: Clients) -> None:
    make_network(clients)
    make_firewall(clients, "fw", target_tags=["web"], source_ranges=["10.0.0.0/8"])
    fws = clients.get(COMPUTE_FIREWALLS)
    fws.patch_unary(project=PROJECT, firewall="fw", **CALL,
                    firewall_resource=compute_v1.Firewall(priority=10))
    got = as_dict(fws.get(project=PROJECT, firewall="fw", **CALL))
    assert got["priority"] == 10 and got["targetTags"] == ["web"]
    with pytest.raises(gexc.BadRequest):       # allowed and denied at once
        fws.patch_unary(project=PROJECT, firewall="fw", **CALL, firewall_resource=compute_v1
                        .Firewall(denied=[compute_v1.Denied(I_p_protocol="udp")]))
    fws.update_unary(project=PROJECT, firewall="fw", **CALL, firewall_resource=compute_v1.Firewall(
        name="fw", network=got["network"], denied=[compute_v1.Denied(I_p_protocol="udp")],
        source_ranges=["10.0.0.0/8"]))
    got = as_dict(fws.get(project=PROJECT, firewall="fw", **CALL))
    assert got["denied"] == [{"IPProtocol": "udp"}] and "allowed" not in got
    assert got["priority"] == 1000 and "targetTags" not in got
    with pytest.raises(gexc.BadRequest):
        fws.patch_unary(project=PROJECT, firewall="fw", **CALL,
                        firewall_resource=compute_v1.Firewall(direction="EGRESS"))


def test_invalid_firewalls_are_400(clients: Clients) -> None:
    make_network(clients)
    with pytest.raises(gexc.BadRequest):
        make_firewall(clients, "fw", allowed=[compute_v1.Allowed(I_p_protocol="icmp",
                                                                 ports=["22"])])
    with pytest.raises(gexc.BadRequest):
        make_firewall(clients, "fw", priority=70000)
    with pytest.raises(gexc.BadRequest):
        make_firewall(clients, "Bad_Name")
