"""The frozen ``Plan``: what would change, per resource and field, and against which ledger.

A plan is pure data. It round-trips through JSON (``to_json``/``from_json``) so CI
can plan on a pull request and apply the same plan on merge; ``ledger_generation``
lets ``apply`` refuse a plan whose ledger has moved since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from mlops_infra.engine.kind import FieldChange

PLAN_FORMAT_VERSION = 1


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    ABANDON = "abandon"     # removed from the spec, kept live (cannot or should not be deleted)
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "abandon": "~-",
                "noop": " "}[self.value]


@dataclass(frozen=True)
class ResourceChange:
    """The planned action for one resource.

    ``desired`` is the resolved REST dict to apply (``None`` for deletes);
    ``applied`` is what the ledger should record as last-applied afterwards;
    ``blocked`` is a reason the change cannot be applied as is (it is shown, and
    ``apply`` refuses the whole plan while any change is blocked).
    """

    address: str
    kind: str
    id: str
    action: Action
    changes: tuple[FieldChange, ...] = ()
    desired: dict[str, Any] | None = None
    depends_on: tuple[str, ...] = ()
    reason: str | None = None
    blocked: str | None = None
    parts: dict[str, str] = field(default_factory=dict)
    scope: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    adopt: bool = False                 # exists live, carries our labels, not yet in the ledger
    allow_data_loss: bool = False       # replace/delete may destroy contained data
    waivers: dict[str, str] = field(default_factory=dict)   # guardrail rule -> written reason
    exact: tuple[str, ...] = ()         # authoritative map paths (see Kind.exact_paths)
    last_applied: dict[str, Any] | None = None   # for deletes: what the ledger says we applied

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def mutates(self) -> bool:
        return self.action is not Action.NOOP

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["changes"] = [asdict(c) for c in self.changes]
        data["depends_on"] = list(self.depends_on)
        data["exact"] = list(self.exact)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceChange:
        data = dict(data)
        data["action"] = Action(data["action"])
        data["changes"] = tuple(FieldChange(**c) for c in data.get("changes", ()))
        data["depends_on"] = tuple(data.get("depends_on", ()))
        data["exact"] = tuple(data.get("exact", ()))
        return cls(**data)


@dataclass(frozen=True)
class Plan:
    """Every resource's planned action, in dependency order (deletes last, reversed)."""

    stack: str
    project: str
    env: str | None
    spec_path: str
    ledger_location: str
    ledger_generation: int
    created_at: str
    resources: tuple[ResourceChange, ...]
    outputs: dict[str, Any] = field(default_factory=dict)
    ledger_sync: bool = False           # ledger must be written even with no API change

    @property
    def has_changes(self) -> bool:
        return any(r.mutates for r in self.resources)

    @property
    def blocked(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.blocked]

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for r in self.resources:
            counts[r.action.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "stack": self.stack, "project": self.project, "env": self.env,
            "spec_path": self.spec_path, "ledger_location": self.ledger_location,
            "ledger_generation": self.ledger_generation, "created_at": self.created_at,
            "has_changes": self.has_changes, "summary": self.summary(),
            "resources": [r.to_dict() for r in self.resources],
            "outputs": self.outputs, "ledger_sync": self.ledger_sync,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        version = data.get("format_version")
        if version != PLAN_FORMAT_VERSION:
            from mlops_infra.engine.errors import UserError

            raise UserError(f"plan format_version {version!r} is not supported "
                            f"(this version reads {PLAN_FORMAT_VERSION})")
        fields = {k: data[k] for k in ("stack", "project", "env", "spec_path", "ledger_location",
                                       "ledger_generation", "created_at")}
        return cls(**fields, resources=tuple(ResourceChange.from_dict(r) for r in data["resources"]),
                   outputs=data.get("outputs", {}), ledger_sync=data.get("ledger_sync", False))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))

    def _repr_html_(self) -> str:
        from mlops_infra.report.html import render_html  # report renders; engine stays pure

        return render_html(self)
