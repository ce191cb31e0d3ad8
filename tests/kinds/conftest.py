"""Fixtures for the kind tests: clients wired to the emulator (fixture ``emulator`` in tests/)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from tests.kinds.kinds_testlib import PROJECT


@pytest.fixture
def clients(emulator: Any) -> Clients:
    return Clients(project=PROJECT, endpoints=emulator.endpoints)
