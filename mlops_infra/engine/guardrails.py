"""Guardrails: policy checks on the resolved desired state, run at plan time before any API call.

Each kind reports its own violations (``Kind.check_policy``); a resource may waive a rule
with a written reason (``waivers: {rule: reason}``), which the plan then shows. Any
unwaived violation stops the plan with one line naming file, line and rule.

Rules: ``no-public-members``, ``no-primitive-roles``, ``bucket-uniform-access``,
``bucket-public-access-prevention``, ``require-cmek`` (when ``policy.require_cmek``),
``firewall-open-ports`` (0.0.0.0/0 only on ``policy.allowed_public_ports``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

from mlops_infra.engine.errors import PolicyViolation, SourceLocation
from mlops_infra.engine.kind import Kind, Violation

RULES = ("no-public-members", "no-primitive-roles", "bucket-uniform-access",
         "bucket-public-access-prevention", "require-cmek", "firewall-open-ports")


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


def unknown_waivers(waivers: Mapping[str, str]) -> list[str]:
    return [rule for rule in waivers if rule not in RULES]
