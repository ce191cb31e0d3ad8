"""What a saved plan may touch, proven again against the ledger when it is applied.

A plan file is data: its digest catches a file damaged or edited by mistake, but anyone can
edit one and compute the digest again. So applying a plan that was not made in the same
process re-proves, under the lock and against the ledger generation it was made from, that
every change to something that already exists is one this stack may make:

- a change to a recorded resource names the ledger's entry: the same API name (the previous
  one for a rename), and for a delete the same record of what was applied and of the parts
  that existed before (what a shared thing's removal takes away);
- a resource the ledger does not record is touched only as an adoption proven again now
  (``adoptable``: the spec says ``adopt: true``, or its live labels name this stack), or as
  the first share of a shared thing that removes nothing, or because this stack's ledger
  holds the intent to create exactly it, or as the deletion of one whose live labels name
  this stack, proven again now (``labelled``), that a stopped run created: server-named
  with an intent naming no API name, or of a kind whose labels alone prove it
  (``ownership.labelled_by_name``: its create writes no intent);
- ``moved_from`` names an entry of the same API name.

A create needs no proof (a 409 is adopted only when the executor proves the resource ours),
except one claiming this stack's intent, which must be in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops_infra.engine.diff import without_paths
from mlops_infra.engine.kind import Kind
from mlops_infra.engine.ownership import INTENDED, labelled_by_name
from mlops_infra.engine.plan import Action, Plan, ResourceChange


def unproven(plan: Plan, ledger: Any, *, kinds: Mapping[str, Kind],
             adoptable: Callable[[ResourceChange], bool],
             labelled: Callable[[ResourceChange], bool]) -> str | None:
    """Why the first change of ``plan`` that ``ledger`` (a ``LedgerView``) does not back may
    not be applied, or ``None`` when every change is backed. ``adoptable``: an adoption may be
    made now; ``labelled``: the live labels of the resource name this stack now."""
    for change in plan.resources:
        why = _unbacked(change, ledger, kinds, adoptable, labelled)
        if why is not None:
            return f"{change.kind} {change.address} ({change.action.value} of {change.id or 'a new resource'}): {why}"
    return None


def _unbacked(change: ResourceChange, ledger: Any, kinds: Mapping[str, Kind],
              adoptable: Callable[[ResourceChange], bool],
              labelled: Callable[[ResourceChange], bool]) -> str | None:
    moved = ledger.entries.get(change.moved_from) if change.moved_from is not None else None
    if change.moved_from is not None and (moved is None or moved.id != change.id):
        return f"it claims to move the ledger entry {change.moved_from}, which does not record it"
    if change.action is Action.CREATE:
        if change.adopt_reason == INTENDED and not _intended(change, ledger):
            return "it claims this stack's intent to create it, which the ledger does not hold"
        return None
    entry = ledger.entries.get(change.key) or moved
    if entry is not None:
        return _against_entry(change, entry)
    intended = _intended(change, ledger)
    if intended or (change.action is Action.DELETE and (
            _intended_unnamed(change, ledger, kinds) or labelled_by_name(kinds[change.kind]))):
        # a create a stopped run made (announced, or labelled): nothing recorded as applied
        if change.action is Action.DELETE and (change.last_applied or change.preexisting):
            return "its record of what was applied differs from the ledger's (none)"
        if intended or labelled(change):
            return None
        return "its live labels do not name this stack"
    if change.adopt:
        return None if adoptable(change) else "the ledger does not record it and it cannot be " \
                                              "proven this stack's to adopt"
    if kinds[change.kind].shared and change.action in (Action.UPDATE, Action.NOOP) \
            and not any(c.op == "remove" for c in change.changes):
        return None          # a first share: adds this stack's parts, takes nothing away
    return "this stack's ledger does not record it"


def _against_entry(change: ResourceChange, entry: Any) -> str | None:
    expected = change.previous_id if change.action is Action.REPLACE and change.previous_id \
        else change.id
    if entry.id != expected:
        return f"the ledger records {entry.id} at this address"
    preexisting = tuple(entry.preexisting)
    if tuple(change.preexisting) != preexisting:
        return "its record of the parts that existed before this stack differs from the ledger's"
    if change.action is Action.DELETE and \
            change.last_applied != without_paths(entry.applied or {}, preexisting):
        return "its record of what was applied differs from the ledger's"
    return None


def _intended(change: ResourceChange, ledger: Any) -> bool:
    intent = ledger.intents.get(change.key)
    return intent is not None and bool(change.id) and intent.id == change.id


def _intended_unnamed(change: ResourceChange, ledger: Any, kinds: Mapping[str, Kind]) -> bool:
    """The ledger holds the intent to create a server-named resource at this address (its API
    name unknown when the intent was written)."""
    intent = ledger.intents.get(change.key)
    return intent is not None and not intent.id and bool(change.id) \
        and kinds[change.kind].naming == "server"
