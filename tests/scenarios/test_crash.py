"""kill -9 at many points of an apply, then a rerun: it converges, with no duplicate, no orphan,
no conflict, for kinds with labels and without (their intents prove them ours), and the run
after that is a no-op. The killed run's lock is taken over at once (its process is gone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_infra.api import Stack

pytestmark = [pytest.mark.emulator_services("storage", "bigquery", "iam", "compute", "kms",
                                            "resourcemanager"), pytest.mark.slow]

MIXED = """\
apiVersion: mlops-infra/v1
stack: crash
project: test-project
region: us-central1
resources:
  raw:
    kind: storage.Bucket
    name: crash-raw
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  features:
    kind: bigquery.Dataset
    name: crash_features
  events:
    kind: bigquery.Table
    dataset: ${features.name}
    schema: [{name: id, type: STRING}]
  trainer:
    kind: iam.ServiceAccount
    name: crash-trainer
  reader:
    kind: iam.Role
    name: crash-reader
    title: Reader
    includedPermissions: [bigquery.tables.get]
  vpc:
    kind: compute.Network
    name: crash-vpc
  subnet:
    kind: compute.Subnetwork
    name: crash-subnet
    network: ${vpc.selfLink}
    ipCidrRange: 10.8.0.0/20
  internal:
    kind: compute.Firewall
    name: crash-internal
    network: ${vpc.selfLink}
    sourceRanges: [10.0.0.0/8]
    allowed: [{IPProtocol: tcp}]
  ring:
    kind: kms.KeyRing
    name: crash-ring
  key:
    kind: kms.CryptoKey
    name: crash-key
    keyRing: ${ring.id}
  access:
    kind: iam.ProjectBindings
    bindings: [{role: roles/bigquery.jobUser, members: ["serviceAccount:${trainer.email}"]}]
"""


def _env(endpoints: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(endpoints),
            "MLOPS_INFRA_RETRY_SCALE": "0.02"}


def _kill_after(emulator, spec: Path, mutations: int) -> None:  # type: ignore[no-untyped-def]
    """Run a reconcile and SIGKILL it once the emulator has served ``mutations`` writes."""
    process = subprocess.Popen([sys.executable, "-m", "mlops_infra", "reconcile", str(spec),
                                "--auto-approve"], env=_env(emulator.endpoints),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while process.poll() is None and len(emulator.mutating_requests()) < mutations \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("mutations", [2, 5, 8, 11, 14])   # of 16 in a whole apply
def test_kill_minus_9_then_rerun_converges_without_duplicates(
        mutations: int, emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.yaml"
    spec.write_text(MIXED)
    emulator.set_latency(0.02)
    _kill_after(emulator, spec, mutations)
    emulator.set_latency(0)
    with Stack.load(spec, endpoints=emulator.endpoints) as stack:   # the rerun (another pid)
        plan, result = stack.reconcile()
        assert not plan.blocked and (result is None or result.ok), \
            plan.blocked or (result.failures if result else None)
        emulator.clear_journal()
        assert not stack.plan().has_changes
        assert emulator.mutating_requests() == []
        state = stack.ledger.read()
    assert state.intents == {}
    assert {e.address for e in state.entries.values()} >= {
        "raw", "features", "events", "trainer", "reader", "vpc", "subnet", "internal", "ring",
        "key", "access"}
    accounts = emulator.state("iam")
    assert json.dumps(accounts).count("crash-trainer@") >= 1


@pytest.mark.parametrize("mutations", [1, 3, 6, 10, 14])
def test_kill_minus_9_then_destroy_leaves_nothing_of_the_stack(
        mutations: int, emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A resource the killed run created but had not recorded yet is found by ``destroy``
    too: by its intent (kinds without labels, server-named kinds) or by the labels naming this
    stack that it was created with (a bucket, a dataset, a table)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(MIXED)
    emulator.set_latency(0.02)
    _kill_after(emulator, spec, mutations)
    emulator.set_latency(0)
    # at once: a service account the killed run created may still read as absent (the
    # emulator's shortened 10 s); its intent is read again until that lag is over
    _destroy_all(emulator, spec)


def _destroy_all(emulator, spec: Path) -> None:  # type: ignore[no-untyped-def]
    """Destroy: it applies, the ledger is empty, a second destroy is no changes (what KMS keeps
    is not shown), and nothing of the stack is left."""
    with Stack.load(spec, endpoints=emulator.endpoints) as stack:
        plan = stack.plan(destroy=True, allow_data_loss=True)
        assert not plan.blocked, plan.blocked
        result = stack.apply(plan)
        assert result.ok, result.failures
        assert stack.ledger.read().entries == {}
        again = stack.plan(destroy=True, allow_data_loss=True)
        assert not again.has_changes, [(c.address, c.action) for c in again.resources]
    _assert_nothing_left(emulator)


def _assert_nothing_left(emulator) -> None:  # type: ignore[no-untyped-def]
    assert "crash-raw" not in emulator.state("storage")["buckets"]
    assert "crash_features" not in json.dumps(emulator.state("bigquery"))
    project = emulator.state("compute")["projects"]["test-project"]
    assert project["networks"] == {} and project["firewalls"] == {}
    assert not any(project["subnetworks"].values()), project["subnetworks"]
    assert "crash-trainer@" not in json.dumps(emulator.state("iam"))


def _kill_destroy_after(emulator, spec: Path, mutations: int) -> None:  # type: ignore[no-untyped-def]
    process = subprocess.Popen([sys.executable, "-m", "mlops_infra", "destroy", str(spec),
                                "--auto-approve", "--allow-data-loss"],
                               env=_env(emulator.endpoints), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    start = len(emulator.mutating_requests())
    deadline = time.monotonic() + 60
    while process.poll() is None and len(emulator.mutating_requests()) - start < mutations \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("mutations", [2, 7, 12])
def test_a_destroy_killed_midway_is_finished_by_the_next_one(
        mutations: int, emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.yaml"
    spec.write_text(MIXED)
    with Stack.load(spec, endpoints=emulator.endpoints) as stack:
        assert stack.apply(stack.plan()).ok
    emulator.set_latency(0.02)
    _kill_destroy_after(emulator, spec, mutations)
    emulator.set_latency(0)
    _destroy_all(emulator, spec)
