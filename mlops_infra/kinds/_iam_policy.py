"""The shared base of IAM binding kinds: additive (role, member) pairs on someone's policy.

A binding resource manages only the (role, member) pairs its spec lists, on a policy it
shares with everyone else: bindings the tool did not write are never removed. A role
marked ``authoritative: true`` owns its whole member list (members not listed are
removed). IAM conditions are supported: a conditional binding is its own entry.

Desired state (internal shape, compared by the generic diff)::

    {"bindings": {"roles/x": {"user:a@b.com": True},
                  "roles/y if business-hours#1a2b3c4d": {"group:g@b.com": True}},
     "conditions": {"roles/y if business-hours#1a2b3c4d": {"title": ..., "expression": ...}}}

Every change is a read-modify-write with the policy's etag: a concurrent writer makes the
set fail (409/412), which is raised as ``PreconditionFailed`` so the executor re-reads and
redoes only what is still missing. A binding naming a service account that "does not
exist" yet (IAM's eventual consistency right after creating it) is ``EventuallyConsistent``
(``kinds._base``): retried for a bounded time, saying which account it waits for.
Member emails are compared lower-cased, as IAM stores them (hashicorp/terraform-provider-google
#3880). A Workload Identity member ``serviceAccount:P.svc.id.goog[ns/ksa]`` needs the pool
``P.svc.id.goog``, which only a GKE cluster with Workload Identity brings: the binding
``requires`` the ``workload-pool:P.svc.id.goog`` capability, so the spec must hold the
cluster that provides it (and the binding is ordered after it); the API's 400 "Identity Pool
does not exist" is permanent (``WorkloadPoolMissing``), never retried as propagation.

Moving in: the google provider's ``*_iam_member`` (one pair), ``*_iam_binding`` (a role's
whole member list: ``authoritative: true``) and ``*_iam_policy`` (the whole policy: each of
its roles ``authoritative``, the closest the additive model comes) map to the shared spec
shape; a subclass says which types and how its target reads (``terraform_target``). Live
policies import without Google's own members (service agents, Google-created default
service accounts, the ``projectOwner:``-style convenience members of bucket policies).

Subclasses say how to read and write the target's policy (``get_policy``/``set_policy``)
and how to name the target; the spec shape is shared:

    kind: storage.BucketBindings
    bucket: ${raw.name}
    bindings:
      - role: roles/storage.objectViewer
        members: [serviceAccount:${trainer.email}]
      - role: roles/storage.objectAdmin
        members: [group:ml-admins@acme.com]
        authoritative: true
        condition: {title: expires, expression: 'request.time < timestamp("2027-01-01T00:00:00Z")'}
"""

from __future__ import annotations

import hashlib
import re
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    BadAttribute,
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    Requirement,
    ResourceContext,
    ResourceId,
    Violation,
)
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._imports import block, condition, embedded_json
from mlops_infra.kinds._policy import NO_PUBLIC_MEMBERS
from mlops_infra.spec.jsoncopy import copy_json

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
_MEMBER = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|group|serviceAccount|domain|principal|"
                     r"principalSet|deleted:user|deleted:group|deleted:serviceAccount|projectOwner|"
                     r"projectEditor|projectViewer):.+)$")
_WORKLOAD_MEMBER = re.compile(r"^serviceAccount:([a-z0-9.:-]+\.svc\.id\.goog)\[[^\]]+\]$")
_EMAIL_KINDS = ("user", "group", "serviceAccount", "domain")
# Identities Google creates and grants roles to itself: service agents
# (service-NUM@gcp-sa-SERVICE.iam.gserviceaccount.com and older per-service domains,
# https://cloud.google.com/iam/docs/service-agents) and default service accounts
# (NUM-compute@developer, NUM@cloudservices, PROJECT@appspot:
# https://cloud.google.com/iam/docs/service-account-types#default); plus the convenience
# members of bucket policies (https://cloud.google.com/storage/docs/access-control/iam).
_GOOGLE_MEMBER = re.compile(
    r"^(serviceAccount:((service-|bq-)?\d+(-compute)?@.+|.+@(gcp-sa-[a-z0-9-]+\.iam|"
    r"cloudservices|developer|cloudbuild|appspot)\.gserviceaccount\.com)|"
    r"(projectOwner|projectEditor|projectViewer):.+)$")


def google_managed_member(member: str) -> bool:
    """Whether ``member`` is an identity Google manages (see ``_GOOGLE_MEMBER``)."""
    return bool(_GOOGLE_MEMBER.match(member))


def spec_binding(role: str, members: list[str], cond: dict[str, Any] | None = None, *,
                 authoritative: bool = False) -> dict[str, Any]:
    """One binding as a spec writes it."""
    out: dict[str, Any] = {"role": role, "members": members}
    if cond:
        out["condition"] = cond
    if authoritative:
        out["authoritative"] = True
    return out


def terraform_bindings(tf_type: str, attributes: Mapping[str, Any]) -> tuple[list[dict[str, Any]],
                                                                            tuple[str, ...]]:
    """The spec bindings of a ``*_iam_member``/``*_iam_binding``/``*_iam_policy`` instance."""
    cond = condition(block(attributes, "condition"))
    if tf_type.endswith("_iam_member"):
        return [spec_binding(attributes["role"], [attributes["member"]], cond)], ()
    if tf_type.endswith("_iam_binding"):
        members = sorted(attributes.get("members") or [])
        if not members:
            raise NotImportable("an IAM binding with no members grants nothing")
        return [spec_binding(attributes["role"], members, cond, authoritative=True)], ()
    if tf_type.endswith("_iam_policy"):
        policy = embedded_json(attributes.get("policy_data"), ("policy_data",)) or {}
        if not isinstance(policy, dict):
            raise BadAttribute(("policy_data",), "must hold a JSON object (an IAM policy)")
        bindings = policy_bindings(policy, authoritative=True)
        if not bindings:
            raise NotImportable("an empty IAM policy grants nothing")
        return bindings, ("the whole-policy authority of *_iam_policy became per-role authority "
                          "(authoritative: true on each role): roles it did not list keep "
                          "their members",)
    raise NotImportable(f"{tf_type} is not an IAM member, binding or policy")


def policy_bindings(policy: Mapping[str, Any], *, authoritative: bool = False,
                    keep: Any = None) -> list[dict[str, Any]]:
    """A REST policy's bindings as spec bindings, members ``keep(role, member)`` accepts."""
    out = []
    for binding in policy.get("bindings") or []:
        members = sorted(m for m in binding.get("members") or []
                         if keep is None or keep(binding["role"], m))
        if members:
            out.append(spec_binding(binding["role"], members,
                                    condition(binding.get("condition")),
                                    authoritative=authoritative))
    return out


class Condition(SpecModel):
    title: str
    expression: str
    description: str | None = None


class Binding(SpecModel):
    role: str = Field(pattern=r"^(roles/|projects/|organizations/|\$\{).+")
    members: list[str] = Field(min_length=1)
    condition: Condition | None = None
    authoritative: bool = False

    @field_validator("members")
    @classmethod
    def _members_look_like_members(cls, members: list[str]) -> list[str]:
        bad = [m for m in members if not valid_member(m) and "${" not in m]
        if bad:
            raise ValueError(f"not an IAM member: {bad[0]!r} (expected user:, group:, "
                             "serviceAccount:, domain:, principal://..., allUsers ...)")
        return members


class BindingsSpec(SpecModel):
    """Fields shared by binding kinds; subclasses add the target field (bucket, dataset, ...)."""

    bindings: list[Binding] = Field(min_length=1)


def binding_key(role: str, condition: dict[str, Any] | None) -> str:
    """``role``, or ``role if TITLE#HASH`` for a conditional binding (the hash is the expression's)."""
    if not condition:
        return role
    digest = hashlib.sha256(condition.get("expression", "").encode()).hexdigest()[:8]
    return f"{role} if {condition.get('title', '')}#{digest}"


def desired_bindings(bindings: list[dict[str, Any]]) -> dict[str, Any]:
    """The internal desired shape from the spec's binding list."""
    out: dict[str, Any] = {"bindings": {}}
    conditions: dict[str, Any] = {}
    for b in bindings:
        key = binding_key(b["role"], b.get("condition"))
        members = [member_key(m) for m in b["members"]]
        out["bindings"].setdefault(key, {}).update(dict.fromkeys(members, True))
        if b.get("condition"):
            conditions[key] = {k: v for k, v in b["condition"].items() if v is not None}
    if conditions:
        out["conditions"] = conditions
    return out


def member_key(member: str) -> str:
    """A member as IAM stores it: the email of ``user:``/``group:``/``serviceAccount:``/
    ``domain:`` members lower-cased (references are left for after they resolve)."""
    kind, sep, rest = member.partition(":")
    if not sep or kind not in _EMAIL_KINDS or "${" in rest:
        return member
    return f"{kind}:{rest.lower()}"


def workload_pools(desired: dict[str, Any]) -> list[str]:
    """The Workload Identity pools (``P.svc.id.goog``) the desired members name."""
    found = {m.group(1) for members in desired.get("bindings", {}).values()
             for member in members if (m := _WORKLOAD_MEMBER.match(member))}
    return sorted(found)


def normalized_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A live policy (REST JSON) in the internal shape, plus its ``etag`` (idempotent)."""
    if isinstance(policy.get("bindings"), dict):
        return policy                       # already in the internal shape
    shaped = desired_bindings([b for b in policy.get("bindings", []) if b.get("members")])
    shaped.setdefault("conditions", {})
    shaped["etag"] = policy.get("etag")
    return shaped


def apply_changes(policy: dict[str, Any], desired: dict[str, Any],
                  changes: FieldChanges) -> dict[str, Any]:
    """A copy of ``policy`` with member additions/removals under ``bindings`` applied."""
    policy = copy_json(policy)
    bindings = policy.setdefault("bindings", [])
    for change in changes:
        keys = paths.split(change.path)
        if keys[0] != "bindings":
            continue            # conditions[...] entries only describe bindings
        for key, member in _pairs(keys, change):
            binding = _find_or_add(bindings, key, desired)
            if change.op == "remove":
                binding["members"] = [m for m in binding["members"] if member_key(m) != member]
            elif member not in {member_key(m) for m in binding["members"]}:
                binding["members"].append(member)
    policy["bindings"] = [b for b in bindings if b["members"]]
    if any("condition" in b for b in policy["bindings"]):
        policy["version"] = 3          # conditions need policy version 3
    return policy


def _pairs(keys: list[str], change: FieldChange) -> list[tuple[str, str]]:
    if len(keys) == 3:
        return [(keys[1], keys[2])]
    value = change.old if change.op == "remove" else change.new   # a whole binding at once
    return [(keys[1], member) for member in (value or {})]


def _find_or_add(bindings: list[dict[str, Any]], key: str, desired: dict[str, Any]) -> dict[str, Any]:
    for binding in bindings:
        if binding_key(binding["role"], binding.get("condition")) == key:
            binding.setdefault("members", [])
            return binding
    role = key.split(" if ", 1)[0]
    binding = {"role": role, "members": []}
    condition = desired.get("conditions", {}).get(key)
    if condition:
        binding["condition"] = dict(condition)
    bindings.append(binding)
    return binding


class IamBindingsKind(Kind):
    """Base class: subclasses set ``name``, ``model``, ``api``, ``uses`` and the three methods below."""

    labels_path: ClassVar[str | None] = None
    listable: ClassVar[bool] = False
    shared: ClassVar[bool] = True
    merges: ClassVar[bool] = True        # ``update`` writes the policy it was given (its etag)
    guardrails: ClassVar[Mapping[str, str]] = NO_PUBLIC_MEMBERS
    outputs: ClassVar[frozenset[str]] = frozenset()
    terraform_refs: ClassVar[Mapping[str, str]] = {"bindings[].members[]": "member",
                                                   "bindings[].role": "name"}

    # --- moving in: what subclasses provide ---------------------------------------------------
    def terraform_target(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The target's spec field(s) and the project, from an IAM resource's attributes."""
        raise NotImportable(f"{self.name} has no Terraform mapping")

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        target, project = self.terraform_target(attributes)
        bindings, notes = terraform_bindings(tf_type, attributes)
        return [Imported(name="", fields={**target, "bindings": bindings}, project=project,
                         notes=notes)]

    def keep_live_member(self, role: str, member: str) -> bool:
        """Whether a live (role, member) pair is imported (Google's own members are not)."""
        return not google_managed_member(member)

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        """``live`` is the target's policy (REST JSON) under ``live["target"]`` fields."""
        bindings = policy_bindings(live.get("policy") or {}, keep=self.keep_live_member)
        if not bindings:
            raise NotImportable("only Google's own members are bound there")
        return [Imported(name="", fields={**live.get("target", {}), "bindings": bindings},
                         project=live.get("project"))]

    # --- what subclasses provide ------------------------------------------------------------
    @abstractmethod
    def target(self, ctx: ResourceContext, fields: dict[str, Any]) -> str:
        """The policy holder's resource name, e.g. ``projects/p`` or ``projects/_/buckets/b``."""

    @abstractmethod
    def get_policy(self, rid: ResourceId) -> dict[str, Any] | None:
        """The target's policy as REST JSON (``bindings``, ``etag``, ``version``), ``None`` if no target."""

    @abstractmethod
    def set_policy(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        """Write ``policy`` (carrying the etag read); raise engine errors (409/412 on a stale etag)."""

    # --- the Kind contract -------------------------------------------------------------------
    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        target = self.target(ctx, fields)
        return self.id_from_name(f"{target}/iamBindings/{ctx.address}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return desired_bindings(fields["bindings"])

    def exact_paths(self, fields: dict[str, Any]) -> frozenset[str]:
        return frozenset(paths.join("bindings", binding_key(b["role"], b.get("condition")))
                         for b in fields.get("bindings", []) if b.get("authoritative"))

    def requires(self, ctx: ResourceContext, fields: dict[str, Any]) -> list[Requirement]:
        """A Workload Identity member needs its pool, which a GKE cluster provides."""
        return [Requirement(
            capability=f"workload-pool:{pool}",
            missing=f"binds a Workload Identity member of the pool {pool}, which exists only "
                    "once a GKE cluster with Workload Identity (workloadPool: "
                    f"{pool}) exists in the project: add the cluster to the spec, or if it "
                    f"exists outside this spec say so with 'assume: [workload-pool:{pool}]'")
            for pool in workload_pools(fields if "bindings" in fields and isinstance(
                fields["bindings"], dict) else desired_bindings(fields.get("bindings", [])))]

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        return normalized_policy(live)

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self.get_policy(rid)

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        policy = self.get_policy(rid)
        if policy is None:
            raise errors.NotFound(f"{self.target_of(rid)} does not exist")
        from mlops_infra.engine.diff import diff

        return self.update(rid, desired, diff(desired, normalized_policy(policy)), policy)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        if not any(paths.split(c.path)[0] == "bindings" for c in changes):
            return live
        return self._set(rid, apply_changes(live, desired, changes))

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        """Without the last-applied bindings there is nothing we know to be ours: no-op."""

    def remove(self, rid: ResourceId, *, applied: dict[str, Any] | None, force: bool) -> None:
        policy = self.get_policy(rid)
        if policy is None or not applied:
            return
        ours = [FieldChange(path=paths.join(paths.join("bindings", key), member), op="remove")
                for key, members in applied.get("bindings", {}).items() for member in members]
        live = normalized_policy(policy)["bindings"]
        present = [c for c in ours if _has_pair(live, c.path)]
        if present:
            self._set(rid, apply_changes(policy, applied, present))

    def check_policy(self, desired: dict[str, Any], policy: dict[str, Any]) -> list[Violation]:
        return [Violation(rule="no-public-members",
                          message=f"{member} must not be granted {key.split(' if ')[0]}",
                          path="bindings")
                for key, members in desired.get("bindings", {}).items()
                for member in members if member in PUBLIC_MEMBERS]

    # --- helpers ---------------------------------------------------------------------------
    def target_of(self, rid: ResourceId) -> str:
        return rid.name.rsplit("/iamBindings/", 1)[0]

    def _set(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.set_policy(rid, policy)
        except errors.Conflict as exc:          # ABORTED / 409: the etag moved under us
            raise errors.PreconditionFailed(f"{self.target_of(rid)}: policy changed concurrently "
                                            f"({exc}); re-reading") from None


def _has_pair(live_bindings: dict[str, Any], path: str) -> bool:
    _, key, member = paths.split(path)
    return member in live_bindings.get(key, {})


def valid_member(member: str) -> bool:
    return bool(_MEMBER.match(member))
