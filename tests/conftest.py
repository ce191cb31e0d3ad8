"""Shared fixtures: the local emulator and clients wired to it.

A module picks the emulated services with ``pytestmark = pytest.mark.emulator_services(...)``
(default: storage and bigquery). The emulator behaves like Google (APIs off in a new project,
eventual consistency, operations that take time) with delays shortened to ``TEST_DELAYS``;
PROJECT already has the APIs of the started services enabled (a realistic, long-lived
project) unless the test is marked ``emulator_fresh_project``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator, operations
from mlops_infra.emulator.realism import Delays

# specs/platform.yaml's dev environment reads its alerting tokens from the environment: these
# test values (subprocesses inherit them) are what tests/scenarios/test_secrets_never_leak.py
# looks for in every file and output.
PLATFORM_DEV_SECRETS = {"MLOPS_SLACK_TOKEN": "xoxb-7304-test-slack-token-do-not-leak",
                        "MLOPS_PAGERDUTY_KEY": "pd-test-service-key-9f3b27c4e1d0a8b6"}
for _name, _value in PLATFORM_DEV_SECRETS.items():
    os.environ.setdefault(_name, _value)

PROJECT = "test-project"
DEFAULT_TEST_SERVICES = ("storage", "bigquery")
# Google's behaviours, shortened (each is a documented default in emulator/realism.py).
TEST_DELAYS = Delays(operation=0.05, operations={"serviceusage": 0.05, "compute": 0.05},
                     operation_wait=5.0, api_enablement=0.1, iam_policy=0.2,
                     service_account=0.1, monitoring_edit=0.02)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_services(*names): services the emulator fixture starts")
    config.addinivalue_line("markers", "emulator_fresh_project: do not pre-enable APIs in PROJECT")


def start_emulator(services: tuple[str, ...], *, enable_in: str | None = PROJECT,
                   **kwargs: object) -> Emulator:
    """An emulator with ``TEST_DELAYS`` whose ``enable_in`` project has its services' APIs on."""
    emu = Emulator.start(services=services, delays=TEST_DELAYS.scaled(1.0), **kwargs)  # type: ignore[arg-type]
    if enable_in:
        emu.enable_apis(enable_in, [s.api for s in emu.services.values() if s.api])
    return emu


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator per test, stopped afterwards."""
    marker = request.node.get_closest_marker("emulator_services")
    fresh = request.node.get_closest_marker("emulator_fresh_project") is not None
    emu = start_emulator(tuple(marker.args) if marker else DEFAULT_TEST_SERVICES,
                         enable_in=None if fresh else PROJECT)
    try:
        yield emu
    finally:
        emu.stop()
        operations.reset_operation_duration()


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    """One emulator for a whole session: use unique resource names, and clear faults."""
    emu = start_emulator(("storage", "bigquery"))
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_clients(emulator: Emulator) -> Clients:
    """``Clients`` for PROJECT, pointed at the per-test emulator."""
    return Clients(project=PROJECT, endpoints=emulator.endpoints)


def ledger_drift(stack: object, plan: object) -> list[tuple[str, str]]:
    """Why ``plan`` would rewrite the ledger with no change to make: each resource whose
    ledger record differs from what the plan would record (for assertion messages)."""
    from mlops_infra.engine import sensitive
    from mlops_infra.engine.plan import Action

    entries = stack.ledger.read().entries  # type: ignore[attr-defined]
    drift = []
    for change in plan.resources:  # type: ignore[attr-defined]
        entry = entries.get(change.key)
        if change.action is not Action.NOOP or change.blocked:
            continue
        if change.desired is None or entry is None or change.moved_from:
            drift.append((change.address, f"desired={change.desired is not None} "
                                          f"entry={entry is not None} moved={change.moved_from}"))
        elif entry.id != change.id:
            drift.append((change.address, f"id {entry.id} -> {change.id}"))
        elif entry.outputs != change.outputs:
            drift.append((change.address, f"outputs {entry.outputs} -> {change.outputs}"))
        elif not sensitive.same_record(entry.applied, change.desired,
                                       stack.kinds[change.kind], change.secret_paths):  # type: ignore[attr-defined]
            drift.append((change.address, f"applied {entry.applied} -> {change.desired}"))
    return drift
