"""Guardrails: policy checks on the resolved desired state, run at plan time before any API call.

Each kind declares its rules (``Kind.guardrails``) and the ``policy:`` settings it reads
(``Kind.policy_settings``), and reports its own violations (``Kind.check_policy``); the
registry collects the declarations, so the spec loader can refuse unknown rules in
waivers and unknown policy settings. A resource may waive a rule with a written reason
(``waivers: {rule: reason}``), which the plan then shows. Any unwaived violation stops
the plan with one line naming file, line and rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from mlops_infra.engine.errors import PolicyViolation, SourceLocation
from mlops_infra.engine.kind import Kind, Violation


class Checked(Protocol):
    """What the guardrails need of a resolved resource."""

    @property
    def address(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def desired(self) -> dict[str, Any]: ...

    @property
    def waivers(self) -> Mapping[str, str]: ...

    def field_location(self, path: str) -> SourceLocation: ...


def enforce(resources: Iterable[Checked], *, policy: dict[str, Any]) -> None:
    """Raise ``PolicyViolation`` for the first unwaived violation, in spec order."""
    for res in resources:
        for violation in res.kind.check_policy(res.desired, policy):
            if violation.rule not in res.waivers:
                raise _error(res, violation)


def _error(res: Checked, violation: Violation) -> PolicyViolation:
    field = f"resources.{res.address}" + (f".{violation.path}" if violation.path else "")
    return PolicyViolation(f"guardrail '{violation.rule}': {violation.message} "
                           f"(waive it with waivers: {{{violation.rule}: \"reason\"}})",
                           location=res.field_location(violation.path), field=field)

