"""Resolving a spec for planning, without any API call.

Each resource's fields are resolved in dependency order (outputs known before creation
are filled in, the rest stay ``${addr.output}`` until apply), its name is checked the way
the API would check it, and its identity and desired state are computed. Resources
implied by others are added (a CMEK key grant for each service agent that encrypts with
a key of the spec), and capabilities become ordering edges: a resource that needs an
API waits for that API's enablement, one that needs a Workload Identity pool waits for
the cluster providing it. Two addresses naming one API resource are an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from mlops_infra.engine import ownership, sensitive
from mlops_infra.engine.diff import get_path
from mlops_infra.engine.errors import SourceLocation, SpecError
from mlops_infra.engine.graph import topo_order
from mlops_infra.engine.kind import (
    Kind,
    Requirement,
    ResourceContext,
    ResourceId,
    api_capability,
)
from mlops_infra.spec import ResourceSpec, Spec, find_refs, resolve_refs
from mlops_infra.spec.jsoncopy import copy_json
from mlops_infra.spec.refs import TemplateError, later_refs


@dataclass
class Resolved:
    """One resource of the spec, ready to plan: identity, desired state, edges."""

    address: str
    kind: Kind
    ctx: ResourceContext
    rid: ResourceId
    desired: dict[str, Any]
    depends_on: tuple[str, ...]
    spec: ResourceSpec
    exact: tuple[str, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def waivers(self) -> Mapping[str, str]:
        return self.spec.waivers

    @cached_property
    def secret_paths(self) -> tuple[str, ...]:
        """The sensitive leaf paths of ``desired`` (found once: a plan asks several times)."""
        return sensitive.secret_paths(self.desired, self.kind)

    def own_copy(self) -> Resolved:
        """A copy whose desired state and outputs are its own: a plan built from it can be
        edited without touching the original (a stack's plans share it)."""
        return self._copy(desired=copy_json(self.desired), outputs=copy_json(self.outputs))

    def with_outputs(self, outputs: dict[str, Any]) -> Resolved:
        """A copy with ``outputs`` (this one stays as it is: a stack's plans share it)."""
        return self._copy(outputs=outputs)

    def _copy(self, **changes: Any) -> Resolved:
        """``dataclasses.replace`` for copies with an equal desired state: its secret paths
        are found once, here, for both."""
        copied = dataclasses.replace(self, **changes)
        copied.__dict__["secret_paths"] = self.secret_paths
        return copied

    @property
    def allow_data_loss(self) -> bool:
        return self.spec.allow_data_loss

    @property
    def adopt(self) -> bool:
        return self.spec.adopt

    def field_location(self, path: str) -> SourceLocation:
        return self.spec.field_location(path)


def resolve_resources(spec: Spec, *, kinds: Mapping[str, Kind]) -> dict[str, Resolved]:
    """Resolve fields in dependency order, using outputs known before anything is created."""
    resources = expand_implied(spec.resources, kinds=kinds)
    resolved: dict[str, Resolved] = {}
    for address in topo_order({a: r.depends_on for a, r in resources.items()}):
        resolved[address] = _resolve_one(resources[address], kinds, resolved, spec.stack)
    _add_capability_edges(resolved, assumed=frozenset(spec.assume))
    _refuse_aliases(resolved)
    return resolved


def _resolve_one(res: ResourceSpec, kinds: Mapping[str, Kind], resolved: Mapping[str, Resolved],
                 stack: str) -> Resolved:
    kind = kinds[res.kind]
    lookup = _lookup(resolved)
    ctx = _context(res, lookup, stack)
    fields = _revalidated(kind, res, resolve_refs(res.fields, lookup))
    _check_name(kind, ctx, fields, res)
    rid = dataclasses.replace(kind.identify(ctx, fields), address=res.address)
    desired = ownership.with_managed_labels(kind, kind.desired(ctx, fields), stack, res.address)
    _check_refs_intact(fields, ctx, desired, res)
    _check_label_count(kind, desired, res)
    return Resolved(address=res.address, kind=kind, ctx=ctx, rid=rid, desired=desired,
                    depends_on=tuple(sorted(res.depends_on)), spec=res,
                    exact=tuple(sorted(kind.exact_paths(fields))),
                    outputs=kind.outputs_of(rid, None))


def with_known_outputs(r: Resolved, outputs: Mapping[str, Mapping[str, Any]],
                       learned: Collection[tuple[str, str]], stack: str) -> Resolved:
    """``r`` resolved again with ``outputs`` when it refers to an output whose value was
    ``learned`` from live state while planning (``(address, output)``: a server-chosen name);
    its identity and edges stay as they are."""
    if not learned or r.spec.refs.isdisjoint(learned):
        return r

    def lookup(address: str, output: str) -> Any:
        value = outputs.get(address, {}).get(output)
        return value if value is not None else f"${{{address}.{output}}}"

    fields = _revalidated(r.kind, r.spec, resolve_refs(r.spec.fields, lookup))
    desired = ownership.with_managed_labels(r.kind, r.kind.desired(r.ctx, fields), stack,
                                            r.address)
    return dataclasses.replace(r, desired=desired, exact=tuple(sorted(r.kind.exact_paths(fields))))


def _context(res: ResourceSpec, lookup: Any, stack: str) -> ResourceContext:
    return ResourceContext(address=res.address, name=str(resolve_refs(res.name, lookup)),
                          project=str(resolve_refs(res.project, lookup)), region=res.region,
                          stack=stack)


def _check_name(kind: Kind, ctx: ResourceContext, fields: dict[str, Any], res: ResourceSpec) -> None:
    if find_refs(ctx.name):
        return                      # known only at apply time
    problem = kind.check_name(ctx, fields)
    if problem:
        raise SpecError(problem, location=res.field_location("name"),
                        field=f"resources.{res.address}.name")


def _check_refs_intact(fields: dict[str, Any], ctx: ResourceContext, desired: dict[str, Any],
                       res: ResourceSpec) -> None:
    """A reference resolved later (a secret, an output known only once its resource exists)
    reaches the request body as written, to be substituted there: a kind that rewrites the
    field's value (a storage class upper-cased) would send a reference no one can resolve,
    at apply time. Such a field takes the value itself."""
    written = {ref.text: path for path, ref in later_refs(fields)}
    written.update((ref.text, "name") for _, ref in later_refs(ctx.name))
    if not written:
        return                          # nothing to keep (a kind adds no reference of its own)
    try:
        sent = [ref.text for _, ref in later_refs(desired)]
    except TemplateError:
        sent = ["${"]                   # rewritten past parsing
    for text in sent:
        if text in written:
            continue
        origin = next((w for w in written if w.lower() == text.lower()), None) \
            or next(iter(written), "")
        path = written.get(origin, "")
        raise SpecError(f"{origin or 'a reference'} cannot be used here: the value of this field "
                        "is rewritten before it is sent, so write the value itself",
                        location=res.field_location(path) if path else res.location,
                        field=f"resources.{res.address}" + (f".{path}" if path else ""))


def _check_label_count(kind: Kind, desired: dict[str, Any], res: ResourceSpec) -> None:
    """"No more than 64 labels can be associated with a given resource" (googleapis, the
    ``labels`` of every labelled resource; the Resource Manager labels overview): counted with
    the ownership labels this tool adds."""
    if kind.labels_path is None:
        return
    labels = get_path(desired, kind.labels_path)
    if not isinstance(labels, dict) or len(labels) <= ownership.MAX_LABELS:
        return
    ours = len(ownership.managed_labels(kind, "", res.address))
    raise SpecError(f"{len(labels)} labels with the {ours} this tool adds: a resource carries at "
                    f"most {ownership.MAX_LABELS}, so write at most {ownership.MAX_LABELS - ours}",
                    location=res.field_location(kind.labels_path),
                    field=f"resources.{res.address}.{kind.labels_path}")


def expand_implied(resources: Mapping[str, ResourceSpec], *,
                   kinds: Mapping[str, Kind]) -> dict[str, ResourceSpec]:
    """The spec's resources plus those their kinds imply; each depends on what it implies,
    unless the implied resource depends on it (a grant to an identity the resource gets only
    once it exists, such as a log sink's writer: it comes after)."""
    out = dict(resources)
    for res in resources.values():
        implied = kinds[res.kind].implied_resources(res) + _encryption_grants(res, resources, kinds)
        for extra in implied:
            out[extra.address] = extra
        before = {e.address for e in implied if res.address not in e.depends_on}
        if before:
            out[res.address] = dataclasses.replace(res, depends_on=res.depends_on | before)
    return out


def _encryption_grants(res: ResourceSpec, resources: Mapping[str, ResourceSpec],
                       kinds: Mapping[str, Kind]) -> list[ResourceSpec]:
    """Grants a resource encrypted with a key of the spec needs for its service agent."""
    kind = kinds[res.kind]
    if kind.service_agent is None:
        return []
    grants: list[ResourceSpec] = []
    for path in kind.cmek_fields:
        value = get_path(res.fields, path)
        if not isinstance(value, str):
            continue
        for address, _ in sorted(find_refs(value)):
            key = resources.get(address)
            if key is not None:
                grants += kinds[key.kind].encryption_grant(key=value, consumer=res,
                                                           agent=kind.service_agent.name)
    return grants


def _add_capability_edges(resolved: dict[str, Resolved], *, assumed: frozenset[str]) -> None:
    """Order each resource after the providers of what it requires; refuse missing ones
    (unless the spec ``assume``s them: they exist outside it)."""
    providers: dict[str, str | None] = dict.fromkeys(assumed)
    for r in resolved.values():
        for capability in r.kind.provides(r.ctx, r.desired):
            providers[capability] = r.address
    for r in resolved.values():
        for need in _requirements(r):
            if need.capability in providers and providers[need.capability] is None:
                continue                    # assumed: provided outside this spec
            provider = providers.get(need.capability)
            if provider is None and need.missing:
                raise SpecError(need.missing, location=r.spec.location,
                                field=f"resources.{r.address}")
            if provider and provider != r.address and provider not in r.depends_on:
                r.depends_on = tuple(sorted((*r.depends_on, provider)))


def _requirements(r: Resolved) -> list[Requirement]:
    needs = list(r.kind.requires(r.ctx, r.desired))
    if r.kind.api:
        needs.append(Requirement(api_capability(r.ctx.project, r.kind.api)))
    return needs


def _refuse_aliases(resolved: Mapping[str, Resolved]) -> None:
    """Two addresses resolving to the same API resource would fight over it."""
    seen: dict[tuple[str, str], str] = {}
    for r in resolved.values():
        if not r.rid.name or find_refs(r.rid.name):
            continue
        other = seen.setdefault((r.kind.name, r.rid.name), r.address)
        if other != r.address:
            raise SpecError(f"names the same {r.kind.name} as resource '{other}' "
                            f"({r.rid.name}); give one of them another name",
                            location=r.spec.location, field=f"resources.{r.address}")


def _revalidated(kind: Kind, res: ResourceSpec, fields: dict[str, Any]) -> dict[str, Any]:
    """Type-check fields whose references were only resolved now (the loader could not)."""
    if not res.refs or find_refs(fields):
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


def _lookup(resolved: Mapping[str, Resolved]) -> Any:
    def lookup(address: str, output: str) -> Any:
        value = resolved[address].outputs.get(output)
        return value if value is not None else f"${{{address}.{output}}}"   # known after apply
    return lookup
