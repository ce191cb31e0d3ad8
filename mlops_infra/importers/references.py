"""Rebuilding references between imported resources: ``network: ${vpc.selfLink}``, not a URL.

Each kind says which of its fields usually hold another resource's output
(``Kind.terraform_refs``: a field path, ``[]`` for each item of a list, and the output name
such a value usually is). Every imported resource's outputs known before creation
(``Kind.outputs_of(rid, None)``: names, emails, full names, selfLinks) are indexed by value;
a literal at such a field equal to one of them becomes ``${ADDRESS.OUTPUT}``. Among several
candidates the output the kind names wins, then a resource of the same service, then one of
the same project. A reference that would close a dependency cycle is not made. A resource
whose project its state does not say (a bucket's IAM binding) takes the project of what it
references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_infra.engine.kind import Kind, ResourceContext
from mlops_infra.importers.model import Entry


@dataclass(frozen=True)
class Target:
    """An output of an imported resource: ``${address.output}``."""

    address: str
    output: str
    kind: str
    project: str | None

    @property
    def ref(self) -> str:
        return f"${{{self.address}.{self.output}}}"


def outputs_index(entries: list[Entry], *, kind_for: Callable[[str], Kind], project: str | None,
                  region: str | None, stack: str) -> dict[str, list[Target]]:
    """Value -> the outputs (known before creation) that have it."""
    index: dict[str, list[Target]] = {}
    for entry in entries:
        for output, value in known_outputs(entry, kind_for(entry.kind), project=project,
                                           region=region, stack=stack).items():
            if isinstance(value, str) and value and "${" not in value:
                index.setdefault(value, []).append(
                    Target(entry.address, output, entry.kind, entry.project or project))
    return index


def known_outputs(entry: Entry, kind: Kind, *, project: str | None, region: str | None,
                  stack: str) -> dict[str, Any]:
    """``entry``'s outputs known before creation (``{}`` when its identity cannot be made)."""
    ctx = ResourceContext(address=entry.address, name=entry.name or entry.address,
                          project=entry.project or project or "", region=entry.region or region,
                          stack=stack)
    try:
        rid = kind.identify(ctx, entry.fields)
        if not rid.name and entry.api_name:    # server-named: the name the state recorded
            rid = kind.id_from_name(entry.api_name)
        return dict(kind.outputs_of(rid, None))
    except Exception:  # noqa: BLE001 - a literal the kind cannot place is simply not a target
        return {}


def rebuild(entries: list[Entry], *, kind_for: Callable[[str], Kind], project: str | None,
            region: str | None, stack: str) -> None:
    """Replace literals by references in every entry (in place); fill missing projects."""
    index = outputs_index(entries, kind_for=kind_for, project=project, region=region, stack=stack)
    edges: dict[str, set[str]] = {e.address: set() for e in entries}
    by_address = {e.address: e for e in entries}
    for entry in entries:
        kind = kind_for(entry.kind)
        for pattern, hint in kind.terraform_refs.items():
            _walk(entry.fields, pattern.split("."), _replacer(entry, hint, index, edges))
        if entry.project is None:
            targets = sorted(edges[entry.address])
            entry.project = next((by_address[t].project for t in targets
                                  if by_address[t].project), None)


def _replacer(entry: Entry, hint: str, index: Mapping[str, list[Target]],
              edges: dict[str, set[str]]) -> Callable[[Any], Any]:
    return lambda value: _ref_for(value, entry, hint, index, edges)


def _ref_for(value: Any, entry: Entry, hint: str, index: Mapping[str, list[Target]],
             edges: dict[str, set[str]]) -> Any:
    if not isinstance(value, str):
        return value
    candidates = [t for t in index.get(value, []) if t.address != entry.address
                  and not _reaches(edges, t.address, entry.address)]
    if not candidates:
        return value
    service = entry.kind.split(".")[0]
    best = sorted(candidates, key=lambda t: (t.output != hint, t.kind.split(".")[0] != service,
                                             t.project != entry.project, t.address, t.output))[0]
    edges[entry.address].add(best.address)
    return best.ref


def _reaches(edges: Mapping[str, set[str]], start: str, goal: str) -> bool:
    """Whether ``start`` already depends (transitively) on ``goal``."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += list(edges.get(node, ()))
    return False


def _walk(node: Any, keys: list[str], replace: Callable[[Any], Any]) -> None:
    """Apply ``replace`` to the values a ``terraform_refs`` path names, in place."""
    if not keys or not isinstance(node, dict):
        return
    head, rest = keys[0], keys[1:]
    each = head.endswith("[]")
    key = head.removesuffix("[]")
    if key not in node:
        return
    if each:
        items = node[key]
        if not isinstance(items, list):
            return
        if rest:
            for item in items:
                _walk(item, rest, replace)
        else:
            node[key] = [replace(item) for item in items]
    elif rest:
        _walk(node[key], rest, replace)
    else:
        node[key] = replace(node[key])


def output_refs(outputs: Mapping[str, Any], index: Mapping[str, list[Target]]) -> dict[str, str]:
    """Terraform root outputs that are an imported resource's output, as references."""
    out = {}
    for name, value in sorted(outputs.items()):
        targets = index.get(value, []) if isinstance(value, str) else []
        if targets:
            out[name] = sorted(targets, key=lambda t: (t.address, t.output))[0].ref
    return out
