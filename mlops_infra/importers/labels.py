"""The one step after an import: add the ownership labels (``managed-by``,
``mlops-infra-stack``) to the imported resources that can carry labels.

The plan of this step holds only those labels; when the spec has other changes too, the step
refuses (reconcile them first: the labels stay pending there, and this step stays one thing
to review).
"""

from __future__ import annotations

from typing import Any

from mlops_infra.engine import ownership
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.plan import Plan


def labels_plan(stack: Any) -> Plan:
    """The plan adding the pending ownership labels; ``UserError`` if it would do more."""
    plan = stack.plan(ownership_labels=True)
    other = [c for c in plan.resources if c.mutates
             and not ownership.only_managed_labels(stack.kinds[c.kind], list(c.changes))]
    if other:
        shown = ", ".join(f"{c.address} ({c.action.value})" for c in other[:5])
        raise UserError(f"the plan changes more than the ownership labels ({shown}): reconcile "
                        "those first (`reconcile` leaves the labels pending), then run this again")
    return plan
