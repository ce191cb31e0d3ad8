"""Helpers for the binding/audit kind tests: an emulator with the IAM-bearing services, and
one reconcile step done the way the engine does it (read, three-way diff, update)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlops_infra.emulator import Emulator
from mlops_infra.engine.diff import diff
from mlops_infra.engine.kind import Kind, ResourceContext
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from tests.conftest import start_emulator
from tests.kinds.kinds_testlib import fields

SERVICES = ("storage", "bigquery", "resourcemanager", "iam")
FAST = RetryPolicy(attempts=5, initial=0.001, maximum=0.01, deadline=30)


@pytest.fixture(name="emulator")
def iam_emulator() -> Iterator[Emulator]:
    """Overrides tests/conftest.py's: these tests also need Resource Manager and IAM."""
    with start_emulator(SERVICES) as emu:
        yield emu


def reconcile(kind: Kind, ctx: ResourceContext, raw: dict[str, Any],
              last: dict[str, Any] | None = None, *, retry: bool = False) -> dict[str, Any]:
    """Plan and apply one resource like the engine; returns what to keep as last-applied."""
    spec = fields(type(kind), raw)
    rid, desired = kind.identify(ctx, spec), kind.desired(ctx, spec)
    exact = kind.exact_paths(spec)

    def attempt() -> None:
        live = kind.get(rid)
        assert live is not None
        changes = diff(desired, kind.normalize(live), last, exact=exact)
        if changes:
            kind.update(rid, desired, changes, live)

    if retry:
        call_with_retries(attempt, policy=FAST, retry_preconditions=True)
    else:
        attempt()
    return desired


def pending(kind: Kind, ctx: ResourceContext, raw: dict[str, Any],
            last: dict[str, Any] | None = None) -> list[str]:
    """The paths a plan would still change."""
    spec = fields(type(kind), raw)
    rid, desired = kind.identify(ctx, spec), kind.desired(ctx, spec)
    live = kind.get(rid)
    assert live is not None
    return [c.path for c in diff(desired, kind.normalize(live), last, exact=kind.exact_paths(spec))]
