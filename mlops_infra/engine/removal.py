"""Planning the removal of what the ledger holds and the spec no longer has.

Two kinds of leftovers: ledger entries (resources this stack applied) and intents (creates
a run announced and may have made before it stopped). Each becomes a delete, an abandon
(the kind says it cannot or should not be deleted, or everything it holds of a shared
thing existed before this stack), or a no-op that only drops the record when the
resource is already gone. Deletes run dependents first: what lives inside a resource,
and what depended on it.

The intent to create a server-named resource has no API name (the server had not answered
yet) but its scope: the resource is looked for in that scope's listing by its ownership
labels (this stack and this address), as the planner finds a spec resource. One match is
the leftover; several block the removal, naming them; none means it was never made.

A user-named resource with labels needs no intent: it is created carrying labels that name
this stack. When a run stopped between creating it and recording it, ``destroy`` still finds
it, from the spec's name (``unrecorded``): it is deleted only when its live labels name this
stack, and otherwise not touched or shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlops_infra.engine.diff import without_paths
from mlops_infra.engine.kind import Kind, ResourceId, logical_key
from mlops_infra.engine.ownership import judge, kept_unprovable, labelled_by_name, other_stack
from mlops_infra.engine.plan import Action, ResourceChange
from mlops_infra.engine.reading import LiveState


@dataclass(frozen=True)
class _Leftover:
    kind: str
    id: str
    address: str
    applied: dict[str, Any] | None      # None: only an intent (never recorded as applied)
    outputs: dict[str, Any]
    depends_on: tuple[str, ...]
    preexisting: tuple[str, ...]
    rid: ResourceId
    unrecorded: bool = False            # no entry, no intent: ours only if its labels say so
    desired: dict[str, Any] | None = None    # the spec's, for an unrecorded one (its removal)

    @property
    def key(self) -> str:
        return logical_key(self.kind, self.address)


@dataclass(frozen=True)
class Leftovers:
    """Ledger entries and intents of resources the spec no longer has."""

    items: tuple[_Leftover, ...]

    def ids(self) -> list[ResourceId]:
        """What to read: each named leftover, and the scope of each to find by its labels."""
        return [item.rid for item in self.items if item.rid.name or item.rid.scope]

    def lagging(self, live: LiveState, kinds: Mapping[str, Kind]) -> list[ResourceId]:
        """Intended resources that read as absent though they may exist: a stopped run may
        have created them moments ago, and their kind's reads lag behind (``Kind.read_lag``)."""
        return [item.rid for item in self.items
                if item.applied is None and not item.unrecorded and item.rid.name
                and kinds[item.kind].read_lag and live.get(item.rid) is None]

    def plan(self, live: LiveState, *, kinds: Mapping[str, Kind], allow_data_loss: bool,
             stack: str, why: str = "no longer in the spec") -> list[ResourceChange]:
        children = _children(self.items)
        planned = (_plan_one(item, children.get(item.key, ()), live, kinds[item.kind],
                             allow_data_loss, why, stack) for item in self.items
                   if not _deleted_here(item, live, kinds[item.kind]))
        return [change for change in planned if change is not None]


def _deleted_here(item: _Leftover, live: LiveState, kind: Kind) -> bool:
    """An intent this stack kept after deleting a restorable resource (``Kind.soft_delete``),
    or after abandoning one its kind keeps live with nothing on it to say whose it is (a KMS
    key ring: ``ownership.kept_unprovable``): it proves the resource this stack's while it is
    pending deletion or live, so it stays silently."""
    if item.applied is not None or item.unrecorded:
        return False
    if live.pending_deletion(item.rid) is not None:
        return True
    return kept_unprovable(kind) and live.get(item.rid) is not None


def _children(items: tuple[_Leftover, ...]) -> dict[str, tuple[str, ...]]:
    """Addresses each leftover must see deleted first: what lives in it (its API name is a
    prefix of theirs) and what depended on it. Linear in the items times name depth."""
    by_name = {item.rid.name: item.key for item in items if item.rid.name}
    found: dict[str, list[str]] = {}
    for other in items:
        segments = other.rid.name.split("/")
        for cut in range(2, len(segments), 2):
            parent = by_name.get("/".join(segments[:cut]))
            if parent is not None:
                found.setdefault(parent, []).append(other.address)
        for key in other.depends_on:
            found.setdefault(key, []).append(other.address)
    return {key: tuple(dict.fromkeys(addresses)) for key, addresses in found.items()}


def leftovers(ledger: Any, *, kept: set[str], kinds: Mapping[str, Kind],
              unrecorded: Iterable[Any] = ()) -> Leftovers:
    """The entries and intents of ``ledger`` whose keys are not in ``kept``, and the
    ``unrecorded`` spec resources (``Resolved``, for a ``destroy``) the ledger knows nothing of,
    that a stopped run may have created without recording them (``labelled_by_name``)."""
    items = [_from_entry(e, kinds) for key, e in ledger.entries.items() if key not in kept]
    items += [_from_intent(i, kinds) for key, i in ledger.intents.items()
              if key not in kept and key not in ledger.entries]
    recorded = {(e.kind, e.id) for e in (*ledger.entries.values(), *ledger.intents.values())}
    items += [_from_spec(r.rid, r.desired) for r in unrecorded
              if labelled_by_name(r.kind) and r.rid.name and "${" not in r.rid.name
              and r.rid.key not in kept and r.rid.key not in ledger.entries
              and r.rid.key not in ledger.intents and (r.kind.name, r.rid.name) not in recorded]
    return Leftovers(items=tuple(items))


def _rid(kinds: Mapping[str, Kind], kind: str, name: str, address: str) -> ResourceId:
    if not name:
        return ResourceId(kind=kind, name="", scope="", address=address)
    return replace(kinds[kind].id_from_name(name), address=address)


def _from_entry(entry: Any, kinds: Mapping[str, Kind]) -> _Leftover:
    return _Leftover(kind=entry.kind, id=entry.id, address=entry.address, applied=entry.applied,
                     outputs=entry.outputs, depends_on=tuple(entry.depends_on),
                     preexisting=tuple(entry.preexisting),
                     rid=_rid(kinds, entry.kind, entry.id, entry.address))


def _from_intent(intent: Any, kinds: Mapping[str, Kind]) -> _Leftover:
    rid = _rid(kinds, intent.kind, intent.id, intent.address)
    scope = getattr(intent, "scope", "")      # ledgers written before intents had one: ""
    if not rid.name and scope and kinds[intent.kind].naming == "server":
        rid = replace(rid, scope=scope)       # found by its labels there (``_found``)
    return _Leftover(kind=intent.kind, id=intent.id, address=intent.address, applied=None,
                     outputs={}, depends_on=(), preexisting=(), rid=rid)


def _from_spec(rid: ResourceId, desired: dict[str, Any]) -> _Leftover:
    return _Leftover(kind=rid.kind, id=rid.name, address=rid.address, applied=None, outputs={},
                     depends_on=(), preexisting=(), rid=rid, unrecorded=True, desired=desired)


def _found(item: _Leftover, live: LiveState, kind: Kind, stack: str) -> _Leftover | str:
    """A leftover with no API name, named after the one live resource in its scope whose
    labels name this stack and its address (unchanged when there is none); why it is
    blocked when there are several."""
    if item.rid.name or not item.rid.scope:
        return item
    found = live.owned(kind, item.rid, stack)
    if len(found) > 1:
        return (f"{len(found)} resources carry this stack's labels for '{item.address}' "
                f"({', '.join(found)}); delete the extra ones")
    if not found:
        return item
    return replace(item, id=found[0], rid=replace(kind.id_from_name(found[0]), address=item.address))


def _plan_one(item: _Leftover, children: tuple[str, ...], live: LiveState, kind: Kind,
              allow_data_loss: bool, why: str, stack: str) -> ResourceChange | None:
    if item.unrecorded and not _labelled_ours(item, live, kind, stack):
        return None
    found = _found(item, live, kind, stack)
    if isinstance(found, str):
        return ResourceChange(address=item.address, kind=item.kind, id=item.id,
                              depends_on=children, parts=item.rid.parts, scope=item.rid.scope,
                              outputs=item.outputs, allow_data_loss=allow_data_loss,
                              action=Action.NOOP, blocked=found)
    item = found
    applied = without_paths(item.applied or {}, item.preexisting)
    base: dict[str, Any] = dict(address=item.address, kind=item.kind, id=item.id,
                                depends_on=children, parts=item.rid.parts, scope=item.rid.scope,
                                outputs=item.outputs, allow_data_loss=allow_data_loss,
                                last_applied=applied, preexisting=item.preexisting)
    if item.applied is None:
        proof = " (its labels name this stack)" if item.unrecorded else ""
        why = f"created by a run that stopped before recording it{proof}; {why}"
    current = live.get(item.rid)
    if current is None:
        return ResourceChange(**base, action=Action.NOOP, reason="already gone; dropped from the ledger")
    owner = other_stack(kind, kind.normalize(current), stack=stack)
    if owner is not None:       # recorded here, labelled there: not provably ours
        return ResourceChange(**base, action=Action.ABANDON,
                              reason=f"{why}; its labels name mlops-infra stack '{owner}': left "
                                     "in place, dropped from this ledger")
    if item.preexisting and not applied:
        return ResourceChange(**base, action=Action.ABANDON,
                              reason="existed before this stack applied it; left in place")
    if kind.removal(item.desired or applied, allow_data_loss=allow_data_loss) == "abandon":
        if item.unrecorded:
            return None         # nothing recorded to drop, and it is kept live
        return ResourceChange(**base, action=Action.ABANDON,
                              reason=f"{why}; kept live, dropped from the ledger")
    blocked = None
    if kind.data_bearing and not allow_data_loss and kind.holds_data(item.rid):
        blocked = f"{kind.loss}; pass --allow-data-loss to delete it anyway"
    notes = (kind.deletion_note,) if kind.deletion_note else ()
    return ResourceChange(**base, action=Action.DELETE, blocked=blocked, reason=why, notes=notes)


def _labelled_ours(item: _Leftover, live: LiveState, kind: Kind, stack: str) -> bool:
    """Whether the unrecorded ``item`` is live, labelled for this stack, and not what an
    earlier delete left in place (``Kind.deletion_keeps``: a KMS key with no version left)."""
    current = live.get(item.rid)
    if current is None or not judge(kind, current, stack=stack, intent=False,
                                    requested=False).ours:
        return False
    return not kind.deletion_keeps or kind.holds_data(item.rid)
