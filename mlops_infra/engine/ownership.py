"""Ownership: stamping our labels on desired state, and proving a live resource is ours.

A live resource missing from the ledger is this stack's only when it can be proven:
its labels name this stack (and, for server-named kinds, this address), or this stack's
ledger recorded the intent to create it before a run stopped. Anything else belongs to
someone else and is only taken over by an explicit ``adopt: true``.

A resource moved in by an import (``mlops_infra.importers``) is owned from the start, through
its ledger entry, but does not carry the ownership labels yet: its entry says
``labels_pending``, and plans leave those labels out (``without_managed_labels``) until the
one step that adds them (``plan(ownership_labels=True)``), so the first plan after an import
is "no changes".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mlops_infra.engine import paths
from mlops_infra.engine.diff import get_path
from mlops_infra.engine.kind import (
    ADDRESS_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    STACK_LABEL,
    Kind,
)

_LABEL_MAX = 63
MAX_LABELS = 64     # "No more than 64 labels can be associated with a given resource" (googleapis)


@dataclass(frozen=True)
class Verdict:
    """Whether an unrecorded live resource may be adopted, and why (shown in the plan)."""

    ours: bool
    reason: str


INTENDED = "this stack recorded the intent to create it before a run stopped"

def address_label(address: str) -> str:
    """The address as a label value (at most 63 characters; long ones end in a hash)."""
    if len(address) <= _LABEL_MAX:
        return address
    digest = hashlib.sha256(address.encode()).hexdigest()[:10]
    return f"{address[:_LABEL_MAX - 11]}-{digest}"


def labelled_by_name(kind: Kind) -> bool:
    """Whether a resource of ``kind`` proves itself this stack's by its labels alone, found by
    the name the spec gives it: it is created carrying them, so its create needs no intent
    (a server-named one's name is not known before the server answers; a kind without labels,
    or a part of a shared thing, cannot carry them)."""
    return kind.naming == "user" and kind.labels_path is not None and not kind.shared


def kept_unprovable(kind: Kind) -> bool:
    """Whether a removal always leaves a resource of ``kind`` live with nothing on it to say
    whose it is (a KMS key ring: KMS never deletes one, and it has no labels): the intent of
    one this stack made stays in the ledger as that proof (``executor``, ``removal``)."""
    return kind.labels_path is None and not kind.shared \
        and kind.removal({}, allow_data_loss=True) == "abandon"


def managed_labels(kind: Kind, stack: str, address: str) -> dict[str, str]:
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, STACK_LABEL: stack}
    if kind.naming == "server":
        labels[ADDRESS_LABEL] = address_label(address)
    return labels


def with_managed_labels(kind: Kind, desired: dict[str, Any], stack: str,
                        address: str) -> dict[str, Any]:
    """``desired`` plus our labels at the kind's labels path (ours override a user label of the same key)."""
    if kind.labels_path is None:
        return desired
    out = dict(desired)                     # copied along the labels' path only
    node = out
    *parents, leaf = paths.split(kind.labels_path)
    for part in parents:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    node[leaf] = {**(node.get(leaf) or {}), **managed_labels(kind, stack, address)}
    return out


def managed_label_paths(kind: Kind) -> frozenset[str]:
    """The field paths of the labels this tool adds (none for kinds without labels)."""
    if kind.labels_path is None:
        return frozenset()
    keys = (MANAGED_BY_LABEL, STACK_LABEL, ADDRESS_LABEL)
    return frozenset(paths.join(kind.labels_path, key) for key in keys)


def only_managed_labels(kind: Kind, changes: list[Any]) -> bool:
    """Whether ``changes`` (``FieldChange``s) touch nothing but this tool's labels."""
    ours = managed_label_paths(kind)
    return bool(changes) and all(c.path in ours for c in changes)


def without_managed_labels(kind: Kind, changes: list[Any]) -> list[Any]:
    """``changes`` without those adding or changing this tool's labels."""
    ours = managed_label_paths(kind)
    return [c for c in changes if c.path not in ours]


def labels_of(kind: Kind, live: dict[str, Any]) -> dict[str, Any]:
    if kind.labels_path is None:
        return {}
    labels = get_path(kind.normalize(live), kind.labels_path)
    return labels if isinstance(labels, dict) else {}


def other_stack(kind: Kind, normalized: dict[str, Any], *, stack: str) -> str | None:
    """The other mlops-infra stack whose ownership labels the (normalised) live resource
    carries, if any: this stack's ledger recording it proves nothing then (a ledger can be
    edited by hand, or another stack adopted it since), so it is not touched."""
    if kind.labels_path is None:
        return None
    labels = get_path(normalized, kind.labels_path)
    if not isinstance(labels, dict) or labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return None
    owner = labels.get(STACK_LABEL)
    return owner if isinstance(owner, str) and owner and owner != stack else None


def judge(kind: Kind, live: dict[str, Any], *, stack: str, intent: bool,
          requested: bool) -> Verdict:
    """May this stack adopt ``live``, which its ledger does not record?

    ``intent``: the ledger holds this stack's intent to create it; ``requested``: the
    spec says ``adopt: true``.
    """
    labels = labels_of(kind, live)
    owner = labels.get(STACK_LABEL)
    if owner == stack and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE:
        return Verdict(True, "its labels name this stack")
    if owner and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE:
        return Verdict(False, f"it belongs to mlops-infra stack '{owner}'; remove it from that "
                              "stack first")
    if intent:
        return Verdict(True, INTENDED)
    if requested:
        return Verdict(True, "taken over as the spec asks (adopt: true)")
    how = ("it carries no labels naming this stack" if kind.labels_path
           else "it has no labels and this stack's ledger does not record creating it")
    return Verdict(False, f"it already exists and is not this stack's ({how}); to take it over "
                          "deliberately, set 'adopt: true' on the resource, or choose another name")


def owned_matches(kind: Kind, listed: dict[str, dict[str, Any]], *, stack: str,
                  address: str) -> list[str]:
    """API names of listed resources whose labels name this stack and ``address``."""
    want = address_label(address)
    found = []
    for name, live in listed.items():
        labels = labels_of(kind, live)
        if labels.get(STACK_LABEL) == stack and labels.get(ADDRESS_LABEL) == want:
            found.append(name)
    return sorted(found)
