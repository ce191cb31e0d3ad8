"""The planner: spec + live state + ledger -> a frozen ``Plan``. Reads only; never mutates.

Steps: resolve each resource's fields in dependency order (outputs known before
creation are filled in, the rest stay ``${addr.output}`` until apply), read live
state in batches, diff each resource three-way against the ledger's last-applied
spec, classify create/update/replace/noop, and plan deletes for ledger entries
the spec no longer has (dependents first).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from mlops_infra.engine import guardrails, ownership
from mlops_infra.engine.diff import diff, leaves, redact
from mlops_infra.engine.errors import SourceLocation, SpecError
from mlops_infra.engine.graph import is_ancestor_id, topo_order
from mlops_infra.engine.kind import FieldChange, Kind, ResourceContext, ResourceId
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.reading import LiveState, read_live
from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.spec import ResourceSpec, Spec, find_refs, resolve_refs


class LedgerEntryLike(Protocol):
    """What the planner reads of a ledger entry (the ledger package provides it)."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def applied(self) -> dict[str, Any]: ...

    @property
    def outputs(self) -> dict[str, Any]: ...

    @property
    def depends_on(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class LedgerView:
    """What the planner needs of a ledger: entries by key, the generation read, where it is."""

    entries: Mapping[str, LedgerEntryLike]
    generation: int
    location: str


@dataclass
class _Resolved:
    address: str
    kind: Kind
    ctx: ResourceContext
    rid: ResourceId
    desired: dict[str, Any]
    depends_on: tuple[str, ...]
    spec: ResourceSpec
    exact: tuple[str, ...] = ()
    allow_data_loss: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def waivers(self) -> Mapping[str, str]:
        return self.spec.waivers

    def field_location(self, path: str) -> SourceLocation:
        return self.spec.field_location(path)


def build_plan(spec: Spec, *, kinds: Mapping[str, Kind], ledger: LedgerView,
               policy: RetryPolicy, allow_data_loss: bool = False, destroy: bool = False) -> Plan:
    """Compute the plan for ``spec`` (or for removing everything it manages when ``destroy``)."""
    resolved = {} if destroy else resolve_resources(spec, kinds=kinds)
    guardrails.enforce(resolved.values(), policy=spec.policy)      # before any API call
    orphans = [e for k, e in ledger.entries.items() if k not in {r.rid.key for r in resolved.values()}]
    orphan_ids = [kinds[e.kind].id_from_name(e.id) for e in orphans]
    live = read_live([r.rid for r in resolved.values()] + orphan_ids, kinds=dict(kinds), policy=policy)
    outputs = _refresh_outputs(resolved, live)
    changes = [_plan_resource(r, live, ledger, spec.stack, allow_data_loss) for r in resolved.values()]
    changes += _plan_deletes(orphans, orphan_ids, live, kinds, allow_data_loss)
    return Plan(stack=spec.stack, project=spec.project, env=spec.env, spec_path=spec.path,
                ledger_location=ledger.location, ledger_generation=ledger.generation,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                resources=tuple(changes), outputs=_stack_outputs(spec, outputs),
                ledger_sync=_needs_ledger_sync(changes, ledger, kinds))


def check_spec(spec: Spec, *, kinds: Mapping[str, Kind]) -> None:
    """Everything that can be checked without any API call: references resolve, types, guardrails."""
    guardrails.enforce(resolve_resources(spec, kinds=kinds).values(), policy=spec.policy)


def resolve_resources(spec: Spec, *, kinds: Mapping[str, Kind]) -> dict[str, _Resolved]:
    """Resolve fields in dependency order, using outputs known before anything is created."""
    resources = expand_implied(spec.resources, kinds=kinds)
    resolved: dict[str, _Resolved] = {}
    for address in topo_order({a: r.depends_on for a, r in resources.items()}):
        res = resources[address]
        kind = kinds[res.kind]
        lookup = _lookup(resolved)
        ctx = ResourceContext(address=address, name=str(resolve_refs(res.name, lookup)),
                              project=str(resolve_refs(res.project, lookup)), region=res.region,
                              stack=spec.stack)
        fields = _revalidated(kind, res, resolve_refs(res.fields, lookup))
        rid = kind.identify(ctx, fields)
        desired = ownership.with_managed_labels(kind, kind.desired(ctx, fields), spec.stack)
        resolved[address] = _Resolved(address=address, kind=kind, ctx=ctx, rid=rid, desired=desired,
                                       depends_on=tuple(sorted(res.depends_on)), spec=res,
                                       exact=tuple(sorted(kind.exact_paths(fields))),
                                       allow_data_loss=res.allow_data_loss,
                                       outputs=kind.outputs_of(rid, None))
    _add_api_edges(resolved)
    return resolved


def expand_implied(resources: Mapping[str, ResourceSpec], *,
                   kinds: Mapping[str, Kind]) -> dict[str, ResourceSpec]:
    """The spec's resources plus those their kinds imply; each depends on what it implies."""
    out = dict(resources)
    for res in resources.values():
        implied = kinds[res.kind].implied_resources(res)
        for extra in implied:
            out[extra.address] = extra
        if implied:
            out[res.address] = dataclasses.replace(
                res, depends_on=res.depends_on | {e.address for e in implied})
    return out


def _add_api_edges(resolved: dict[str, _Resolved]) -> None:
    """Anything that needs an API waits for that API's enablement in the same project."""
    providers = {}
    for r in resolved.values():
        api = r.kind.provided_api(r.ctx, r.desired)
        if api:
            providers[(r.ctx.project, api)] = r.address
    for r in resolved.values():
        provider = providers.get((r.ctx.project, r.kind.required_api or ""))
        if provider and provider != r.address and provider not in r.depends_on:
            r.depends_on = tuple(sorted((*r.depends_on, provider)))


def _revalidated(kind: Kind, res: ResourceSpec, fields: dict[str, Any]) -> dict[str, Any]:
    """Type-check fields whose references were only resolved now (the loader could not)."""
    if not find_refs(res.fields) or find_refs(fields):
        return fields
    try:
        model = kind.model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in error["loc"])
        raise SpecError(f"{error['msg']} (after resolving references)",
                        location=res.field_location(path), field=f"resources.{res.address}.{path}") \
            from None
    return model.model_dump(exclude_unset=True, by_alias=True, mode="json")


def _lookup(resolved: Mapping[str, _Resolved]) -> Any:
    def lookup(address: str, output: str) -> Any:
        value = resolved[address].outputs.get(output)
        return value if value is not None else f"${{{address}.{output}}}"   # known after apply
    return lookup


def _refresh_outputs(resolved: Mapping[str, _Resolved], live: LiveState) -> dict[str, dict[str, Any]]:
    for r in resolved.values():
        r.outputs = {**r.outputs, **r.kind.outputs_of(r.rid, live.get(r.rid.key))}
    return {a: r.outputs for a, r in resolved.items()}


def _plan_resource(r: _Resolved, live: LiveState, ledger: LedgerView, stack: str,
                   allow_data_loss: bool) -> ResourceChange:
    current = live.get(r.rid.key)
    entry = ledger.entries.get(r.rid.key)
    exact = r.exact
    base: dict[str, Any] = dict(address=r.address, kind=r.kind.name, id=r.rid.name, desired=r.desired,
                depends_on=r.depends_on, parts=r.rid.parts, scope=r.rid.scope, outputs=r.outputs,
                allow_data_loss=allow_data_loss or r.allow_data_loss, exact=exact,
                waivers=dict(r.waivers))
    if current is None:
        adds = tuple(FieldChange(path=p, op="add", new=v) for p, v in _flat(r.desired))
        return ResourceChange(**base, action=Action.CREATE, changes=adds)
    foreign = None if entry else ownership.foreign_owner(r.kind, current, stack)
    if foreign:
        return ResourceChange(**base, action=Action.NOOP, blocked=foreign)
    changes = diff(r.desired, r.kind.normalize(current), entry.applied if entry else None,
                   exact=exact)
    return _classify(base, r, changes, allow_data_loss, adopt=entry is None and r.kind.adoptable)


def _classify(base: dict[str, Any], r: _Resolved, changes: list[FieldChange],
              allow_data_loss: bool, *, adopt: bool) -> ResourceChange:
    if not changes:
        return ResourceChange(**base, action=Action.NOOP, adopt=adopt)
    reason = r.kind.replace_reason(changes)
    if reason is None:
        return ResourceChange(**base, action=Action.UPDATE, changes=tuple(changes), adopt=adopt)
    marked = tuple(_mark_replace(r.kind, c) for c in changes)
    blocked = None
    if not base["allow_data_loss"] and r.kind.replace_loses_data(r.rid, changes) \
            and r.kind.holds_data(r.rid):
        blocked = f"replacing it destroys its data ({reason}); set allowDataLoss or pass --allow-data-loss"
    return ResourceChange(**base, action=Action.REPLACE, changes=marked, reason=reason,
                          blocked=blocked, adopt=adopt)


def _mark_replace(kind: Kind, change: FieldChange) -> FieldChange:
    forces = kind.replace_reason([change]) is not None
    return FieldChange(path=change.path, op=change.op, old=change.old, new=change.new,
                       forces_replace=forces)


def _plan_deletes(orphans: list[LedgerEntryLike], ids: list[ResourceId], live: LiveState,
                  kinds: Mapping[str, Kind], allow_data_loss: bool) -> list[ResourceChange]:
    planned = []
    deleting = {rid.name for entry, rid in zip(orphans, ids) if live.get(rid.key) is not None}
    for entry, rid in zip(orphans, ids):
        kind = kinds[entry.kind]
        children = tuple(e.address for e, other in zip(orphans, ids)   # deleted first: what
                         if is_ancestor_id(rid.name, other.name)      # lives in it, and what
                         or rid.key in e.depends_on)                  # depended on it
        base: dict[str, Any] = dict(address=entry.address, kind=entry.kind, id=entry.id, depends_on=children,
                    parts=rid.parts, scope=rid.scope, outputs=entry.outputs,
                    allow_data_loss=allow_data_loss, last_applied=entry.applied)
        if live.get(rid.key) is None:
            planned.append(ResourceChange(**base, action=Action.NOOP,
                                          reason="already gone; dropped from the ledger"))
            continue
        if kind.removal(entry.applied, allow_data_loss=allow_data_loss) == "abandon":
            planned.append(ResourceChange(**base, action=Action.ABANDON,
                                          reason="no longer in the spec; kept live, dropped from the ledger"))
            continue
        blocked = None
        if kind.data_bearing and not allow_data_loss and _loses_data(kind, rid, deleting):
            blocked = "it holds data; pass --allow-data-loss to delete it with its contents"
        planned.append(ResourceChange(**base, action=Action.DELETE, blocked=blocked,
                                      reason="no longer in the spec"))
    return planned


def _loses_data(kind: Kind, rid: ResourceId, deleting: set[str]) -> bool:
    """Whether deleting ``rid`` destroys data that is not itself planned for deletion."""
    if not kind.holds_data(rid):
        return False
    contents = kind.contents(rid)
    return contents is None or not set(contents) <= deleting


def _stack_outputs(spec: Spec, outputs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: resolve_refs(template, _lookup_outputs(outputs))
            for name, template in spec.outputs.items()}


def _lookup_outputs(outputs: Mapping[str, dict[str, Any]]) -> Any:
    def lookup(address: str, output: str) -> Any:
        value = outputs.get(address, {}).get(output)
        return value if value is not None else f"${{{address}.{output}}}"
    return lookup


def _needs_ledger_sync(changes: list[ResourceChange], ledger: LedgerView,
                       kinds: Mapping[str, Kind]) -> bool:
    for change in changes:
        if change.action is not Action.NOOP or change.blocked:
            continue
        entry = ledger.entries.get(change.key)
        if change.desired is None or entry is None:
            return True        # forget a gone resource, or record an adopted one
        if entry.applied != redact(change.desired, kinds[change.kind].secret_fields) or entry.outputs != change.outputs:
            return True
    return False


def _flat(value: dict[str, Any]) -> list[tuple[str, Any]]:
    return list(leaves(value))
