"""The library API: the objects the CLI uses, for notebooks and scripts.

    stack = mlops_infra.Stack.load("spec.yaml", env="dev")   # or local=True for the emulator
    plan = stack.plan()          # renders as a table in Jupyter
    result = stack.apply(plan)   # takes the lock, checks the ledger has not moved, applies

``Stack.reconcile`` is plan + show + confirm + apply. It takes the lock only when there is
something to do, and holds it from before the plan is shown until the apply ends, so
what is applied is exactly what was shown and approved (a plan made against a ledger
that moved meanwhile is made again and shown again). A no-change reconcile writes nothing.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_infra import report  # noqa: F401  (plans render as HTML tables in Jupyter)
from mlops_infra.clients import (
    ENDPOINTS_ENV,
    LOCAL_EMULATOR,
    Clients,
    check_credentials,
    endpoints_from_env,
)
from mlops_infra.engine.authority import unproven
from mlops_infra.engine.collections_pause import fewer_collections
from mlops_infra.engine.errors import LockHeld, MlopsInfraError, PlanStale, UserError
from mlops_infra.engine.executor import DEFAULT_APPLY_CONCURRENCY, ExecutionSettings, apply_plan
from mlops_infra.engine.kind import Kind
from mlops_infra.engine.ownership import judge, managed_label_paths
from mlops_infra.engine.plan import Plan, ResourceChange
from mlops_infra.engine.plan_file import check_kinds
from mlops_infra.engine.planner import LedgerView, build_plan, check_spec
from mlops_infra.engine.reading import DEFAULT_READ_CONCURRENCY
from mlops_infra.engine.registry import (
    LazyKinds,
    all_kinds,
    endpoints_of,
    guardrail_rules,
    policy_settings,
)
from mlops_infra.engine.resolve import Resolved, expand_implied
from mlops_infra.engine.result import ApplyResult, ProgressListener
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.sensitive import SecretValues, require_all, stored_form
from mlops_infra.ledger import (
    GcsBackend,
    Intent,
    Lease,
    Ledger,
    LedgerEntry,
    LedgerState,
    LocalBackend,
    ensure_ledger_bucket,
    utc_now,
)
from mlops_infra.spec import KindSchema, Spec, load_every_environment, load_spec

LOCAL_STATE_DIR = Path(".mlops_infra")
LEASE_SECONDS = 60.0


def registered_kinds() -> dict[str, type[Kind]]:
    """Every kind (imports every kind module)."""
    import mlops_infra.kinds  # noqa: F401  (tells the registry how to load them)

    return all_kinds()


def kind_schemas() -> Mapping[str, KindSchema]:
    """The spec-side view of the kinds; a kind's module is imported when a spec names it."""
    import mlops_infra.kinds  # noqa: F401  (tells the registry how to load them)

    return LazyKinds(lambda cls: KindSchema(model=cls.model, outputs=cls.outputs))


def validate(path: str | Path, *, env: str | None = None) -> dict[str | None, Spec]:
    """Run every check that needs no API call (syntax, fields, names, references, guardrails)
    on **every** environment of the spec, so a typo in one overlay fails whichever is asked
    for; returns the checked specs by environment (``{None: spec}`` without environments)."""
    if env is not None:
        load(path, env=env)                 # an unknown --env fails first, with a hint
    with fewer_collections():
        specs = {name: _instance(spec, name) for name, spec in load_every_environment(
            path, kinds=kind_schemas(), **_strict()).items()}
        for spec in specs.values():
            check_spec(spec, kinds=_offline_kinds(spec))
    return specs


def load(path: str | Path, *, env: str | None = None) -> Spec:
    """Load and validate a spec (no API calls).

    A spec that defines environments needs one (``env``). Each environment is its own stack
    instance (``STACK-ENV``): its own ledger object and stack label, so applying ``dev`` can
    never plan deletes of ``prod``'s resources.
    """
    with fewer_collections():
        return _instance(load_spec(path, env=env, kinds=kind_schemas(), require_env=True,
                                   **_strict()), env)


def _strict() -> dict[str, Any]:
    """What the kinds declare: the ``policy:`` settings and the rules a waiver may name
    (gathered from every kind only when a spec writes a policy or a waiver)."""
    return {"policy_settings": _Deferred(policy_settings),
            "guardrail_rules": _Deferred(guardrail_rules)}


class _Deferred(Mapping[str, Any]):
    """A mapping computed on first use."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute = compute
        self._value: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._value is None:
            registered_kinds()
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _instance(spec: Spec, env: str | None) -> Spec:
    return dataclasses.replace(spec, stack=f"{spec.stack}-{env}") if env else spec


def _offline_kinds(spec: Spec) -> Mapping[str, Kind]:
    return offline_kinds(spec.project)


def offline_kinds(project: str | None = None) -> Mapping[str, Kind]:
    """Every kind, with clients that call nothing: for checks that need no API (a saved
    plan's kinds and names, before its spec is even loaded)."""
    import mlops_infra.kinds  # noqa: F401  (tells the registry how to load them)

    clients = Clients(project=project, endpoints={})
    return LazyKinds(lambda cls: cls(clients))


def services_for(spec: Spec, *, recorded: Iterable[str] = ()) -> list[str]:
    """The emulator services a spec's kinds (and what they imply) call, those the
    ``recorded`` kinds call (a ledger's: what it records is read, and deleted once the spec
    no longer has it), and Secret Manager when a secret comes from it."""
    offline = _offline_kinds(spec)
    used = {r.kind for r in expand_implied(spec.resources, kinds=offline).values()}
    used.update(kind for kind in recorded if kind in offline)
    services = endpoints_of(type(offline[name]) for name in used)
    if any(s.kind == "secretManager" for s in spec.secrets.values()):
        services = sorted({*services, "secretmanager"})
    return services


def _recorded_kinds(ledger: Ledger) -> set[str]:
    """The kinds of the resources (and creates in flight) ``ledger`` records; none when it
    cannot be read (the plan reads it again and says why)."""
    try:
        state = ledger.read()
    except (MlopsInfraError, ValueError, RecursionError):
        return set()
    return {entry.kind for entry in state.entries.values()} | {
        intent.kind for intent in state.intents.values()}


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
        self.read_concurrency = DEFAULT_READ_CONCURRENCY
        self.kinds: Mapping[str, Kind] = LazyKinds(lambda cls: cls(clients))
        self.secrets = _secret_values(spec, clients, self.policy)
        self._checked: tuple[Spec, dict[str, Resolved]] | None = None

    # --- construction -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, *, env: str | None = None, local: bool = False,
             endpoints: dict[str, str] | None = None, state_dir: str | Path = LOCAL_STATE_DIR,
             kinds: Iterable[str] = ()) -> Stack:
        """Load ``path``; ``local`` runs against an in-process emulator persisted under
        ``state_dir``, with the services of the spec's kinds, its ledger's and ``kinds``
        (those of a saved plan to apply)."""
        spec = load(path, env=env)
        if local:
            return cls._local(spec, Path(state_dir), kinds=kinds)
        source = None if endpoints is not None else ENDPOINTS_ENV
        endpoints = endpoints if endpoints is not None else endpoints_from_env()
        if endpoints is None:
            check_credentials()
        clients = Clients(project=spec.project, endpoints=endpoints, endpoints_source=source)
        backend = GcsBackend(clients.storage(spec.project), bucket=spec.ledger_bucket,
                             prefix=spec.ledger_prefix, stack=spec.stack)
        return cls(spec, clients=clients, ledger=Ledger(backend))

    @classmethod
    def _local(cls, spec: Spec, state_dir: Path, *, kinds: Iterable[str] = ()) -> Stack:
        """Start only the emulator services this stack calls: its spec's, those of what its
        ledger records (the resources a plan may have to delete) and of ``kinds``."""
        from mlops_infra.emulator import Emulator, StateFileError

        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        ledger = Ledger(LocalBackend(directory=state_dir / "ledger", stack=spec.stack))
        services = services_for(spec, recorded={*_recorded_kinds(ledger), *kinds})
        try:
            emulator = Emulator.start(services=services or ("storage",),
                                      state_path=state_dir / "emulator-state.json")
        except StateFileError as exc:
            raise UserError(f"{exc}; it is left as it is (move it away to start from an empty "
                            "emulator)") from None
        clients = Clients(project=spec.project, endpoints=emulator.endpoints,
                          endpoints_source=LOCAL_EMULATOR)
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
             state: LedgerState | None = None, allow_restart: bool = False,
             ownership_labels: bool = False) -> Plan:
        """Read live state and the ledger (concurrently); compute the plan. Never mutates anything.

        ``ownership_labels`` also adds the ownership labels resources moved in by an import
        still lack (``mlops_infra import labels``)."""
        with fewer_collections():
            return self._plan(allow_data_loss=allow_data_loss, destroy=destroy, state=state,
                              allow_restart=allow_restart, ownership_labels=ownership_labels)

    def _plan(self, *, allow_data_loss: bool, destroy: bool, state: LedgerState | None,
              allow_restart: bool, ownership_labels: bool) -> Plan:
        resolved = None if destroy else self._checked_spec()           # before any API call
        ledger = _view(state) if state is not None else (lambda: _view(self.read_ledger()))
        with self.clients.reads.sharing():      # one read per API object, whoever needs it
            return build_plan(self.spec, kinds=self.kinds, ledger=ledger, policy=self.policy,
                              allow_data_loss=allow_data_loss, destroy=destroy,
                              resolved=resolved, read_concurrency=self.read_concurrency,
                              secrets=self.secrets, allow_restart=allow_restart,
                              ownership_labels=ownership_labels)

    def _checked_spec(self) -> dict[str, Resolved]:
        """The spec resolved and checked (``check_spec``: no API call), once per spec: later
        plans of this stack reuse it (a tenth of a no-op plan at 500 resources). Resolving
        reads nothing live; each plan gets its own copies of the desired states, so a plan
        edited in place leaves the next one as it was."""
        checked = self._checked
        if checked is None or checked[0] is not self.spec:
            checked = self._checked = (self.spec, check_spec(self.spec, kinds=self.kinds))
        return {address: r.own_copy() for address, r in checked[1].items()}

    # --- applying ------------------------------------------------------------------------
    def apply(self, plan: Plan, *, progress: ProgressListener | None = None,
              concurrency: int = DEFAULT_APPLY_CONCURRENCY, owner: str | None = None) -> ApplyResult:
        """Apply ``plan`` under the stack's lock; refuse it if the ledger moved since it was made.
        The secrets it references are resolved first (a missing one changes nothing)."""
        check_kinds(plan.resources, self.kinds)        # a plan read without kinds, or built
        refuse_blocked(plan)
        require_all(self.secrets, (c.desired for c in plan.resources if c.desired))
        self._check_against(plan, self.read_ledger())     # a bad plan takes no lock either
        with self.locked(owner=owner, home_known=plan.ledger_generation > 0) as lease:
            state = self.read_ledger()
            self._check_against(plan, state)
            return self._apply_locked(plan, state, lease=lease, progress=progress,
                                      concurrency=concurrency)

    def _check_against(self, plan: Plan, state: LedgerState) -> None:
        """``PlanStale`` if the ledger moved since ``plan`` was made; ``UserError`` if the plan
        touches what that ledger does not show to be this stack's (``engine.authority``)."""
        if state.generation != plan.ledger_generation:
            raise PlanStale(f"the ledger {state.location} changed since the plan was made "
                            f"(generation {plan.ledger_generation} -> {state.generation}); "
                            "plan again")
        why = unproven(plan, _view(state), kinds=self.kinds, adoptable=self._adoptable,
                       labelled=self._labelled_ours)
        if why is not None:         # a plan edited (and digested again) after it was made
            raise UserError(f"refusing the plan: {why}; make a new plan")

    def _adoptable(self, change: ResourceChange) -> bool:
        """Whether the unrecorded resource ``change`` adopts may be taken, proven now: the spec
        says ``adopt: true`` at that address, or its live labels name this stack (one read)."""
        written = self.spec.resources.get(change.address)
        if written is not None and written.kind == change.kind and written.adopt:
            return True
        return self._labelled_ours(change)

    def _labelled_ours(self, change: ResourceChange) -> bool:
        """Whether the live labels of the resource ``change`` names name this stack (one read)."""
        if not change.id:
            return False
        kind = self.kinds[change.kind]          # known, and the id its own: check_kinds
        rid = dataclasses.replace(kind.id_from_name(change.id), address=change.address)
        live = call_with_retries(lambda: kind.get(rid), policy=self.policy)
        return live is not None and judge(kind, live, stack=self.spec.stack, intent=False,
                                          requested=False).ours

    def reconcile(self, *, allow_data_loss: bool = False, confirm: Callable[[Plan], bool] | None = None,
                  show: Callable[[Plan], None] | None = None,
                  progress: ProgressListener | None = None, concurrency: int = DEFAULT_APPLY_CONCURRENCY,
                  destroy: bool = False,
                  watch: Callable[[Plan], AbstractContextManager[ProgressListener]] | None = None,
                  allow_restart: bool = False) -> tuple[Plan, ApplyResult | None]:
        """Plan, ``show``, ask ``confirm`` (if given), apply what was shown.

        ``progress`` receives the executor's events; ``watch(plan)`` instead opens a
        listener for the plan being applied (the terminal progress display).

        Nothing is locked or written when nothing changes. Otherwise the lock is held from
        before the plan is shown until the apply ends; if the ledger moved after the first
        look, the plan is made again, so what is shown is what is applied.
        """
        plan = self.plan(allow_data_loss=allow_data_loss, destroy=destroy,
                         allow_restart=allow_restart)
        if plan.blocked or not _has_work(plan):
            if show:
                show(plan)
            refuse_blocked(plan)
            return plan, None
        with self.locked(home_known=plan.ledger_generation > 0) as lease:
            state = self.read_ledger()
            if state.generation != plan.ledger_generation:
                plan = self.plan(allow_data_loss=allow_data_loss, destroy=destroy, state=state,
                                 allow_restart=allow_restart)
            if show:
                show(plan)
            refuse_blocked(plan)
            if not _has_work(plan) or (plan.has_changes and confirm is not None and not confirm(plan)):
                return plan, None
            with (watch(plan) if watch else nullcontext(progress)) as listener:
                return plan, self._apply_locked(plan, state, lease=lease, progress=listener,
                                                concurrency=concurrency)

    @contextmanager
    def locked(self, *, owner: str | None = None, home_known: bool = False) -> Iterator[Lease]:
        """Hold the stack's lock (its ledger's home is created first unless ``home_known``:
        a ledger that was read exists, so its bucket does); yields the lease, which whoever
        changes anything under it asks first (``Lease.check``)."""
        if not home_known:
            self.ensure_ledger_home()
        try:
            lease = self.ledger.lock(owner=owner or _whoami(), ttl=LEASE_SECONDS)
        except LockHeld as exc:
            exc.hint = ("wait for it (its lease expires by itself), or if that run is dead: "
                        f"python -m mlops_infra state unlock {self.command_target()}")
            raise
        with lease:
            yield lease

    def command_target(self) -> str:
        """``SPEC [--env E] [--local]`` as a command line for this stack."""
        env = f" --env {self.spec.env}" if self.spec.env else ""
        return f"{self.spec.path}{env}{' --local' if self.local else ''}"

    def _apply_locked(self, plan: Plan, state: LedgerState, *, lease: Lease,
                      progress: ProgressListener | None, concurrency: int) -> ApplyResult:
        """Apply under ``lease``: no change is sent and no ledger write made once it is lost
        (the writer's close then raises ``LockLost``, so the command fails)."""
        writer = self.ledger_writer(base=state, lease=lease)
        run = _run_record(plan)
        try:
            result = apply_plan(plan, kinds=self.kinds,
                                sink=_LedgerSink(writer, state, self.kinds, run_id=run["id"]),
                                settings=ExecutionSettings(policy=self.policy, concurrency=concurrency,
                                                           secrets=self.secrets,
                                                           lock_lost=lease.lost_reason),
                                progress=progress)
            done = Counter(o.action.value for o in result.outcomes if o.status == "done")
            run.update(result="ok" if result.ok else "failed", changes=dict(done))
            return result
        finally:
            run["finishedAt"] = _now()
            run.setdefault("result", "failed")
            writer.record_run(run)
            writer.close()

    # --- the ledger's identity -----------------------------------------------------------
    @property
    def origin(self) -> str:
        """Whose ledger this stack's is: its stack, environment and project."""
        spec = self.spec
        if spec.env:        # the stack instance is named STACK-ENV (``_instance``)
            name = spec.stack.removesuffix(f"-{spec.env}")
            return f"stack '{name}' in environment '{spec.env}', project '{spec.project}'"
        return f"stack '{spec.stack}', project '{spec.project}'"

    def read_ledger(self) -> LedgerState:
        """The ledger, refused when another spec wrote it: two specs whose ledger objects
        coincide (``stack: ml`` with ``--env dev`` and ``stack: ml-dev``; one stack name in two
        projects sharing a ledger bucket) would otherwise delete each other's resources."""
        state = self.ledger.read()
        if state.origin and state.origin != self.origin:
            raise UserError(f"the ledger {state.location} belongs to {state.origin}, not to "
                            f"{self.origin}: give one of them a ledger of its own "
                            "(another stack name, or ledger.prefix)")
        return state

    def ledger_writer(self, *, base: LedgerState, lease: Lease) -> Any:
        """A writer of this stack's ledger from ``base`` under ``lease``, recording whose
        ledger it is."""
        return self.ledger.writer(base=dataclasses.replace(base, origin=self.origin), lease=lease)

    def ensure_ledger_home(self) -> bool:
        """Create the ledger bucket if missing (versioned, private); ``True`` if created now."""
        if self.local:
            return False
        return ensure_ledger_bucket(self.clients.storage(self.spec.project), self.spec.ledger_bucket,
                                    project=self.spec.project)


class _LedgerSink:
    """Adapts the ledger writer to the executor's ``LedgerSink`` (secret fields as digests)."""

    def __init__(self, writer: Any, state: LedgerState, kinds: Mapping[str, Kind], *,
                 run_id: str) -> None:
        self.writer, self.state, self.kinds, self.run_id = writer, state, kinds, run_id

    def intend(self, changes: list[ResourceChange]) -> None:
        now = utc_now()
        self.writer.intend([Intent(kind=c.kind, id=c.id, address=c.address, run_id=self.run_id,
                                   at=now, scope=c.scope, preexisting=c.preexisting)
                             for c in changes])

    def record(self, *, change: ResourceChange, name: str, applied: dict[str, Any],
               outputs: dict[str, Any], depends_on: tuple[str, ...]) -> None:
        previous = self.state.entries.get(change.key)
        if change.moved_from:
            self.writer.remove(change.moved_from)
            previous = previous or self.state.entries.get(change.moved_from)
        now = _now()
        kind = self.kinds[change.kind]
        pending = bool(previous and previous.labels_pending) and not any(
            c.path in managed_label_paths(kind) for c in change.changes)
        self.writer.put(LedgerEntry(
            kind=change.kind, id=name, address=change.address,
            applied=stored_form(applied, kind), outputs=outputs,
            created_at=previous.created_at if previous else now, updated_at=now,
            depends_on=depends_on, preexisting=change.preexisting, labels_pending=pending))

    def forget(self, *, change: ResourceChange) -> None:
        self.writer.remove(change.key)


def _secret_values(spec: Spec, clients: Clients, policy: RetryPolicy) -> SecretValues:
    """The spec's secrets, fetched from their sources only when a plan or an apply needs them."""
    from mlops_infra.kinds._secrets import fetcher

    return SecretValues(spec.secrets, fetcher(clients, policy))


def _view(state: LedgerState) -> LedgerView:
    return LedgerView(entries=state.entries, generation=state.generation, location=state.location,
                      intents=state.intents, notes=state.notes)


def refuse_blocked(plan: Plan) -> None:
    """``UserError`` naming the first blocked change (a blocked plan is never applied)."""
    blocked = plan.blocked
    if blocked:
        first = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise UserError(f"the plan is blocked: {first.kind} {first.address}: {first.blocked}{more}")


def _has_work(plan: Plan) -> bool:
    return plan.has_changes or plan.ledger_sync


def _run_record(plan: Plan) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:12], "startedAt": _now(), "user": _whoami(),
            "host": socket.gethostname(), "pid": os.getpid(), "env": plan.env}


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no user database entry (containers): fall back to the uid
        return f"uid-{os.getuid()}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
