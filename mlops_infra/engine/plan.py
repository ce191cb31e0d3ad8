"""The frozen ``Plan``: what would change, per resource and field, and against which ledger.

A plan is pure data. It round-trips through JSON (``to_json``/``from_json``) so CI
can plan on a pull request and apply the same plan on merge; ``ledger_generation``
lets ``apply`` refuse a plan whose ledger has moved since, and ``ledger_location``
says where that ledger lives (a local file or ``gs://``), so applying a saved plan
needs no flags. A plan file that is damaged or edited by hand is refused with one
line (see ``engine.plan_file``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from mlops_infra.engine.kind import FieldChange, Kind, logical_key

PLAN_FORMAT_VERSION = 2


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

    ``id`` is the API name the resource has (or will have; ``""`` for a server-named
    resource not created yet); a replace deletes ``previous_id`` (when the name changes)
    or ``id`` first. ``desired`` is the resolved REST dict to apply (``None`` for
    deletes); ``blocked`` is a reason the change cannot be applied as is (it is shown,
    and ``apply`` refuses the whole plan while any change is blocked). ``adopt`` marks a
    live resource taken into the ledger, ``adopt_reason`` says how it was proven ours.
    ``preexisting`` are paths of a shared thing (binding pairs) that existed before this
    stack first applied them: they are never removed. ``moved_from`` is the ledger key
    of the same API resource under its previous address. ``secret_paths`` are the paths of
    ``desired`` that are sensitive (``engine.sensitive``): ``desired`` keeps their
    ``${secrets.NAME}`` references, their changes show ``(sensitive)``, and the ledger gets a
    keyed hash there.
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
    adopt: bool = False
    adopt_reason: str | None = None
    allow_data_loss: bool = False       # replace/delete may destroy contained data
    waivers: dict[str, str] = field(default_factory=dict)   # guardrail rule -> written reason
    exact: tuple[str, ...] = ()         # authoritative map paths (see Kind.exact_paths)
    last_applied: dict[str, Any] | None = None   # for deletes: what the ledger says we applied
    previous_id: str | None = None
    moved_from: str | None = None
    preexisting: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()
    restart: str | None = None          # an update that stops and restarts it: why

    @property
    def key(self) -> str:
        return logical_key(self.kind, self.address)

    @property
    def mutates(self) -> bool:
        return self.action is not Action.NOOP

    @property
    def removing(self) -> bool:
        """Whether it takes the resource out of the ledger (delete or abandon)."""
        return self.action in (Action.DELETE, Action.ABANDON)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["changes"] = [asdict(c) for c in self.changes]
        for name in ("depends_on", "exact", "preexisting", "notes", "secret_paths"):
            data[name] = list(getattr(self, name))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceChange:
        data = dict(data)
        data["action"] = Action(data["action"])
        data["changes"] = tuple(FieldChange(**c) for c in data.get("changes", ()))
        for name in ("depends_on", "exact", "preexisting", "notes", "secret_paths"):
            data[name] = tuple(data.get(name, ()))
        return cls(**data)


def digest_of(document: dict[str, Any]) -> str:
    """The SHA-256 of a plan document (without its ``digest``) in canonical JSON."""
    body = {k: v for k, v in document.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# The HTML renderer registers itself here (report layer); the engine never imports it.
_html_renderer: Callable[[Plan], str] | None = None


def set_html_renderer(render: Callable[[Plan], str]) -> None:
    """Called by ``mlops_infra.report`` so plans render as HTML tables in Jupyter."""
    global _html_renderer
    _html_renderer = render


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
    notes: tuple[str, ...] = ()         # plan-wide notes (e.g. "ledger migrated from schema 1")

    @property
    def has_changes(self) -> bool:
        return any(r.mutates for r in self.resources)

    @property
    def blocked(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.blocked]

    @property
    def local(self) -> bool:
        """Whether the plan's ledger is a local file (made with ``--local``)."""
        return not self.ledger_location.startswith("gs://")

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
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """The plan file: the document plus its ``digest`` (see ``engine.plan_file``)."""
        document = json.loads(json.dumps(self.to_dict(), default=str))
        document["digest"] = digest_of(document)
        return json.dumps(document, indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Build a plan from its JSON document (already checked by ``engine.plan_file``)."""
        fields = {k: data[k] for k in ("stack", "project", "env", "spec_path", "ledger_location",
                                       "ledger_generation", "created_at")}
        return cls(**fields, resources=tuple(ResourceChange.from_dict(r) for r in data["resources"]),
                   outputs=data.get("outputs", {}), ledger_sync=data.get("ledger_sync", False),
                   notes=tuple(data.get("notes", ())))

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan",
                  kinds: Mapping[str, Kind] | None = None) -> Plan:
        """Parse and check a saved plan (with ``kinds``: its kinds and API names too);
        ``UserError`` naming ``source`` if it is not one we can apply."""
        from mlops_infra.engine.plan_file import parse_plan

        return parse_plan(text, source=source, kinds=kinds)

    def _repr_html_(self) -> str:
        if _html_renderer is None:
            return f"<pre>{self.summary()}</pre>"
        return _html_renderer(self)
