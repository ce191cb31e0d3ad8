"""Checking the written spec against live state, and writing each environment's ledger.

For each environment the spec is loaded as a stack, resolved, and planned against the live
project with a ledger that owns every resource of the spec (what the import is about to
write): the plan must be "no changes" but for the ownership labels this tool adds, which are
marked pending (``engine.ownership``) so the first plan a user makes is "no changes" and
``python -m mlops_infra import labels`` adds them in one step. Anything else the plan would
change is a difference the summary shows. Guardrail rules the live resources break are
waived on the resource with a reason to review (the import describes what is, it does not
change it).

The ledger is written under the stack's lock, refusing to overwrite a ledger that owns any
resource the import does not (another stack's, or resources removed since): only a ledger
that is empty or holds exactly these resources (a re-run of the same import) is written.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops_infra.api import Stack, load
from mlops_infra.clients import Clients
from mlops_infra.engine import ownership
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.graph import dependency_keys
from mlops_infra.engine.kind import Kind
from mlops_infra.engine.plan import Plan, ResourceChange
from mlops_infra.engine.registry import LazyKinds
from mlops_infra.engine.resolve import resolve_resources
from mlops_infra.engine.sensitive import SecretUnavailable, SecretValues, secret_paths, stored_form
from mlops_infra.ledger import LedgerEntry, LedgerState, utc_now

WAIVER = "imported as it is live: review"


def violations(spec_path: Path, env: str | None) -> dict[str, dict[str, str]]:
    """address -> {rule: reason} for the guardrail rules the imported resources break."""
    spec = load(spec_path, env=env)
    clients = Clients(project=spec.project, endpoints={})
    kinds: Mapping[str, Kind] = LazyKinds(lambda cls: cls(clients))
    found: dict[str, dict[str, str]] = {}
    for r in resolve_resources(spec, kinds=kinds).values():
        for violation in r.kind.check_policy(r.desired, spec.policy):
            found.setdefault(r.address, {})[violation.rule] = WAIVER
    return found


@dataclass
class Checked:
    """One environment's check: its stack, the first plan, the entries to write."""

    env: str | None
    stack: Stack
    plan: Plan
    entries: dict[str, LedgerEntry]
    pending: list[str] = field(default_factory=list)      # addresses awaiting their labels
    differences: list[ResourceChange] = field(default_factory=list)
    secrets_once: list[str] = field(default_factory=list)   # addresses whose secrets the
    # first apply sends (Google returns them obfuscated: nothing can tell they are the live ones)
    location: str = ""


def check(spec_path: Path, env: str | None, *, endpoints: dict[str, str] | None,
          api_names: Mapping[str, str]) -> Checked:
    """Plan the environment against live state as if the import's ledger were written
    (``api_names``: address -> API name, for kinds whose names the server chose)."""
    stack = Stack.load(spec_path, env=env, endpoints=endpoints)
    current = stack.read_ledger()
    resolved = _resolved(stack)
    known = _server_named_outputs(resolved.values(), api_names)
    proposed = {r.rid.key: LedgerEntry(kind=r.kind.name, id=r.rid.name or api_names.get(r.address, ""),
                                       address=r.address,
                                       applied=stored_form(_filled(r.desired, known), r.kind),
                                       labels_pending=r.kind.labels_path is not None)
                for r in resolved.values()}
    _refuse_foreign(current, set(proposed))
    state = replace(current, entries=proposed, intents={})
    stack.secrets = _ToFillIn(stack.secrets)
    plan = stack.plan(state=state, ownership_labels=True)
    _refuse_blocked(plan)
    checked = Checked(env=env, stack=stack, plan=plan, entries={}, location=current.location)
    deps = dependency_keys(list(plan.resources))
    now = utc_now()
    for change in plan.resources:
        kind = stack.kinds[change.kind]
        labels_only = ownership.only_managed_labels(kind, list(change.changes))
        rest = _not_at_secrets(kind, change)
        if change.action.value == "update" and rest is not None:
            checked.secrets_once.append(change.address)
            labels_only = bool(rest) and ownership.only_managed_labels(kind, rest)
        elif change.mutates and not labels_only:
            checked.differences.append(change)
        if labels_only:
            checked.pending.append(change.address)
        checked.entries[change.key] = LedgerEntry(
            kind=change.kind, id=change.id, address=change.address,
            applied=stored_form(change.desired or {}, kind), outputs=dict(change.outputs),
            created_at=now, updated_at=now, depends_on=tuple(sorted(deps.get(change.key, ()))),
            labels_pending=labels_only)
    return checked


class _ToFillIn(SecretValues):
    """The spec's secrets for the import's check: one not filled in yet (the import just wrote
    its ``secrets:`` entry) stands for an unknown value instead of stopping the check."""

    def __init__(self, inner: SecretValues | None) -> None:
        super().__init__({}, lambda source: "")
        self._inner = inner

    def value(self, name: str) -> str:
        try:
            if self._inner is None:
                raise SecretUnavailable(name)
            return self._inner.value(name)
        except SecretUnavailable:
            return f"(secret {name} to fill in)"


def _not_at_secrets(kind: Kind, change: ResourceChange) -> list[Any] | None:
    """The changes of ``change`` not at a secret path, or ``None`` when there is no change at
    one. An import cannot record a secret's digest (it never reads the value, and Google
    returns it obfuscated), so each secret is a change of the first plan: sent once."""
    at = secret_paths(change.desired or {}, kind)
    secret = [c for c in change.changes
              if any(c.path == p or c.path.startswith(p + ".") for p in at)]
    return [c for c in change.changes if c not in secret] if secret else None


def _server_named_outputs(resolved: Any, api_names: Mapping[str, str]) -> dict[str, Any]:
    """``${address.output}`` -> value for the outputs of server-named resources, which the spec
    alone cannot know but the state's API names tell (``${oncall.name}`` in an alert policy)."""
    known: dict[str, Any] = {}
    for r in resolved:
        if not r.rid.name and api_names.get(r.address):
            rid = r.kind.id_from_name(api_names[r.address])
            known.update({f"${{{r.address}.{k}}}": v for k, v in r.kind.outputs_of(rid, None).items()})
    return known


def _filled(value: Any, known: Mapping[str, Any]) -> Any:
    """``value`` with the references ``known`` answers replaced (as the plan will resolve
    them), so the recorded last-applied state is what the first plan compares."""
    if not known:
        return value
    if isinstance(value, str):
        if value in known:
            return known[value]
        for ref, out in known.items():
            if ref in value and isinstance(out, str):
                value = value.replace(ref, out)
        return value
    if isinstance(value, dict):
        return {k: _filled(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, known) for v in value]
    return value


def _resolved(stack: Stack) -> Any:
    from mlops_infra.engine.planner import check_spec

    return check_spec(stack.spec, kinds=stack.kinds)


def _refuse_blocked(plan: Plan) -> None:
    """A resource the check cannot take (labelled for another mlops-infra stack, say) is never
    written into this stack's ledger: the import stops before writing anything."""
    blocked = [c for c in plan.resources if c.blocked]
    if blocked:
        first = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise UserError(f"cannot import {first.kind} {first.address}: {first.blocked}{more}; "
                        "leave it out of the state, or import it into its own stack")


def _refuse_foreign(current: LedgerState, keys: set[str]) -> None:
    foreign = sorted(k for k in current.entries if k not in keys)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UserError(f"the ledger {current.location} already owns {len(foreign)} other "
                        f"resource(s) ({shown}): refusing to overwrite it; import into another "
                        "stack (--stack) or environment, or reconcile that stack first")


def write(checked: Checked, *, source: str) -> str:
    """Write the environment's ledger (under its lock); its location."""
    stack = checked.stack
    with stack.locked(owner=f"mlops_infra import ({_whoami()})") as lease:
        current = stack.read_ledger()
        _refuse_foreign(current, set(checked.entries))
        writer = stack.ledger_writer(base=current, lease=lease)
        try:
            for entry in checked.entries.values():
                writer.put(entry)
            writer.record_run({"id": uuid.uuid4().hex[:12], "startedAt": utc_now(),
                               "finishedAt": utc_now(), "user": _whoami(),
                               "host": socket.gethostname(), "pid": os.getpid(),
                               "env": checked.env, "result": "ok",
                               "imported": {"from": source, "resources": len(checked.entries)}})
        finally:
            writer.close()
        if writer.error is not None:
            raise writer.error
    return stack.ledger.location


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"
