"""Shared fixtures: the local emulator (storage + bigquery) and clients wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator

PROJECT = "test-project"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator per test (storage + bigquery), stopped afterwards."""
    emu = Emulator.start(services=("storage", "bigquery"))
    try:
        yield emu
    finally:
        emu.stop()


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
