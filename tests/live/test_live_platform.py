"""Live acceptance: the platform's layers on a real project, under a unique stack. Reconcile,
reconcile again (must be a no-op), update, destroy, and report anything left behind.
Skipped unless ``MLOPS_INFRA_LIVE_PROJECT`` and ADC are set (see conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops_infra.api import Stack

TEMPLATE = Path(__file__).with_name("spec_template.yaml")


def _spec(tmp: Path, *, project: str, stack: str, label: str) -> Path:
    values = {"STACK": stack, "PROJECT": project, "LABEL": label,
              "REGION": os.environ.get("MLOPS_INFRA_LIVE_REGION", "us-central1"),
              "LOCATION": os.environ.get("MLOPS_INFRA_LIVE_LOCATION", "US"),
              "DATASET": stack.replace("-", "_") + "_features"}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    path = tmp / f"{stack}-{label}.yaml"
    path.write_text(text)
    return path


def _apply(path: Path, *, destroy: bool = False) -> Any:
    with Stack.load(path) as stack:
        if not destroy:
            stack.ensure_ledger_home()
        plan = stack.plan(destroy=destroy, allow_data_loss=destroy)
        result = stack.apply(plan)
        assert result.ok, result.failures
        return plan


def _changes(path: Path) -> list[str]:
    with Stack.load(path) as stack:
        return [c.address for c in stack.plan().resources if c.changes or c.action.value != "noop"]


def _leftovers(project: str, stack: str) -> list[str]:
    """What still carries this stack's name or label after destroy (KMS keys cannot go)."""
    from google.cloud import bigquery, storage

    found = [f"bucket {b.name}" for b in storage.Client(project=project).list_buckets()
             if b.name.startswith(stack) and not b.name.endswith("-mlops-infra-state")]
    found += [f"dataset {d.dataset_id}" for d in bigquery.Client(project=project).list_datasets()
              if d.dataset_id.startswith(stack)]
    return found


def test_reconcile_noop_update_destroy_and_report(live_project: str, stack_id: str,
                                                 tmp_path: Path) -> None:
    first = _spec(tmp_path, project=live_project, stack=stack_id, label="ml-platform")
    second = _spec(tmp_path, project=live_project, stack=stack_id, label="ml-data")
    try:
        _apply(first)
        assert _changes(first) == [], "the second reconcile must be a no-op"
        _apply(second)
        assert _changes(second) == []
    finally:
        _apply(second, destroy=True)
        left = _leftovers(live_project, stack_id)
        print(f"\nlive stack {stack_id}: left behind (KMS ring/key {stack_id} cannot be "
              f"deleted): {left or 'nothing else'}")
        assert left == []
