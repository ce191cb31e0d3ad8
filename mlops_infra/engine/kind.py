"""The one extension point: a resource kind.

A kind turns a validated spec entry into the REST-shaped dict it wants live
(``desired``), reads live state (``list``/``get``) back in the same shape, and
performs create/update/delete. Everything else (diffing, ordering, retries, the
ledger, ownership) is generic and lives in the engine, which never imports Google libraries.

A kind also **declares** what it needs and offers, so nothing outside its module knows
its name: the Google API it needs enabled (``api``), the clients it calls (``uses``; the
emulator services ``--local`` starts are derived from them), whether its API name is
chosen by the user or the server (``naming``), whether it manages a part of something
shared (``shared``), its guardrail rules and policy settings, its secret fields, the
service agent that must be granted a CMEK key it is encrypted with (``service_agent``
with ``cmek_fields``), and capabilities it provides or requires (``provides``/``requires``).

A kind also says how to **move in** existing resources (``mlops_infra.importers`` drives it and
knows no kind's name nor any provider attribute): the google provider's Terraform resource
types it maps (``terraform_types``) and how one instance's attributes become spec entries
(``from_terraform``); which of its spec fields usually hold another resource's output
(``terraform_refs``, so the importer writes ``${vpc.selfLink}`` instead of a literal); how
a live resource becomes a spec entry (``from_live``, the inverse of ``desired``) and where
to find them (``live_resources``); and which live resources Google made and manages itself
(``google_managed``: the default network, service agents, default-enabled APIs).

Kinds raise only ``engine.errors`` API errors (``NotFound``, ``Conflict``,
``TransientError`` ...); ``kinds/_base.py`` translates google exceptions.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

MANAGED_BY_LABEL = "managed-by"
MANAGED_BY_VALUE = "mlops-infra"
STACK_LABEL = "mlops-infra-stack"
ADDRESS_LABEL = "mlops-infra-address"

_UNSAFE_NAME = re.compile(r"[\s\x00-\x1f\x7f]")
Naming = Literal["user", "server"]
Layer = Literal["Data", "Compute", "ML Platform", "Operations", "Security"]
LAYERS: tuple[Layer, ...] = ("Data", "Compute", "ML Platform", "Operations", "Security")
Removal = Literal["delete", "abandon"]
ReplaceOrder = Literal["delete-first", "create-first"]


@dataclass(frozen=True)
class ResourceId:
    """Who a resource is: its logical identity, its API name, and where it can be listed.

    The **logical identity** (``key``: kind and spec address) keys the ledger, the
    dependency graph and the diff. ``name`` is the API's full name (e.g.
    ``projects/p/buckets/b``), known up front for user-named kinds and only after
    creation for server-named ones (``""`` until then). ``scope`` groups resources
    listed by one call (e.g. ``projects/p``); ``parts`` carries what a kind needs to
    call its API.
    """

    kind: str
    name: str
    scope: str
    parts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    address: str = ""

    @property
    def key(self) -> str:
        return logical_key(self.kind, self.address or self.name)


def logical_key(kind: str, address: str) -> str:
    """The ledger/graph key of the resource at ``address`` of ``kind``."""
    return f"{kind}:{address}"


@cache
def name_regex(pattern: str) -> re.Pattern[str]:
    """``Kind.name_pattern`` as a regular expression."""
    segments = pattern.split("/")
    if "**" in segments[:-1]:
        raise ValueError(f"name pattern {pattern!r}: '**' may only be the last segment")
    one = r"[^/\s\x00-\x1f\x7f]+"
    return re.compile("/".join(f"{one}(?:/{one})*" if s == "**" else one if s == "*"
                               else re.escape(s) for s in segments))


def api_capability(project: str, api: str) -> str:
    """What enabling ``api`` in ``project`` provides, and what a kind with that ``api`` needs."""
    return f"api:{project}/{api}"


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


@dataclass(frozen=True)
class ClientDecl:
    """A Google API client a kind calls.

    ``endpoint`` names the service in the endpoints map (and the emulator service that
    serves it); ``build(url, project)`` makes a client, where ``url`` is the emulator's
    endpoint or ``None`` for Google's own. Clients are cached per (decl, project) when
    ``per_project``, else once.
    """

    endpoint: str
    build: Callable[[str | None, str | None], Any]
    per_project: bool = False


@dataclass(frozen=True)
class ServiceAgent:
    """A Google-managed identity acting for a kind's service (e.g. encrypting with CMEK).

    ``name`` is how specs and grants refer to it (``serviceAgent: storage``); ``email``
    asks the API for the agent of a project (``email(clients, project)``); ``email_pattern``
    (a regular expression) recognises its email without asking, so an import turns a
    grant to it into ``serviceAgent: NAME``.
    """

    name: str
    email: Callable[[Any, str], str]
    uses: tuple[ClientDecl, ...] = ()
    email_pattern: str | None = None


@dataclass(frozen=True)
class Requirement:
    """A capability a resource needs; ``missing`` (if set) is the spec error when no
    resource of the spec provides it (otherwise it is only an ordering edge)."""

    capability: str
    missing: str | None = None


FieldChanges = list[FieldChange]   # module-level: inside Kind, ``list`` names the method
Names = list[str]


@dataclass(frozen=True)
class Imported:
    """One spec entry read back from Terraform state or from a live resource.

    ``fields`` are the kind's spec fields holding only what was set (values equal to the
    default Google applies are left out); ``name`` is the entry's ``name:``; ``project`` its
    project; ``region`` where it lives, for kinds whose ``region_field`` defaults to the
    spec's region (the importer writes that field only when it differs). ``secrets`` maps a
    field path to what to fill in (the value never leaves the state: the importer writes a
    ``secrets:`` entry and ``${secrets.NAME}``); ``notes`` say what did not carry over;
    ``key`` tells apart several entries made from one Terraform instance (an address suffix);
    ``api_name`` is the API name of a resource whose name the server chose (it goes into the
    ledger, which is how such a resource is found again). ``skipped``, set by
    ``Kind.adjust_imports``, says why the entry is left out after all (listed, never imported).
    """

    name: str
    fields: dict[str, Any]
    project: str | None = None
    region: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    key: str = ""
    api_name: str = ""
    skipped: str = ""


class NotImportable(Exception):
    """This Terraform instance or live resource has no spec entry; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadAttribute(ValueError):
    """A Terraform state attribute holds a value the provider never writes there (a damaged
    or hand-edited state): the import is refused, naming the state's line and ``path`` (the
    steps under the instance's ``attributes``)."""

    def __init__(self, path: tuple[str | int, ...], problem: str) -> None:
        self.path = path
        super().__init__(problem)


ImportedList = list[Imported]   # module-level: inside Kind, ``list`` names the method


class Kind(ABC):
    """Base class of a resource kind; subclasses register with ``engine.registry``."""

    # --- identity and shape ---------------------------------------------------------------
    name: ClassVar[str]                       # "storage.Bucket"
    model: ClassVar[type[BaseModel]]          # validates the spec fields (extra="forbid")
    outputs: ClassVar[frozenset[str]]         # names usable as ${address.output}
    naming: ClassVar[Naming] = "user"         # who chooses the API name: the user or the server
    name_pattern: ClassVar[str | None] = None  # its API names, e.g. "projects/*/buckets/*" ("*":
                                              # one segment, a last "**": one or more); read
                                              # back from a ledger or plan, a name must match
    layer: ClassVar[Layer]                    # where the platform diagram draws it (``graph``)
    immutable: ClassVar[frozenset[str]] = frozenset()   # dotted REST paths; a change replaces
    set_paths: ClassVar[frozenset[str]] = frozenset()   # lists the API treats as sets (order-free)
    list_keys: ClassVar[Mapping[str, str]] = {}   # list path -> its items' natural key ("": the
                                              # item itself), to show list changes item by item
    local_fields: ClassVar[frozenset[str]] = frozenset()  # the tool's own settings: kept in the
                                              # ledger, never sent to nor compared with the API
    input_only: ClassVar[frozenset[str]] = frozenset()  # paths the API takes but never returns
                                              # (field_behavior INPUT_ONLY): compared with the
                                              # last-applied spec instead of live state
    data_bearing: ClassVar[bool] = False      # deleting may lose data
    read_lag: ClassVar[float] = 0.0           # seconds a new one may still read as absent after
                                              # its create returned (eventually consistent reads)
    deletion_keeps: ClassVar[bool] = False    # a delete leaves it in place, emptied (a KMS key:
                                              # only its versions are destroyed): once
                                              # ``holds_data`` is false, it is as deleted
    deletion_note: ClassVar[str | None] = None  # what a delete or replace entails, shown in the
                                              # plan (e.g. a name blocked for days after it)
    labels_path: ClassVar[str | None] = "labels"  # where managed labels go; None = no labels
    secret_fields: ClassVar[frozenset[str]] = frozenset()  # paths never shown nor stored in clear
    listable: ClassVar[bool] = True           # list(scope) returns every resource in scope
    complete_listing: ClassVar[bool] = True   # listed items carry every field ``desired`` writes
    replace_order: ClassVar[ReplaceOrder] = "delete-first"  # "create-first": the replacement
                                              # (``replacement``) is made before the old one goes
    soft_delete: ClassVar[str | None] = None  # a deleted one lingers, restorable, this long
                                              # (e.g. "about 7 days"): ``list_deleted`` lists
                                              # them, and creating one of those ids undeletes it
    shared: ClassVar[bool] = False            # manages a part of something shared (IAM bindings,
                                              # audit configs, APIs): never adopted; parts that
                                              # existed before are recorded and left in place
    merges: ClassVar[bool] = False            # (shared) its create edits a thing that exists (a
                                              # policy): ``update`` with the live state it was
                                              # given writes conditionally on that read (etag)

    # --- what it needs and offers (declared, never hard-coded elsewhere) ------------------
    api: ClassVar[str | None] = None          # e.g. "storage.googleapis.com": waits for its enablement
    uses: ClassVar[tuple[ClientDecl, ...]] = ()   # the clients it calls (-> emulator services)
    service_agent: ClassVar[ServiceAgent | None] = None   # who must be granted its CMEK key
    cmek_fields: ClassVar[tuple[str, ...]] = ()   # spec fields that may name a CMEK key
    guardrails: ClassVar[Mapping[str, str]] = {}  # rule -> what it requires (waivable)
    policy_settings: ClassVar[Mapping[str, Any]] = {}  # ``policy:`` key -> type it reads

    # --- moving in (``mlops_infra.importers``) --------------------------------------------
    terraform_types: ClassVar[tuple[str, ...]] = ()   # google provider resource types it maps
    terraform_refs: ClassVar[Mapping[str, str]] = {}  # spec field path ("[]": each list item)
                                              # -> the output such a value usually is, e.g.
                                              # {"network": "selfLink"}: literal values equal to
                                              # another imported resource's output become refs
    region_field: ClassVar[str | None] = None  # the field that defaults to the spec's region

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    # --- hooks with defaults (most kinds need none of them) ---------------------------------
    def provides(self, ctx: ResourceContext, fields: dict[str, Any]) -> frozenset[str]:
        """Capabilities this resource brings into being (e.g. ``api:P/compute.googleapis.com``,
        ``workload-pool:P.svc.id.goog``); resources requiring one are ordered after it."""
        return frozenset()

    def requires(self, ctx: ResourceContext, fields: dict[str, Any]) -> list[Requirement]:
        """Capabilities this resource needs besides its ``api`` (see ``Requirement``)."""
        return []

    def implied_resources(self, res: Any) -> list[Any]:
        """Extra ``ResourceSpec``s this resource needs; ``res`` depends on them."""
        return []

    def encryption_grant(self, *, key: str, consumer: Any, agent: str) -> list[Any]:
        """For a key kind: the ``ResourceSpec``s granting service agent ``agent`` the use of
        ``key`` (a template naming this kind's resource) for ``consumer``; others: none."""
        return []

    def exact_paths(self, fields: dict[str, Any]) -> frozenset[str]:
        """Map paths (in ``desired``) managed authoritatively, from the resolved spec ``fields``:
        live keys under them that ``desired`` lacks are removed."""
        return frozenset()

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> Removal:
        """What removing it from the spec does: ``"delete"``, or ``"abandon"`` (forget, keep live)."""
        return "delete"

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        """Guardrail violations of ``desired`` under the spec's ``policy`` (see engine.guardrails)."""
        return []

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        """Why the API would reject this resource's name (``ctx.name``), or ``None``."""
        return None

    def serial_key(self, rid: ResourceId) -> str | None:
        """Changes of resources sharing a key run one at a time (GKE allows one operation per
        cluster; Monitoring rejects concurrent edits in a project); ``None``: no constraint."""
        return None

    def same_resource(self, rid: ResourceId, name: str) -> bool:
        """Whether the API name the ledger recorded (``name``) is still the resource ``rid``
        names (e.g. a node pool replaced create-first under a suffixed name)."""
        return name == rid.name

    def replacement(self, rid: ResourceId) -> ResourceId:
        """For ``replace_order = "create-first"``: the identity the replacement gets (another
        API name, so both can exist while it is made)."""
        raise NotImplementedError(f"{self.name} replaces delete-first")

    # --- identity and shape -------------------------------------------------
    @abstractmethod
    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        """API name and list scope from the resolved spec fields (``name=""`` when the
        server chooses it)."""

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
        """Rebuild a ``ResourceId`` from its API name (for ledger entries no longer in the spec).

        The default suits GCP names made of ``collection/value`` pairs: the scope is the
        name without its last pair, and ``parts`` maps each collection to its value.
        """
        segments = name.split("/")
        parts = dict(zip(segments[0::2], segments[1::2]))
        return ResourceId(kind=self.name, name=name, scope="/".join(segments[:-2]), parts=parts)

    def name_problem(self, name: str) -> str | None:
        """Why ``name``, an API name read back from a ledger or a plan file (someone may have
        edited it), cannot be one of this kind's, or ``None``: its segments must be non-empty,
        neither ``.`` nor ``..``, without blanks or control characters, and match
        ``name_pattern`` (every kind declares one: the conformance suite checks it); without
        one, ``id_from_name`` must read it back into the same name."""
        if self.name_pattern and name_regex(self.name_pattern).fullmatch(name) \
                and "/." not in name:
            return None                 # the common case: one match
        if _UNSAFE_NAME.search(name) or any(s in ("", ".", "..") for s in name.split("/")):
            return "an empty, '.' or '..' segment, or a blank or control character"
        if self.name_pattern:
            return f"a {self.name} is named {self.name_pattern}"
        try:
            same = self.id_from_name(name).name == name
        except (ValueError, IndexError, KeyError, TypeError, AttributeError):
            same = False
        return None if same else f"not the API name of a {self.name}"

    def api_name(self, live: dict[str, Any]) -> str:
        """The API name of a live resource (server-named kinds: read after create)."""
        return str(live["name"])

    # --- reads ----------------------------------------------------------------
    def list(self, scope: str) -> dict[str, dict[str, Any]] | None:
        """Every live resource of this kind in ``scope``, keyed by API name.

        Return ``None`` when the kind cannot list (then ``get`` is used per resource).
        Listed items may be partial; ``complete_listing`` says whether to ``get`` them too.
        """
        return None

    @abstractmethod
    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        """The live resource, or ``None`` when it does not exist."""

    def list_deleted(self, scope: str) -> dict[str, dict[str, Any]]:
        """Resources of ``scope`` deleted but still restorable (``soft_delete`` kinds), by API
        name: ``list`` and ``get`` leave them out, and a create of one of those ids undoes
        the deletion, so a plan creates one only when this stack can prove it its own."""
        return {}

    def holds_data(self, rid: ResourceId) -> bool:
        """Whether deleting/replacing it now would destroy data (objects, tables, rows)."""
        return False

    loss: ClassVar[str] = "it holds data"    # what deleting it loses, for the guard's message

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

    def restart_reason(self, changes: FieldChanges, live: dict[str, Any]) -> str | None:
        """Why applying these in-place changes stops and restarts the resource (machine type,
        GPUs...), or ``None``. Such an update is shown as a restart and needs an explicit allow;
        ``update`` then stops, changes and starts it again."""
        return None

    # --- moving in ------------------------------------------------------------------------
    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        """The spec entries one Terraform instance of ``tf_type`` (one of ``terraform_types``)
        stands for, from its state ``attributes``; ``NotImportable`` when it has none."""
        raise NotImportable(f"{self.name} has no Terraform mapping")

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """The spec entries the live resource ``name`` (as ``live_resources`` returns it) stands
        for: the inverse of ``desired``; ``NotImportable`` when it has none."""
        raise NotImportable(f"{self.name} cannot be imported from live state")

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """Every live resource of this kind in ``project`` (``regions``: where to look for
        regional ones), keyed by API name, complete enough for ``from_live``. The default
        lists ``projects/PROJECT`` (and reads each item when listings are partial)."""
        if not self.listable:
            return {}
        found = self.list(f"projects/{project}") or {}
        if self.complete_listing:
            return found
        full = {name: self.get(self.id_from_name(name)) for name in found}
        return {name: live for name, live in full.items() if live is not None}

    def adjust_imports(self, own: ImportedList,
                       every: Mapping[str, ImportedList]) -> ImportedList:
        """This kind's entries of one import, revised knowing every kind's (``every``: kind
        name -> entries), e.g. a dataset's access entries that binding resources of the same
        import grant; the default keeps them as they are. An entry folded into another is
        left out of the result; one that cannot be imported after all is returned with
        ``skipped`` saying why (the import lists it)."""
        return own

    def holds_ledger(self, name: str, live: dict[str, Any], ledger: str) -> bool:
        """Whether the live resource ``name`` is where mlops-infra keeps the ledger
        (``ledger``: ``gs://BUCKET/PREFIX``): an import never takes it over."""
        return False

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        """Why the live resource ``name`` is Google's own (the default network, a service
        agent, a default-enabled API), so a live import leaves it out; ``None`` if it is not."""
        return None


def _under_any(path: str, prefixes: frozenset[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)
