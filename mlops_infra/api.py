"""The library API: the objects the CLI uses, for notebooks and scripts.

    stack = mlops_infra.Stack.load("spec.yaml", env="dev")   # or local=True for the emulator
    plan = stack.plan()          # renders as a table in Jupyter
    result = stack.apply(plan)   # takes the lock, checks the ledger has not moved, applies

``Stack.reconcile`` is plan + (confirm) + apply, taking the lock only when there is
something to apply, so a no-change reconcile makes no mutating request at all.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_infra.clients import Clients
from mlops_infra.engine.diff import redact
from mlops_infra.engine.errors import PlanStale, UserError
from mlops_infra.engine.executor import ExecutionSettings, apply_plan
from mlops_infra.engine.kind import Kind
from mlops_infra.engine.plan import Plan, ResourceChange
from mlops_infra.engine.planner import LedgerView, build_plan, check_spec
from mlops_infra.engine.registry import all_kinds
from mlops_infra.engine.result import ApplyResult, ProgressListener
from mlops_infra.engine.retry import RetryPolicy
from mlops_infra.ledger import (
    GcsBackend,
    Ledger,
    LedgerEntry,
    LedgerState,
    LocalBackend,
    ensure_ledger_bucket,
)
from mlops_infra.spec import KindSchema, Spec, load_spec

LOCAL_STATE_DIR = Path(".mlops_infra")
LOCAL_SERVICES = ("storage", "bigquery", "serviceusage", "kms", "compute", "resourcemanager",
                  "iam")


def kind_schemas() -> dict[str, KindSchema]:
    """The spec-side view of every registered kind."""
    import mlops_infra.kinds  # noqa: F401  (registers the kinds)

    return {name: KindSchema(model=cls.model, outputs=cls.outputs) for name, cls in all_kinds().items()}


def validate(path: str | Path, *, env: str | None = None) -> Spec:
    """Load the spec and run every check that needs no API call (references, types, guardrails)."""
    spec = load(path, env=env)
    check_spec(spec, kinds={name: cls(Clients(project=spec.project, endpoints={}))
                            for name, cls in all_kinds().items()})
    return spec


def load(path: str | Path, *, env: str | None = None) -> Spec:
    """Load and validate a spec (no API calls).

    Each environment is its own stack instance (``STACK-ENV``): its own ledger object and
    stack label, so applying ``dev`` can never plan deletes of ``prod``'s resources.
    """
    spec = load_spec(path, env=env, kinds=kind_schemas())
    return dataclasses.replace(spec, stack=f"{spec.stack}-{env}") if env else spec


class Stack:
    """A loaded spec bound to clients and a ledger: plan, apply, reconcile, destroy."""

    def __init__(self, spec: Spec, *, clients: Clients, ledger: Ledger, local: bool = False,
                 emulator: Any = None, policy: RetryPolicy | None = None) -> None:
        self.spec = spec
        self.clients = clients
        self.ledger = ledger
        self.local = local
        self._emulator = emulator
        self.policy = policy or RetryPolicy.from_env()
        self.kinds: dict[str, Kind] = {name: cls(clients) for name, cls in all_kinds().items()}

    # --- construction -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, *, env: str | None = None, local: bool = False,
             endpoints: dict[str, str] | None = None, state_dir: str | Path = LOCAL_STATE_DIR) -> Stack:
        """Load ``path``; ``local`` runs against an in-process emulator persisted under ``state_dir``."""
        spec = load(path, env=env)
        if local:
            return cls._local(spec, Path(state_dir))
        clients = Clients(project=spec.project, endpoints=endpoints)
        backend = GcsBackend(clients.storage(spec.project), bucket=spec.ledger_bucket,
                             prefix=spec.ledger_prefix, stack=spec.stack)
        return cls(spec, clients=clients, ledger=Ledger(backend))

    @classmethod
    def _local(cls, spec: Spec, state_dir: Path) -> Stack:
        from mlops_infra.emulator import Emulator

        state_dir.mkdir(parents=True, exist_ok=True)
        emulator = Emulator.start(services=LOCAL_SERVICES, state_path=state_dir / "emulator-state.json")
        clients = Clients(project=spec.project, endpoints=emulator.endpoints)
        ledger = Ledger(LocalBackend(directory=state_dir / "ledger", stack=spec.stack))
        return cls(spec, clients=clients, ledger=ledger, local=True, emulator=emulator)

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- planning -------------------------------------------------------------------------
    def plan(self, *, allow_data_loss: bool = False, destroy: bool = False,
             state: LedgerState | None = None) -> Plan:
        """Read live state and the ledger; compute the plan. Never mutates anything."""
        if not destroy:
            check_spec(self.spec, kinds=self.kinds)       # guardrails before any API call
        state = state or self.ledger.read()
        view = LedgerView(entries=state.entries, generation=state.generation, location=state.location)
        return build_plan(self.spec, kinds=self.kinds, ledger=view, policy=self.policy,
                          allow_data_loss=allow_data_loss, destroy=destroy)

    # --- applying ------------------------------------------------------------------------
    def apply(self, plan: Plan, *, progress: ProgressListener | None = None, concurrency: int = 8,
              replan_if_moved: bool = False, owner: str | None = None) -> ApplyResult:
        """Apply ``plan`` under the stack's lock; refuse it if the ledger moved since it was made."""
        _refuse_blocked(plan)
        self._ensure_ledger_home()
        with self.ledger.lock(owner=owner or _whoami(), ttl=60.0):
            state = self.ledger.read()
            if state.generation != plan.ledger_generation:
                if not replan_if_moved:
                    raise PlanStale(f"the ledger {state.location} changed since the plan was made "
                                    f"(generation {plan.ledger_generation} -> {state.generation}); "
                                    "plan again")
                plan = self.plan(state=state, allow_data_loss=_allows_data_loss(plan))
                _refuse_blocked(plan)
            return self._apply_locked(plan, state, progress=progress, concurrency=concurrency)

    def reconcile(self, *, allow_data_loss: bool = False, confirm: Callable[[Plan], bool] | None = None,
                  progress: ProgressListener | None = None, concurrency: int = 8,
                  destroy: bool = False) -> tuple[Plan, ApplyResult | None]:
        """Plan, ask ``confirm`` (if given), apply. Nothing is locked or written when nothing changes."""
        plan = self.plan(allow_data_loss=allow_data_loss, destroy=destroy)
        if not (plan.has_changes or plan.ledger_sync):
            return plan, None
        if confirm is not None and not confirm(plan):
            return plan, None
        return plan, self.apply(plan, progress=progress, concurrency=concurrency, replan_if_moved=True)

    def _apply_locked(self, plan: Plan, state: LedgerState, *, progress: ProgressListener | None,
                      concurrency: int) -> ApplyResult:
        writer = self.ledger.writer(base=state)
        run = _run_record(plan)
        try:
            result = apply_plan(plan, kinds=self.kinds, sink=_LedgerSink(writer, state, self.kinds),
                                settings=ExecutionSettings(policy=self.policy, concurrency=concurrency),
                                progress=progress)
            done = Counter(o.action.value for o in result.outcomes if o.status == "done")
            run.update(result="ok" if result.ok else "failed", changes=dict(done))
            return result
        finally:
            run["finishedAt"] = _now()
            run.setdefault("result", "failed")
            writer.record_run(run)
            writer.close()

    def _ensure_ledger_home(self) -> None:
        if not self.local:
            ensure_ledger_bucket(self.clients.storage(self.spec.project), self.spec.ledger_bucket,
                                 project=self.spec.project)


class _LedgerSink:
    """Adapts the ledger writer to the executor's ``LedgerSink`` (redacting secrets)."""

    def __init__(self, writer: Any, state: LedgerState, kinds: dict[str, Kind]) -> None:
        self.writer, self.state, self.kinds = writer, state, kinds

    def record(self, *, change: ResourceChange, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None:
        previous = self.state.entries.get(change.key)
        now = _now()
        self.writer.put(LedgerEntry(
            kind=change.kind, id=change.id, address=change.address,
            applied=redact(applied, self.kinds[change.kind].secret_fields), outputs=outputs,
            created_at=previous.created_at if previous else now, updated_at=now,
            depends_on=depends_on))

    def forget(self, *, change: ResourceChange) -> None:
        self.writer.remove(change.key)


def _refuse_blocked(plan: Plan) -> None:
    blocked = plan.blocked
    if blocked:
        first = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise UserError(f"the plan is blocked: {first.kind} {first.address}: {first.blocked}{more}")


def _allows_data_loss(plan: Plan) -> bool:
    return any(r.allow_data_loss for r in plan.resources)


def _run_record(plan: Plan) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:12], "startedAt": _now(), "user": _whoami(),
            "host": socket.gethostname(), "pid": os.getpid(), "env": plan.env}


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no user database entry (containers): fall back to the uid
        return f"uid-{os.getuid()}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
