"""Kinds raise engine errors for failures the real client libraries see over the wire."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.clients import Clients
from mlops_infra.engine import errors
from mlops_infra.kinds.bigquery.dataset import Dataset
from mlops_infra.kinds.storage.bucket import Bucket
from tests.kinds.kinds_testlib import ctx


@pytest.mark.parametrize("status", [503, 429, 500])
def test_injected_status_is_transient_and_not_retried_by_the_client(
        clients: Clients, emulator: Any, status: int) -> None:
    kind = Bucket(clients)
    rid = kind.identify(ctx("flaky"), {})
    emulator.set_faults(rate=1.0, statuses=(status,), seed=1, phase="before", resets=False)
    emulator.clear_journal()
    with pytest.raises(errors.TransientError) as info:
        kind.get(rid)
    assert info.value.status == status
    assert len(emulator.journal) == 1  # retry=None: one request, the engine decides the rest


def test_connection_reset_is_transient(clients: Clients, emulator: Any) -> None:
    kind = Dataset(clients)
    rid = kind.identify(ctx("flaky"), {})
    emulator.set_faults(rate=1.0, statuses=(), seed=1, phase="after", resets=True)
    with pytest.raises(errors.TransientError) as info:
        kind.get(rid)
    assert info.value.status is None  # no HTTP answer at all: the connection was dropped


def test_permanent_error_names_the_resource(clients: Clients, emulator: Any) -> None:
    kind = Bucket(clients)
    rid = kind.identify(ctx("bad-request"), {})
    emulator.set_faults(rate=1.0, statuses=(400,), seed=1, phase="before", resets=False)
    with pytest.raises(errors.PermanentError, match="400 Bad Request: bucket bad-request"):
        kind.get(rid)
