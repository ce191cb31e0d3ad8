"""Each fixture state, applied to the emulator as Terraform would have, imports to a spec
whose first plan against the live project is "no changes" and whose ledger owns it all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_terraform
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("storage", "bigquery", "iam", "kms", "serviceusage",
                                           "compute", "resourcemanager", "aiplatform",
                                           "monitoring", "logging", "dashboards",
                                           "notebooks", "container")

STATES = sorted(p.name for p in (FIXTURES / "terraform").glob("*.tfstate"))


@pytest.mark.parametrize("state", STATES)
def test_first_plan_after_import_is_no_changes(state: str, emulator: Emulator,
                                               tmp_path: Path) -> None:
    path = TerraformApply(emulator.endpoints).applied(FIXTURES / "terraform" / state, tmp_path)
    out = tmp_path / "spec.yaml"
    emulator.clear_journal()
    result = import_terraform([str(path)], envs=None,
                              options=Options(out=out, stack="imported", endpoints=emulator.endpoints))
    assert [c.address for d in result.checks.values() for c in d.differences] == []
    # the import wrote its ledger (making the ledger bucket) and nothing else
    assert [(e.method, e.path) for e in emulator.mutating_requests()
            if not _ledger_call(e.path)] == []
    stack = Stack.load(out, endpoints=emulator.endpoints)
    plan = stack.plan()
    assert [(c.address, c.action.value) for c in plan.resources if c.mutates] == []
    entries = stack.ledger.read().entries
    assert {e.address for e in entries.values()} == {c.address for c in plan.resources}


def _ledger_call(path: str) -> bool:
    bucket = "test-project-mlops-infra-state"
    return path.split("?")[0] == "/storage/v1/b" or f"/b/{bucket}/" in path


def test_every_kind_that_maps_terraform_has_a_fixture_state() -> None:
    from mlops_infra.api import registered_kinds
    from mlops_infra.engine.registry import terraform_types

    registered_kinds()
    in_fixtures = {r["type"] for p in (FIXTURES / "terraform").glob("*.tfstate")
                   for r in json.loads(p.read_text())["resources"]}
    kinds: dict[str, set[str]] = {}
    for tf_type, kind in terraform_types().items():
        kinds.setdefault(kind.name, set()).add(tf_type)
    assert {k for k, types in kinds.items() if not types & in_fixtures} == set()
