"""``iam.AuditConfig``: Data Access audit logging of a project (``auditConfigs`` of its policy).

    kind: iam.AuditConfig
    auditConfigs:
      - service: allServices              # or storage.googleapis.com, bigquery.googleapis.com ...
        auditLogConfigs:
          - logType: DATA_READ            # ADMIN_READ | DATA_READ | DATA_WRITE
            exemptedMembers: [serviceAccount:${etl.email}]
          - logType: DATA_WRITE

Merged per service: the services a resource lists are managed whole (their log types and
exemptions are exactly the spec's); other services' configs, written by anyone else, are
never touched. A service removed from the spec (or the resource removed) is taken out of
the policy again (three-way, from the last-applied spec). Writes are etag-checked
read-modify-writes of the project policy with the update mask ``auditConfigs`` (bindings
are left alone); a concurrent change (409) is re-read and redone.

Internal shape (what the diff compares)::

    {"auditConfigs": {"allServices": {"DATA_READ": {"enabled": True,
                                                    "exemptedMembers": {"user:a@b.c": True}}}}}

Identity ``projects/P/auditConfigs/ADDRESS``; no outputs.

Moving in: each ``google_project_iam_audit_config`` (one service) becomes one resource; a
live project's audit configs import as one ``audit-config`` resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import (
    FieldChange,
    Imported,
    ImportedList,
    Kind,
    NotImportable,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._clients import RESOURCE_MANAGER
from mlops_infra.kinds._imports import blocks
from mlops_infra.kinds.iam.bindings import read_project_policy, write_project_policy
from mlops_infra.spec.jsoncopy import copy_json

_MASK = ("audit_configs", "etag")


class AuditLogConfig(SpecModel):
    logType: Literal["ADMIN_READ", "DATA_READ", "DATA_WRITE"]
    exemptedMembers: list[str] = Field(default_factory=list)


class ServiceAuditConfig(SpecModel):
    service: str = Field(pattern=r"^(allServices|[a-z0-9.-]+\.googleapis\.com)$")
    auditLogConfigs: list[AuditLogConfig] = Field(min_length=1)


class AuditConfigSpec(SpecModel):
    """Audit log configuration of the resource's project, per service."""

    auditConfigs: list[ServiceAuditConfig] = Field(min_length=1)


def shaped(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """REST ``auditConfigs`` (or the spec's list) in the internal keyed shape."""
    out: dict[str, Any] = {}
    for config in configs:
        service = out.setdefault(config["service"], {})
        for log in config.get("auditLogConfigs") or []:
            entry = service.setdefault(log["logType"], {"enabled": True, "exemptedMembers": {}})
            entry["exemptedMembers"].update(dict.fromkeys(log.get("exemptedMembers") or [], True))
    return {"auditConfigs": out}


def rest_config(service: str, logs: dict[str, Any]) -> dict[str, Any]:
    """One REST ``AuditConfig`` from the internal shape of one service."""
    return {"service": service, "auditLogConfigs": [
        {"logType": log_type, **({"exemptedMembers": sorted(entry["exemptedMembers"])}
                                 if entry.get("exemptedMembers") else {})}
        for log_type, entry in sorted(logs.items())]}


def merged(policy: dict[str, Any], desired: dict[str, Any], services: set[str]) -> dict[str, Any]:
    """``policy`` with ``services`` replaced by their desired config (or dropped if not desired)."""
    out = copy_json(policy)
    want = desired.get("auditConfigs", {})
    kept = [c for c in policy.get("auditConfigs", []) if c["service"] not in services]
    out["auditConfigs"] = kept + [rest_config(s, want[s]) for s in sorted(services) if s in want]
    return out


@register
class AuditConfig(Kind):
    """Audit logging configuration of a project (part of its IAM policy)."""

    name = "iam.AuditConfig"
    name_pattern = "projects/*/auditConfigs/*"
    layer = "Security"
    model = AuditConfigSpec
    outputs: ClassVar[frozenset[str]] = frozenset()
    labels_path = None
    listable = False
    api = "cloudresourcemanager.googleapis.com"
    uses = (RESOURCE_MANAGER,)
    shared = True
    terraform_types = ("google_project_iam_audit_config",)
    terraform_refs = {"auditConfigs[].auditLogConfigs[].exemptedMembers[]": "member"}

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        logs = [{"logType": c["log_type"], **({"exemptedMembers": sorted(c["exempted_members"])}
                                              if c.get("exempted_members") else {})}
                for c in blocks(attributes, "audit_log_config")]
        if not logs:
            raise NotImportable("an audit config without log types enables nothing")
        config = {"service": attributes["service"], "auditLogConfigs": sorted(
            logs, key=lambda c: str(c["logType"]))}
        return [Imported(name="", fields={"auditConfigs": [config]},
                         project=attributes.get("project"))]

    def live_resources(self, project: str, regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        policy = read_project_policy(self.clients, project)
        if not policy or not policy.get("auditConfigs"):
            return {}
        return {f"projects/{project}/auditConfigs/audit-config": policy}

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        configs = [rest_config(service, logs)
                   for service, logs in sorted(shaped(live.get("auditConfigs", []))
                                               ["auditConfigs"].items())]
        return [Imported(name="", fields={"auditConfigs": configs}, project=name.split("/")[1])]

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return self.id_from_name(f"projects/{ctx.project}/auditConfigs/{ctx.address}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return shaped(fields["auditConfigs"])

    def exact_paths(self, fields: dict[str, Any]) -> frozenset[str]:
        """A listed service is managed whole: its log types and exemptions are the spec's."""
        found = set()
        for config in fields.get("auditConfigs", []):
            service = paths.join("auditConfigs", config["service"])
            found.add(service)
            found |= {paths.join(paths.join(service, log["logType"]), "exemptedMembers")
                      for log in config["auditLogConfigs"]}
        return frozenset(found)

    def normalize(self, live: dict[str, Any]) -> dict[str, Any]:
        if isinstance(live.get("auditConfigs"), dict):
            return live                     # already in the internal shape
        return {**shaped(live.get("auditConfigs", [])), "etag": live.get("etag")}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return self._read(rid)

    def _read(self, rid: ResourceId) -> dict[str, Any] | None:
        """The project policy; a disabled API raises (writes wait for the enablement)."""
        return read_project_policy(self.clients, rid.parts["projects"])

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        policy = self._read(rid)
        if policy is None:
            raise errors.NotFound(f"projects/{rid.parts['projects']} does not exist")
        return self._write(rid, merged(policy, desired, set(desired["auditConfigs"])))

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        touched = {_service_of(c) for c in changes} - {None}
        if not touched:
            return live
        return self._write(rid, merged(live, desired, touched))  # type: ignore[arg-type]

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        """Without the last-applied spec nothing is known to be ours: no-op."""

    def remove(self, rid: ResourceId, *, applied: dict[str, Any] | None, force: bool) -> None:
        policy = self._read(rid)
        ours = set((applied or {}).get("auditConfigs", {}))
        if policy is None or not ours & {c["service"] for c in policy.get("auditConfigs", [])}:
            return
        self._write(rid, merged(policy, {}, ours))

    def _write(self, rid: ResourceId, policy: dict[str, Any]) -> dict[str, Any]:
        project = rid.parts["projects"]
        try:
            return write_project_policy(self.clients, project, policy, fields=_MASK)
        except errors.Conflict as exc:     # ABORTED: the etag moved under us
            raise errors.PreconditionFailed(f"projects/{project}: policy changed concurrently "
                                            f"({exc}); re-reading") from None


def _service_of(change: FieldChange) -> str | None:
    keys = paths.split(change.path)
    return keys[1] if keys[0] == "auditConfigs" and len(keys) > 1 else None
