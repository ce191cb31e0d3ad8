"""Shared fixtures: the local emulator and clients wired to it.

A module picks the emulated services with ``pytestmark = pytest.mark.emulator_services(...)``
(default: storage and bigquery).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator, operations

PROJECT = "test-project"


DEFAULT_TEST_SERVICES = ("storage", "bigquery")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_services(*names): services the emulator fixture starts")


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator per test, stopped afterwards (operation durations reset too)."""
    marker = request.node.get_closest_marker("emulator_services")
    emu = Emulator.start(services=tuple(marker.args) if marker else DEFAULT_TEST_SERVICES)
    try:
        yield emu
    finally:
        emu.stop()
        operations.set_operation_duration(0)


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    """One emulator for a whole session: use unique resource names, and clear faults."""
    emu = Emulator.start(services=("storage", "bigquery"))
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_clients(emulator: Emulator) -> Clients:
    """``Clients`` for PROJECT, pointed at the per-test emulator."""
    return Clients(project=PROJECT, endpoints=emulator.endpoints)
