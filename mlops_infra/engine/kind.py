"""The one extension point: a resource kind.

A kind turns a validated spec entry into the REST-shaped dict it wants live
(``desired``), reads live state (``list``/``get``) back in the same shape, and
performs create/update/delete. Everything else (diffing, ordering, retries, the
ledger) is generic and lives in the engine, which never imports Google libraries.

Kinds raise only ``engine.errors`` API errors (``NotFound``, ``Conflict``,
``TransientError`` ...); ``kinds/_base.py`` translates google exceptions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

MANAGED_BY_LABEL = "managed-by"
MANAGED_BY_VALUE = "mlops-infra"
STACK_LABEL = "mlops-infra-stack"


@dataclass(frozen=True)
class ResourceId:
    """Where a resource lives: its full name, and the scope it can be listed in.

    ``name`` is the stable identity used as the ledger key (e.g.
    ``projects/p/buckets/b``); ``scope`` groups resources listed by one call
    (e.g. ``projects/p``); ``parts`` carries the pieces a kind needs to call its API.
    """

    kind: str
    name: str
    scope: str
    parts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ResourceContext:
    """What a kind needs besides the user's fields to place a resource."""

    address: str            # logical name in the spec (the key under ``resources:``)
    name: str               # resource name (``name:`` or the address)
    project: str
    region: str | None
    stack: str


@dataclass(frozen=True)
class FieldChange:
    """One leaf difference: ``op`` is ``add``, ``change`` or ``remove``."""

    path: str
    op: str
    old: Any = None
    new: Any = None
    forces_replace: bool = False


@dataclass(frozen=True)
class Violation:
    """A guardrail rule broken by a resource: ``path`` is the field (for file:line)."""

    rule: str
    message: str
    path: str = ""


FieldChanges = list[FieldChange]   # module-level: inside Kind, ``list`` names the method
Names = list[str]


class Kind(ABC):
    """Base class of a resource kind; subclasses register with ``engine.registry``."""

    name: ClassVar[str]                       # "storage.Bucket"
    model: ClassVar[type[BaseModel]]          # validates the spec fields (extra="forbid")
    outputs: ClassVar[frozenset[str]]         # names usable as ${address.output}
    immutable: ClassVar[frozenset[str]] = frozenset()   # dotted REST paths; a change replaces
    data_bearing: ClassVar[bool] = False      # deleting may lose data
    labels_path: ClassVar[str | None] = "labels"  # where managed labels go; None = no labels
    secret_fields: ClassVar[frozenset[str]] = frozenset()  # never written to the ledger
    listable: ClassVar[bool] = True           # list(scope) returns every resource in scope
    adoptable: ClassVar[bool] = True          # a live one missing from the ledger is "adopted"
                                              # (False for parts of shared things: IAM bindings)

    required_api: ClassVar[str | None] = None  # e.g. "storage.googleapis.com": depends on its enablement

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    # --- hooks with defaults (most kinds need none of them) ---------------------------------
    def provided_api(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        """The API this resource enables in ``ctx.project`` (only ``serviceusage.Service``)."""
        return None

    def implied_resources(self, res: Any) -> list[Any]:
        """Extra ``ResourceSpec``s this resource needs (e.g. a CMEK grant); ``res`` depends on them."""
        return []

    def exact_paths(self, fields: dict[str, Any]) -> frozenset[str]:
        """Map paths (in ``desired``) managed authoritatively, from the resolved spec ``fields``:
        live keys under them that ``desired`` lacks are removed."""
        return frozenset()

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> str:
        """What removing it from the spec does: ``"delete"``, or ``"abandon"`` (forget, keep live)."""
        return "delete"

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list["Violation"]:
        """Guardrail violations of ``desired`` under the spec's ``policy`` (see engine.guardrails)."""
        return []

    # --- identity and shape -------------------------------------------------
    @abstractmethod
    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        """Full resource name and list scope from the resolved spec fields."""

    @abstractmethod
    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        """The REST-shaped dict of what the user wrote (shorthands expanded).

        Only fields the user wrote appear; the diff compares exactly these paths.
        Managed labels are added by the engine, not here.
        """

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        """Live REST dict in comparable form (output-only fields may stay: only
        paths present in ``desired`` are compared)."""
        return live

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        """Output values; must work with ``live=None`` for outputs known before creation."""
        return {}

    def id_from_name(self, name: str) -> ResourceId:
        """Rebuild a ``ResourceId`` from its full name (for ledger entries no longer in the spec).

        The default suits GCP names made of ``collection/value`` pairs: the scope is the
        name without its last pair, and ``parts`` maps each collection to its value.
        """
        segments = name.split("/")
        parts = dict(zip(segments[0::2], segments[1::2]))
        return ResourceId(kind=self.name, name=name, scope="/".join(segments[:-2]), parts=parts)

    # --- reads ----------------------------------------------------------------
    def list(self, scope: str) -> dict[str, dict[str, Any]] | None:
        """Every live resource of this kind in ``scope``, keyed by ``ResourceId.name``.

        Return ``None`` when the kind cannot list (then ``get`` is used per resource).
        Listed items may be partial; ``complete_listing`` says whether to ``get`` them too.
        """
        return None

    complete_listing: ClassVar[bool] = True

    @abstractmethod
    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        """The live resource, or ``None`` when it does not exist."""

    def holds_data(self, rid: ResourceId) -> bool:
        """Whether deleting/replacing it now would destroy data (objects, tables, rows)."""
        return False

    def contents(self, rid: ResourceId) -> Names | None:
        """Full names of the resources it contains, when they are resources of ours too
        (a dataset's tables); ``None`` when its data is opaque (a bucket's objects)."""
        return None

    # --- writes -----------------------------------------------------------------
    @abstractmethod
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        """Create it; return the live resource. A 409 raises ``errors.Conflict``."""

    @abstractmethod
    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        """Apply only ``changes`` (a ``remove`` has ``new=None``); return the live resource."""

    @abstractmethod
    def delete(self, rid: ResourceId, *, force: bool) -> None:
        """Delete it; ``force`` allows destroying contained data. Missing is not an error."""

    def remove(self, rid: ResourceId, *, applied: dict[str, Any] | None, force: bool) -> None:
        """Undo a resource removed from the spec; ``applied`` is its last-applied desired state.

        Kinds that manage a part of something shared (IAM bindings) override this to take
        back only what they applied; the default deletes the resource.
        """
        self.delete(rid, force=force)

    # --- change classification ---------------------------------------------
    def replace_reason(self, changes: FieldChanges) -> str | None:
        """Why these changes need delete+create, or ``None`` for an in-place update."""
        hits = [c.path for c in changes if _under_any(c.path, self.immutable)]
        return f"immutable field(s) {', '.join(hits)}" if hits else None

    def replace_loses_data(self, rid: ResourceId, changes: FieldChanges) -> bool:
        """Whether a replace would lose data (defaults to ``data_bearing``)."""
        return self.data_bearing


def _under_any(path: str, prefixes: frozenset[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)
