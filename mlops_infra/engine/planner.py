"""The planner: spec + live state + ledger -> a frozen ``Plan``. Reads only; never mutates.

Steps: resolve the spec (``engine.resolve``), resolve the secrets its resources reference
(``engine.sensitive``: a missing one stops here), read live state in batches, and for each
resource, in dependency order, decide against the ledger's last-applied spec (a three-way
diff) whether it is created, updated, replaced, left alone, adopted (only when provably ours)
or blocked as a conflict; then plan the removal of ledger entries the spec no longer has
(``engine.removal``). A reference to an output known only once its resource exists (a
server-chosen name) is filled in from live state for the resources after it, so they do
not show a change on every plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from mlops_infra.engine import guardrails, ownership, removal, sensitive
from mlops_infra.engine.diff import compare, leaves
from mlops_infra.engine.kind import FieldChange, Kind, ResourceId
from mlops_infra.engine.ledger_check import check_ledger
from mlops_infra.engine.listdiff import expand_lists
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.reading import DEFAULT_READ_CONCURRENCY, LiveState, Reads, ReadSettings
from mlops_infra.engine.resolve import Resolved, resolve_resources, with_known_outputs
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.throttle import Throttle
from mlops_infra.spec import Spec, resolve_refs


class LedgerEntryLike(Protocol):
    """What the planner reads of a ledger entry (the ledger package provides it)."""

    @property
    def key(self) -> str: ...

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

    @property
    def preexisting(self) -> tuple[str, ...]: ...

    # ``labels_pending: bool`` (optional): an imported resource without the ownership labels yet


class IntentLike(Protocol):
    """A create this stack announced before making it (a run may have died after it)."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def address(self) -> str: ...

    # ``preexisting: tuple[str, ...]`` (optional): for a part of a shared thing, the parts that
    # were there before the run that announced it


@dataclass(frozen=True)
class LedgerView:
    """What the planner needs of a ledger: entries and intents by key, the generation read,
    where it is, and notes for the run's output (e.g. a schema migration)."""

    entries: Mapping[str, LedgerEntryLike]
    generation: int
    location: str
    intents: Mapping[str, IntentLike] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    ledger: LedgerView
    stack: str
    allow_data_loss: bool
    moved: Mapping[str, LedgerEntryLike]       # resource key -> its entry under an old address
    secrets: sensitive.SecretValues | None = None
    allow_restart: bool = False
    ownership_labels: bool = False             # add the labels imported resources still lack
    normalized: dict[tuple[str, int], tuple[Any, Any]] = field(default_factory=dict)


def build_plan(spec: Spec, *, kinds: Mapping[str, Kind],
               ledger: LedgerView | Callable[[], LedgerView], policy: RetryPolicy,
               allow_data_loss: bool = False, destroy: bool = False,
               resolved: Mapping[str, Resolved] | None = None,
               read_concurrency: int = DEFAULT_READ_CONCURRENCY,
               secrets: sensitive.SecretValues | None = None,
               allow_restart: bool = False, ownership_labels: bool = False) -> Plan:
    """Compute the plan for ``spec`` (or for removing everything it manages when ``destroy``).

    ``ledger`` may be a callable: it is then read while the spec's resources are.
    ``secrets`` resolves the ``${secrets.NAME}`` the resources reference (each is fetched
    before any read; one that cannot be is a ``SecretUnavailable``).
    ``ownership_labels``: also add the ownership labels that resources moved in by an import
    still lack (left out otherwise: see ``engine.ownership``).
    """
    if resolved is None:
        resolved = {} if destroy else check_spec(spec, kinds=kinds)
    searched, search_note = _spec_resources(spec, kinds) if destroy else ((), ())
    guardrails.enforce(resolved.values(), policy=spec.policy)      # before any API call
    # a resource with no secret paths references no secret (those paths include every
    # leaf holding a reference), and its paths are found once per stack, not per plan
    sensitive.require_all(secrets, (r.desired for r in resolved.values() if r.secret_paths))
    settings = ReadSettings(policy=policy, concurrency=read_concurrency,
                            throttle=Throttle(first=policy.initial, cap=policy.maximum))
    with Reads(kinds, settings) as reads:
        reads.add(r.rid for r in resolved.values())
        ledger = ledger() if callable(ledger) else ledger     # read while those reads run
        check_ledger(entries=ledger.entries, intents=ledger.intents, location=ledger.location,
                     kinds=kinds)                       # before a read or change is made for it
        resolved = {a: _with_ledger_name(r, ledger) for a, r in resolved.items()}
        moved = _moves(resolved.values(), ledger)
        leftovers = removal.leftovers(ledger, kept={r.rid.key for r in resolved.values()}
                                      | {e.key for e in moved.values()}, kinds=kinds,
                                      unrecorded=searched)
        reads.add(_previous_ids(resolved.values(), ledger, moved, kinds) + leftovers.ids())
        ctx = _Context(ledger=ledger, stack=spec.stack, allow_data_loss=allow_data_loss,
                       moved=moved, secrets=secrets, allow_restart=allow_restart,
                       ownership_labels=ownership_labels)
        changes = _plan_in_order(resolved, reads.state, ctx, ready=reads.wait)
        live = reads.finish()
    _read_again(leftovers.lagging(live, kinds), live, kinds, policy)
    changes += leftovers.plan(live, kinds=kinds, allow_data_loss=allow_data_loss, stack=spec.stack,
                              why="removed by destroy" if destroy else "no longer in the spec")
    outputs = {c.address: c.outputs for c in changes if not c.removing}
    return Plan(stack=spec.stack, project=spec.project, env=spec.env, spec_path=spec.path,
                ledger_location=ledger.location, ledger_generation=ledger.generation,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                resources=tuple(changes),
                outputs={} if destroy else _stack_outputs(spec, outputs),
                ledger_sync=_needs_ledger_sync(changes, ledger, kinds),
                notes=ledger.notes + search_note + _pending_labels_note(resolved.values(), ledger, ctx))


def _read_again(rids: list[ResourceId], live: LiveState, kinds: Mapping[str, Kind],
                policy: RetryPolicy) -> None:
    """Read each of ``rids`` again until it appears or its kind's read lag is over: an intent
    whose resource reads as absent within that lag may be of one just made, which dropping
    the intent would leak (a service account a killed run created seconds ago)."""
    for rid in rids:
        live.add(rid, _read_within_lag(kinds[rid.kind], rid, policy))


def _read_within_lag(kind: Kind, rid: ResourceId, policy: RetryPolicy) -> dict[str, Any] | None:
    deadline = time.monotonic() + kind.read_lag * policy.scale
    while True:
        found: dict[str, Any] | None = call_with_retries(lambda: kind.get(rid), policy=policy)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(min(1.0 * policy.scale, max(0.0, deadline - time.monotonic())))


def _spec_resources(spec: Spec, kinds: Mapping[str, Kind]) -> tuple[tuple[Resolved, ...], tuple[str, ...]]:
    """The spec's resources, whose API names a ``destroy`` also looks at for what a stopped
    run created before recording it (``removal.leftovers``); a note instead when the spec no
    longer resolves (the ledger's resources are still destroyed)."""
    from mlops_infra.engine.errors import SpecError

    try:
        resolved = resolve_resources(spec, kinds=kinds)
    except SpecError as exc:
        return (), (f"resources a stopped run may have created without recording them were not "
                    f"looked for: the spec does not resolve ({exc})",)
    return tuple(resolved.values()), ()


def check_spec(spec: Spec, *, kinds: Mapping[str, Kind]) -> dict[str, Resolved]:
    """Everything checkable without any API call (references, types, names, guardrails);
    returns the resolved resources so planning does not resolve them again."""
    resolved = resolve_resources(spec, kinds=kinds)
    guardrails.enforce(resolved.values(), policy=spec.policy)
    _refuse_literal_secrets(resolved.values())
    return resolved


def _refuse_literal_secrets(resolved: Any) -> None:
    """A kind's secret field takes a ``${secrets.NAME}``, never a value (which would be shown
    in plans and kept in plan files)."""
    from mlops_infra.engine.errors import SpecError

    for r in resolved:
        for path in sensitive.literal_secret_fields(r.desired, r.kind):
            raise SpecError(f"{path} is secret: write a ${{secrets.NAME}} reference (declared in "
                            "the secrets: section), never the value", location=r.spec.location,
                            field=f"resources.{r.address}.{path}")


# --- identity across runs -------------------------------------------------------------------

def _with_ledger_name(r: Resolved, ledger: LedgerView) -> Resolved:
    """The API name comes from the ledger once the resource exists, when the server chose it
    or the kind says the recorded name is still this resource (``Kind.same_resource``)."""
    entry = ledger.entries.get(r.rid.key)
    if entry is None or not entry.id or entry.id == r.rid.name:
        return r
    if r.kind.naming != "server" and not r.kind.same_resource(r.rid, entry.id):
        return r
    known = r.kind.id_from_name(entry.id)
    return replace(r, rid=replace(known, address=r.address))


def _moves(resolved: Any, ledger: LedgerView) -> dict[str, LedgerEntryLike]:
    """Resources whose API name the ledger records under another address (an address rename)."""
    by_name = {(e.kind, e.id): e for e in ledger.entries.values() if e.id}
    moved: dict[str, LedgerEntryLike] = {}
    for r in resolved:
        old = by_name.get((r.kind.name, r.rid.name)) if r.rid.name else None
        if old is not None and old.key != r.rid.key and r.rid.key not in ledger.entries:
            moved[r.rid.key] = old
    return moved


def _entry_for(r: Resolved, ctx: _Context) -> LedgerEntryLike | None:
    return ctx.ledger.entries.get(r.rid.key) or ctx.moved.get(r.rid.key)


def _previous_id(r: Resolved, entry: LedgerEntryLike | None, kinds: Mapping[str, Kind]) -> ResourceId | None:
    """The API name a user-named resource had when its ``name`` changed since the last apply."""
    if entry is None or not entry.id or r.kind.naming != "user" or entry.id == r.rid.name:
        return None
    return replace(kinds[entry.kind].id_from_name(entry.id), address=r.address)


def _previous_ids(resolved: Any, ledger: LedgerView, moved: Mapping[str, LedgerEntryLike],
                  kinds: Mapping[str, Kind]) -> list[ResourceId]:
    """API names resources had before their ``name`` changed (read to replace them)."""
    found = (_previous_id(r, ledger.entries.get(r.rid.key) or moved.get(r.rid.key), kinds)
             for r in resolved)
    return [rid for rid in found if rid is not None]


# --- one resource at a time, in dependency order ----------------------------------------------

def _plan_in_order(resolved: Mapping[str, Resolved], live: LiveState, ctx: _Context, *,
                   ready: Callable[..., None] = lambda *rids: None) -> list[ResourceChange]:
    """Each resource planned after those it depends on: outputs a dependency revealed from
    live state (a server-chosen name) are filled into the references to them first. Outputs
    of a dependency being created or replaced stay references (known only at apply).
    ``ready(*rids)`` returns once what was read of those ids is in ``live``: a resource is
    planned as soon as its own reads are back, while the others' still come in."""
    outputs = {address: dict(r.outputs) for address, r in resolved.items()}
    learned: set[tuple[str, str]] = set()        # (address, output) whose value live state told
    changes = []
    for r in resolved.values():
        previous = _previous_id(r, _entry_for(r, ctx), {r.kind.name: r.kind})
        ready(r.rid, *([previous] if previous is not None else []))
        change = _plan_resource(with_known_outputs(r, outputs, learned, ctx.stack), live, ctx,
                                previous)
        known = outputs[change.address]
        if change.action in (Action.NOOP, Action.UPDATE) and not change.blocked \
                and change.outputs != known:
            learned |= {(change.address, name) for name, value in change.outputs.items()
                        if known.get(name) != value}
            outputs[change.address] = dict(change.outputs)
        changes.append(change)
    return changes


# --- one resource -------------------------------------------------------------------------------

def _plan_resource(r: Resolved, live: LiveState, ctx: _Context,
                   previous: ResourceId | None) -> ResourceChange:
    """``previous``: the API name a user-named resource had before its ``name`` changed."""
    entry = _entry_for(r, ctx)
    if r.kind.naming == "server" and not r.rid.name:
        found = live.owned(r.kind, r.rid, ctx.stack)
        if len(found) > 1:
            return _change(r, ctx, Action.NOOP, blocked=(
                f"{len(found)} resources carry this stack's labels for '{r.address}' "
                f"({', '.join(found)}); delete the extra ones"))
        if found:
            r = replace(r, rid=replace(r.kind.id_from_name(found[0]), address=r.address))
            live.add(r.rid, (live.listings.get((r.rid.kind, r.rid.scope)) or {}).get(found[0]))
    r = r.with_outputs({**r.outputs, **r.kind.outputs_of(r.rid, live.get(r.rid))})
    if previous is not None and live.get(previous) is not None:
        return _rename(r, previous, ctx, live.get(r.rid))
    current = live.get(r.rid)
    if current is None:
        pending = _pending_not_ours(r, live, entry, ctx)
        if pending is not None:
            return _change(r, ctx, Action.NOOP, blocked=pending)
        return _change(r, ctx, Action.CREATE, changes=_adds(r), adopt_reason=_intended(r, ctx))
    if entry is not None:
        return _owned(r, current, entry, ctx)
    if r.kind.shared:
        return _first_share(r, current, ctx)
    return _unrecorded(r, current, ctx)


def _normalized(kind: Kind, current: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    """``kind.normalize(current)``, once per live object a plan read: resources that share
    one (the bindings in a project's policy) would otherwise each normalise all of it,
    quadratic in their number. What a plan read is read-only, so the result is shared too."""
    key = (kind.name, id(current))
    hit = ctx.normalized.get(key)
    if hit is None or hit[0] is not current:        # the object pinned keeps its id unique
        hit = ctx.normalized[key] = (current, kind.normalize(current))
    normalized: dict[str, Any] = hit[1]
    return normalized


def _adds(r: Resolved) -> tuple[FieldChange, ...]:
    adds = [FieldChange(path=p, op="add", new=v) for p, v in leaves(r.desired)]
    return tuple(sensitive.mask_changes(adds, r.secret_paths))


def _owned(r: Resolved, current: dict[str, Any], entry: LedgerEntryLike,
           ctx: _Context) -> ResourceChange:
    normalized = _normalized(r.kind, current, ctx)
    owner = ownership.other_stack(r.kind, normalized, stack=ctx.stack)
    if owner is not None:
        return _change(r, ctx, Action.NOOP, blocked=(
            f"conflict: {r.rid.name}: this stack's ledger records it, but its labels name "
            f"mlops-infra stack '{owner}'; it is left alone: remove it from this spec (it is "
            "then dropped from this ledger and left in place) or from that stack"))
    changes = sensitive.compare_with_secrets(r.kind, r.desired, normalized,
                                             entry.applied, exact=r.exact, values=ctx.secrets,
                                             at=r.secret_paths)
    if getattr(entry, "labels_pending", False) and not ctx.ownership_labels:
        changes = ownership.without_managed_labels(r.kind, changes)
    kept, notes = _spare_preexisting(changes, entry.preexisting)
    return _classify(r, ctx, kept, current, preexisting=entry.preexisting, notes=notes,
                     moved_from=ctx.moved[r.rid.key].key if r.rid.key in ctx.moved else None)


def _first_share(r: Resolved, current: dict[str, Any], ctx: _Context) -> ResourceChange:
    """A part of a shared thing applied for the first time: what is already there is recorded."""
    changes = compare(r.kind, r.desired, _normalized(r.kind, current, ctx), exact=r.exact)
    changed = {c.path for c in changes}
    preexisting = tuple(p for p, _ in leaves(r.desired) if p not in changed)
    intent = ctx.ledger.intents.get(r.rid.key)
    if intent is not None and intent.id == r.rid.name:
        # a run stopped after its intent: only what it found there before is someone else's
        before = set(getattr(intent, "preexisting", ()))
        preexisting = tuple(p for p in preexisting if p in before)
    return _classify(r, ctx, changes, current, preexisting=preexisting)


def _intended(r: Resolved, ctx: _Context) -> str | None:
    """``ownership.INTENDED`` when a stopped run recorded the intent to create this very
    resource: not readable yet (a new service account takes a while) does not mean not
    created, so a 409 on the create is this stack's own resource, not someone else's."""
    intent = ctx.ledger.intents.get(r.rid.key)
    if intent is None or not r.rid.name or intent.id != r.rid.name:
        return None
    return ownership.INTENDED


def _pending_not_ours(r: Resolved, live: LiveState, entry: LedgerEntryLike | None,
                      ctx: _Context) -> str | None:
    """Why creating ``r`` is a conflict: its id belongs to a deleted but restorable resource
    (``Kind.soft_delete``) this stack cannot prove its own (its ledger entry, its intent, its
    labels), which the create would undelete and take over."""
    pending = live.pending_deletion(r.rid) if r.kind.soft_delete else None
    if pending is None or (entry is not None and entry.id == r.rid.name):
        return None
    if ownership.judge(r.kind, pending, stack=ctx.stack, requested=False,
                       intent=_intended(r, ctx) is not None).ours:
        return None
    return (f"conflict: {r.rid.name}: it is pending deletion (restorable for "
            f"{r.kind.soft_delete} after it was deleted) and this stack cannot prove it its own, "
            "so creating it would undelete someone else's; wait until it is purged, or choose "
            "another name")


def _unrecorded(r: Resolved, current: dict[str, Any], ctx: _Context) -> ResourceChange:
    """A live resource the ledger does not record: adopted only when provably ours."""
    intent = ctx.ledger.intents.get(r.rid.key)
    verdict = ownership.judge(r.kind, current, stack=ctx.stack, requested=r.adopt,
                              intent=intent is not None and intent.id == r.rid.name)
    if not verdict.ours:
        return _change(r, ctx, Action.NOOP, blocked=f"conflict: {r.rid.name}: {verdict.reason}")
    changes = sensitive.compare_with_secrets(r.kind, r.desired, _normalized(r.kind, current, ctx), None,
                                             exact=r.exact, values=ctx.secrets,
                                             at=r.secret_paths)
    return _classify(r, ctx, changes, current, adopt_reason=verdict.reason)


def _rename(r: Resolved, previous: ResourceId, ctx: _Context,
            taken: dict[str, Any] | None) -> ResourceChange:
    """``taken``: what already lives under the new name (a conflict unless provably ours)."""
    if taken is not None:
        verdict = ownership.judge(r.kind, taken, stack=ctx.stack, requested=r.adopt,
                                  intent=_intended(r, ctx) is not None)
        if not verdict.ours:
            return _change(r, ctx, Action.NOOP, blocked=(
                f"conflict: renaming {previous.name} to {r.rid.name}, which already exists: "
                f"{verdict.reason}"))
    adds = _adds(r)
    reason = f"its name changes from {previous.name} to {r.rid.name}"
    blocked = None
    if not (ctx.allow_data_loss or r.allow_data_loss) and r.kind.data_bearing \
            and r.kind.holds_data(previous):
        blocked = (f"replacing it loses what it holds: {r.kind.loss} ({reason}); set "
                   "allowDataLoss or pass --allow-data-loss")
    notes = (r.kind.deletion_note,) if r.kind.deletion_note else ()
    return _change(r, ctx, Action.REPLACE, changes=adds, reason=reason, blocked=blocked,
                   previous_id=previous.name, notes=notes)


def _spare_preexisting(changes: list[FieldChange], preexisting: tuple[str, ...]
                       ) -> tuple[list[FieldChange], tuple[str, ...]]:
    """Drop removals of parts that existed before this stack applied them (left in place)."""
    if not preexisting:
        return changes, ()
    spared = set(preexisting)
    kept = [c for c in changes if not (c.op == "remove" and c.path in spared)]
    notes = tuple(f"{c.path}: existed before this stack applied it; left in place"
                  for c in changes if c.op == "remove" and c.path in spared)
    return kept, notes


def _classify(r: Resolved, ctx: _Context, changes: list[FieldChange], live: dict[str, Any], *,
              adopt_reason: str | None = None, preexisting: tuple[str, ...] = (),
              notes: tuple[str, ...] = (), moved_from: str | None = None) -> ResourceChange:
    extra: dict[str, Any] = dict(adopt=adopt_reason is not None, adopt_reason=adopt_reason,
                                 preexisting=preexisting, notes=notes, moved_from=moved_from)
    if not changes:
        return _change(r, ctx, Action.NOOP, **extra)
    reason = r.kind.replace_reason(changes)
    if reason is None:
        return _update(r, ctx, changes, live, extra)
    if r.kind.replace_order == "create-first":
        reason += "; the replacement is created first, then this one is deleted"
    marked = tuple(replace(c, forces_replace=r.kind.replace_reason([c]) is not None) for c in changes)
    blocked = None
    if not (ctx.allow_data_loss or r.allow_data_loss) and r.kind.replace_loses_data(r.rid, changes) \
            and r.kind.holds_data(r.rid):
        blocked = (f"replacing it loses what it holds: {r.kind.loss} ({reason}); set "
                   "allowDataLoss or pass --allow-data-loss")
    if r.kind.deletion_note:
        extra["notes"] = (*extra["notes"], r.kind.deletion_note)
    return _change(r, ctx, Action.REPLACE, changes=marked, reason=reason, blocked=blocked, **extra)


def _update(r: Resolved, ctx: _Context, changes: list[FieldChange], live: dict[str, Any],
            extra: dict[str, Any]) -> ResourceChange:
    """An in-place update; one that stops and restarts the resource needs an explicit allow."""
    restart = r.kind.restart_reason(changes, live)
    blocked = None
    if restart and not (ctx.allow_restart or r.spec.allow_restart):
        blocked = (f"applying it stops and restarts the resource ({restart}); set "
                   "allowRestart: true on it or pass --allow-restart")
    return _change(r, ctx, Action.UPDATE, changes=tuple(changes), restart=restart,
                   blocked=blocked, **extra)


def _change(r: Resolved, ctx: _Context, action: Action, **extra: Any) -> ResourceChange:
    if "changes" in extra:          # shown item by item where lists have natural keys
        extra["changes"] = expand_lists(extra["changes"], r.kind.list_keys)
    return ResourceChange(address=r.address, kind=r.kind.name, id=r.rid.name, action=action,
                          desired=r.desired, depends_on=r.depends_on, parts=r.rid.parts,
                          scope=r.rid.scope, outputs=r.outputs,
                          allow_data_loss=ctx.allow_data_loss or r.allow_data_loss,
                          exact=r.exact, waivers=dict(r.waivers),
                          secret_paths=r.secret_paths, **extra)


# --- plan-wide ----------------------------------------------------------------------------------

def _pending_labels_note(resolved: Any, ledger: LedgerView, ctx: _Context) -> tuple[str, ...]:
    """One plan-wide note while resources moved in by an import still lack the ownership labels."""
    if ctx.ownership_labels:
        return ()
    pending = sum(1 for r in resolved if r.kind.labels_path is not None
                  and getattr(ledger.entries.get(r.rid.key), "labels_pending", False))
    if not pending:
        return ()
    what = "1 resource" if pending == 1 else f"{pending} resources"
    return (f"{what} moved in by an import do not carry the ownership labels yet (left out of "
            "this plan); add them in one step: python -m mlops_infra import labels SPEC "
            "[--env ENV]",)


def _stack_outputs(spec: Spec, outputs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    def lookup(address: str, output: str) -> Any:
        value = outputs.get(address, {}).get(output)
        return value if value is not None else f"${{{address}.{output}}}"
    return {name: resolve_refs(template, lookup) for name, template in spec.outputs.items()}


def _needs_ledger_sync(changes: list[ResourceChange], ledger: LedgerView,
                       kinds: Mapping[str, Kind]) -> bool:
    """Whether the ledger must be written although no API call is needed."""
    for change in changes:
        if change.action is not Action.NOOP or change.blocked:
            continue
        entry = ledger.entries.get(change.key)
        if change.desired is None or entry is None or change.moved_from:
            return True        # forget a gone resource, record an adopted or moved one
        if entry.id != change.id or entry.outputs != change.outputs \
                or not sensitive.same_record(entry.applied, change.desired, kinds[change.kind],
                                             change.secret_paths):
            return True
    return False
