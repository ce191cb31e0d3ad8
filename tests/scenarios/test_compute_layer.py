"""End to end, the compute layer through the engine against the emulator: a GKE cluster with a
node pool and a VM converge and stay put; a node pool replace is create-before-destroy (the
cluster always keeps a running pool); a cluster create killed mid-operation is resumed, not
repeated; a change that needs the VM stopped is refused without the allow and, allowed, stops,
changes and starts it; the no-external-ip guardrail holds unless waived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator, operations
from mlops_infra.engine.errors import MlopsInfraError, PolicyViolation
from mlops_infra.engine.plan import Action
from mlops_infra.kinds._clients import COMPUTE_INSTANCES, CONTAINER
from tests.conftest import PROJECT, start_emulator
from tests.scenarios.conftest import run_cli

CLUSTER = f"projects/{PROJECT}/locations/europe-west1-b/clusters/ml"
SPEC = """\
apiVersion: mlops-infra/v1
stack: compute
project: test-project
region: europe-west1
resources:
  vpc: {kind: compute.Network, name: ml-vpc}
  subnet:
    kind: compute.Subnetwork
    name: ml-nodes
    network: ${vpc.selfLink}
    ipCidrRange: 10.10.0.0/22
    secondaryIpRanges:
      - {rangeName: pods, ipCidrRange: 10.20.0.0/16}
      - {rangeName: services, ipCidrRange: 10.30.0.0/20}
  gke:
    kind: container.Cluster
    name: ml
    location: europe-west1-b
    network: ${vpc.selfLink}
    subnetwork: ${subnet.selfLink}
    ipAllocationPolicy: {clusterSecondaryRangeName: pods, servicesSecondaryRangeName: services}
    resourceLabels: {team: ml}
  pool:
    kind: container.NodePool
    name: cpu
    cluster: ${gke.id}
    initialNodeCount: 1
    config: {machineType: e2-standard-4, spot: false}
  vm:
    kind: compute.Instance
    name: ml-serving
    zone: europe-west1-b
    machineType: n1-standard-4
    bootDisk: {image: projects/debian-cloud/global/images/family/debian-12, sizeGb: 20}
    network: ${vpc.selfLink}
    subnetwork: ${subnet.selfLink}
    labels: {role: serving}
"""
VM_LINE = "    machineType: n1-standard-4\n"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """Storage (the ledger), Compute and Kubernetes Engine; operations take a little while."""
    emu = start_emulator(("storage", "compute", "container"))
    emu.set_operation_duration(0.1)
    try:
        yield emu
    finally:
        emu.stop()
        operations.reset_operation_duration()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _converged(open_stack, spec: Path) -> None:  # type: ignore[no-untyped-def]
    stack = open_stack(spec)
    result = stack.apply(stack.plan())
    assert result.ok, result.failures


GPU_POOL = """\
  gpu:
    kind: container.NodePool
    name: gpu
    cluster: ${gke.id}
    autoscaling: {totalMinNodeCount: 0, totalMaxNodeCount: 2}
    config: {machineType: n1-standard-8, accelerators: [{acceleratorType: nvidia-tesla-t4, acceleratorCount: 1}]}
"""


def test_the_compute_layer_converges_then_is_a_noop(emulator, open_stack, tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC.replace("  vm:\n", GPU_POOL + "  vm:\n"))
    _converged(open_stack, spec)
    # one operation at a time per cluster: two pools, never a "currently creating" 400
    assert [e.path for e in emulator.mutating_requests("container") if e.status >= 400] == []
    emulator.clear_journal()
    assert not open_stack(spec).plan().has_changes
    assert emulator.mutating_requests() == []
    gke = Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)
    pools = gke.list_node_pools(parent=CLUSTER, retry=None).node_pools
    assert sorted(p.name for p in pools) == ["cpu", "gpu"]   # the bootstrap pool is gone


class _PoolWatch:
    """Counts, over and over while an apply runs, the cluster's node pools that are RUNNING."""

    def __init__(self, emulator: Emulator) -> None:
        self._gke = Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pools = self._gke.list_node_pools(parent=CLUSTER, retry=None).node_pools
            self.seen.append(sum(1 for p in pools if p.status.name == "RUNNING"))
            time.sleep(0.005)

    def __enter__(self) -> _PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_a_node_pool_replace_never_leaves_the_cluster_without_a_pool(emulator, open_stack,
                                                                     tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    _converged(open_stack, spec)
    spec.write_text(SPEC.replace("spot: false", "spot: true"))
    stack = open_stack(spec)
    plan = stack.plan()
    pool = next(r for r in plan.resources if r.address == "pool")
    assert pool.action is Action.REPLACE and not pool.blocked
    assert "config.spot" in (pool.reason or "") and "created first" in (pool.reason or "")
    with _PoolWatch(emulator) as watch:
        result = stack.apply(plan)
    assert result.ok, result.failures
    assert len(watch.seen) > 10 and min(watch.seen) >= 1 and max(watch.seen) == 2
    gke = Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)
    (replacement,) = gke.list_node_pools(parent=CLUSTER, retry=None).node_pools
    assert replacement.name.startswith("cpu-r") and replacement.config.spot
    emulator.clear_journal()
    assert not open_stack(spec).plan().has_changes       # the suffixed pool is this resource
    assert emulator.mutating_requests() == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "crash"])
def test_an_interrupted_cluster_create_resumes_instead_of_creating_again(
        emulator, tmp_path: Path, stop: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    spec = _write(tmp_path, SPEC)
    emulator.set_delays(operations={"container.cluster": 8.0})   # longer than a loaded exit
    env = {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(emulator.endpoints),
           "MLOPS_INFRA_RETRY_SCALE": "0.02"}
    process = subprocess.Popen([sys.executable, "-m", "mlops_infra", "reconcile", str(spec),
                                "--auto-approve"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while process.poll() is None and not _cluster_creates(emulator) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, stop)                           # mid-create: GKE carries on
    process.wait(timeout=30)
    assert len(_cluster_creates(emulator)) == 1
    gke = Clients(project=PROJECT, endpoints=emulator.endpoints).get(CONTAINER)
    assert gke.get_cluster(name=CLUSTER, retry=None).status.name == "PROVISIONING"

    dry = run_cli(["reconcile", str(spec), "--dry-run"], endpoints=emulator.endpoints)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "gke" in dry.stdout and "PROVISIONING" in dry.stdout   # shown as finishing the create
    rerun = run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert len(_cluster_creates(emulator)) == 1          # waited on, never created twice
    assert "409" not in rerun.stdout + rerun.stderr
    cluster = gke.get_cluster(name=CLUSTER, retry=None)
    assert cluster.status.name == "RUNNING" and [p.name for p in cluster.node_pools] == ["cpu"]
    check = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"],
                    endpoints=emulator.endpoints)
    assert check.returncode == 0, check.stdout + check.stderr


def _cluster_creates(emulator: Emulator) -> list[object]:
    return [e for e in emulator.journal if e.method == "POST" and e.path.endswith("/clusters")]


def test_a_change_needing_the_vm_stopped_is_refused_without_the_allow(emulator, open_stack,
                                                                      tmp_path: Path) -> None:
    spec = _write(tmp_path, SPEC)
    _converged(open_stack, spec)
    spec.write_text(SPEC.replace(VM_LINE, "    machineType: n1-standard-8\n"))
    stack = open_stack(spec)
    plan = stack.plan()
    vm = next(r for r in plan.resources if r.address == "vm")
    assert vm.action is Action.UPDATE and "machineType" in (vm.restart or "")
    assert "allowRestart" in (vm.blocked or "")
    emulator.clear_journal()
    with pytest.raises(MlopsInfraError, match="allowRestart"):
        stack.apply(plan)
    assert emulator.mutating_requests() == []

    spec.write_text(SPEC.replace(VM_LINE, "    machineType: n1-standard-8\n    allowRestart: true\n"))
    stack = open_stack(spec)
    plan = stack.plan()
    vm = next(r for r in plan.resources if r.address == "vm")
    assert vm.restart and not vm.blocked
    emulator.clear_journal()
    result = stack.apply(plan)
    assert result.ok, result.failures
    verbs = [e.path.rsplit("/", 1)[-1] for e in emulator.mutating_requests("compute")
             if "/operations/" not in e.path]                # zoneOperations.wait is a POST
    assert verbs == ["stop", "setMachineType", "start"]
    live = Clients(project=PROJECT, endpoints=emulator.endpoints).get(COMPUTE_INSTANCES).get(
        project=PROJECT, zone="europe-west1-b", instance="ml-serving", retry=None)
    assert live.status == "RUNNING" and live.machine_type.endswith("/n1-standard-8")
    assert not open_stack(spec).plan().has_changes


def test_an_external_ip_is_refused_unless_waived(emulator, open_stack, tmp_path: Path) -> None:
    public = SPEC.replace(VM_LINE, VM_LINE + "    externalIp: true\n")
    spec = _write(tmp_path, public)
    line = public.splitlines().index("    externalIp: true") + 1
    with pytest.raises(PolicyViolation, match=rf"spec.yaml:{line}: resources\.vm\.externalIp: "
                                              r"guardrail 'no-external-ip'"):
        open_stack(spec).plan()
    assert emulator.journal == []
    spec.write_text(public.replace("    externalIp: true\n", "    externalIp: true\n    waivers: "
                                   "{no-external-ip: \"public demo endpoint, SEC-77\"}\n"))
    plan = open_stack(spec).plan()
    vm = next(r for r in plan.resources if r.address == "vm")
    assert vm.action is Action.CREATE and "no-external-ip" in vm.waivers
