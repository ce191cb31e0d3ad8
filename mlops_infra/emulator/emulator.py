"""The ``Emulator``: starts the service servers and the control server, and owns the
journal, fault injection, latency, the realistic delays (``realism.Delays``), the shared
project facts (``platform.Platform``: enabled APIs, workload pools), one state lock and
optional state persistence.

With a state file (``persistence.StateFile``), every request runs on the state as it is on
disk: under the file's lock (exclusive for a request that may change something), the started
services and the platform are loaded again first when another process wrote the file since,
and a mutating request saves before the lock is let go. So processes sharing one file
(two ``--local`` runs in one folder) see each other's changes and never lose them, and the
sections of services this emulator did not start are kept as they are.

Every request to a service whose API is not enabled (or not yet usable after enabling) in
the request's project is answered with Google's 403 SERVICE_DISABLED before the service
sees it. A handler may answer ``core.Deferred`` (a blocking ``wait``): the emulator sleeps
outside the state lock, then asks again.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from mlops_infra.emulator import operations, persistence
from mlops_infra.emulator.control import ControlService
from mlops_infra.emulator.core import Deferred, HttpError, Request, Response, Service, guarded
from mlops_infra.emulator.faults import RESET, Fault, FaultInjector
from mlops_infra.emulator.journal import READ_METHODS, Journal, JournalEntry
from mlops_infra.emulator.platform import Platform, service_disabled
from mlops_infra.emulator.realism import Delays
from mlops_infra.emulator.server import HttpServer
from mlops_infra.emulator.services import DEFAULT_SERVICES, build_service

PLATFORM_STATE = "_platform"   # the platform's entry in the persisted state file
_MAX_DEFERRAL = 600.0


class Emulator:
    """A running emulator; build it with ``Emulator.start(...)``."""

    def __init__(self, *, services: Iterable[str], state_path: str | Path | None,
                 latency: float, delays: Delays | None = None) -> None:
        self.delays = delays if delays is not None else Delays.realistic()
        self.platform = Platform(api_delay=lambda: self.delays.api_enablement)
        self.services: dict[str, Service] = {name: build_service(name) for name in services}
        for service in self.services.values():
            service.emulator = self
        self.state_path = Path(state_path) if state_path is not None else None
        self._file = persistence.StateFile(self.state_path) if self.state_path else None
        self._latency = latency
        self._journal = Journal()
        self._faults = FaultInjector()
        self._record_bodies = False
        # One lock for all state: handlers are short, and it keeps persistence simple.
        self._state_lock = threading.RLock()
        self._holding = 0     # in ``holding_state``: 0 no, 1 to read, 2 to change (under the lock)
        self._servers: dict[str, Any] = {}   # HttpServer or GrpcServer: both have url, stop()
        self._load()

    @classmethod
    def start(cls, services: Iterable[str] | None = DEFAULT_SERVICES,
              state_path: str | Path | None = None, latency: float = 0.0,
              delays: Delays | None = None) -> Emulator:
        """Start the servers; ``delays`` default to Google's (``Delays.realistic()``)."""
        emulator = cls(services=services or DEFAULT_SERVICES, state_path=state_path,
                       latency=latency, delays=delays)
        emulator._serve()
        return emulator

    def _serve(self) -> None:
        for name, service in self.services.items():
            self._servers[name] = (self._grpc_server_for(service) if _is_grpc(service)
                                   else HttpServer(self._front_for(service)))
        control = ControlService(self)
        self._servers["control"] = HttpServer(control.answer)

    @property
    def endpoints(self) -> dict[str, str]:
        return {name: server.url for name, server in self._servers.items()}

    # -- journal, faults, latency ----------------------------------------------------------
    @property
    def journal(self) -> list[JournalEntry]:
        return self._journal.entries()

    def mutating_requests(self, service: str | None = None) -> list[JournalEntry]:
        return [entry for entry in self.journal
                if entry.mutating and (service is None or entry.service == service)]

    def clear_journal(self) -> None:
        self._journal.clear()

    def record_bodies(self, on: bool = True) -> None:
        """Keep request and response bodies in the journal (off by default: memory)."""
        self._record_bodies = on

    @property
    def recording_bodies(self) -> bool:
        return self._record_bodies

    def set_faults(self, rate: float = 0.3, statuses: Iterable[int] = (503, 429), seed: int = 1,
                   phase: str = "random", methods: Iterable[str] | None = None,
                   services: Iterable[str] | None = None, resets: bool = True) -> None:
        self._faults.configure(rate=rate, statuses=statuses, seed=seed, phase=phase,
                               methods=methods, services=services, resets=resets)

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        self._latency = seconds

    # -- realism knobs ---------------------------------------------------------------------
    def set_delays(self, **changes: Any) -> None:
        """Change delays by field or JSON name, e.g. ``set_delays(api_enablement=0.1)``."""
        self.delays = self.delays.updated(changes)

    def set_operation_duration(self, seconds: float) -> None:
        """How long long-running operations of every service take from now on (this emulator)."""
        if seconds < 0:
            raise ValueError("operation duration must be >= 0")
        self.delays = dataclasses.replace(self.delays, operation=float(seconds), operations={})

    def set_iam_propagation_delay(self, seconds: float) -> None:
        """IAM eventual consistency: a new service account is invisible (reads 404, bindings
        400 "does not exist") and a KMS key grant is not effective for ``seconds``."""
        self.set_delays(service_account=seconds, iam_policy=seconds)

    def enable_apis(self, project: str, apis: Iterable[str]) -> None:
        """The project already has ``apis`` enabled (for long: no propagation delay)."""
        with self.holding_state(mutating=True):
            self.platform.preenable(project, list(apis))

    def add_workload_pool(self, pool_or_project: str) -> str:
        """Register a Workload Identity pool (``P.svc.id.goog``, or a project id for its pool)."""
        pool = pool_or_project if pool_or_project.endswith(".svc.id.goog") \
            else f"{pool_or_project}.svc.id.goog"
        with self.holding_state(mutating=True):
            self.platform.add_workload_pool(pool)
        return pool

    def member_error(self, member: str) -> str | None:
        """Why IAM bindings may not name ``member`` now (Google's 400 message), or ``None``."""
        with self.holding_state(mutating=False):
            problem = self.platform.member_error(member)
            iam = self.services.get("iam")
            if problem is None and iam is not None:
                problem = iam.member_error(member)  # type: ignore[attr-defined]
            return problem

    def member_exists(self, member: str) -> bool:
        """Whether IAM bindings may name ``member`` (without the ``iam`` service: all exist)."""
        return self.member_error(member) is None

    def state(self, service: str) -> Any:
        """A deep copy of one service's state (for debugging and tests)."""
        import copy

        with self.holding_state(mutating=False):
            return copy.deepcopy(self.services[service].state)

    def stop(self) -> None:
        """Stop every server at once (each waits out its own poll, so in parallel)."""
        stopping = [threading.Thread(target=server.stop) for server in self._servers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self._servers.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request path -------------------------------------------------------------------
    def _grpc_server_for(self, service: Service) -> Any:
        from mlops_infra.emulator.grpc_server import GrpcServer, RpcFront

        return GrpcServer(RpcFront(service, journal=self._journal,  # type: ignore[arg-type]
                                   faults=self._faults, hold=self.holding_state,
                                   latency=lambda: self._latency,
                                   recording=lambda: self._record_bodies))

    def _front_for(self, service: Service):  # type: ignore[no-untyped-def]
        def front(request: Request) -> Response | None:
            return self._handle(service, request)

        return front

    def _handle(self, service: Service, request: Request) -> Response | None:
        if self._latency > 0:
            time.sleep(self._latency)
        fault = self._faults.decide(service=service.name, method=request.method)
        response: Response | None = None
        if fault is None or fault.phase == "after":
            response = self._process(service, request)
        if fault is not None:
            response = _fault_response(fault)
        self._journal.append(JournalEntry(
            service=service.name, method=request.method, path=request.path,
            query=dict(request.query), status=response.status if response else RESET,
            ts=time.time(), fault=fault.phase if fault else None,
            request=_json_or_none(request.body) if self._record_bodies else None,
            response=_json_or_none(response.body) if self._record_bodies and response else None))
        return response

    def _process(self, service: Service, request: Request) -> Response:
        with self.holding_state(mutating=request.method not in READ_METHODS):
            answer = service.dispatch(request)
        while isinstance(answer, Deferred):
            time.sleep(max(0.0, min(answer.until - time.time(), _MAX_DEFERRAL)))
            then = answer.then
            with self.holding_state(mutating=False):
                answer = guarded(then)
        return answer

    def check_api(self, service: Service, project: str | None) -> None:
        """403 SERVICE_DISABLED unless ``service``'s API is usable in ``project``."""
        if not service.api or not project or self.platform.api_usable(project, service.api):
            return
        raise service_disabled(project=project, api=service.api,
                               title=service.api_title or service.api)

    # -- persistence --------------------------------------------------------------------
    @contextmanager
    def holding_state(self, *, mutating: bool) -> Iterator[None]:
        """Hold the state lock, and the state file's (exclusive when ``mutating``) with the
        state as it is on disk; a ``mutating`` hold saves at its end. A nested hold is part of
        the outer one (which must then be ``mutating`` if the inner one is)."""
        with self._state_lock:
            if self._file is None or self._holding:
                if mutating and self._holding == 1:
                    raise RuntimeError("a change of emulator state inside a read")
                yield
                return
            with self._file.locked(exclusive=mutating) as changed:
                if changed:
                    self._adopt(self._file.read())
                self._holding = 2 if mutating else 1
                try:
                    yield
                finally:
                    self._holding = 0
                    if mutating:
                        self._save()

    def _load(self) -> None:
        if self._file is None:
            return
        with self._file.locked(exclusive=False):
            self._adopt(self._file.read())

    def _adopt(self, sections: dict[str, Any]) -> None:
        """Take the platform's and the started services' states from ``sections`` (a section
        missing there keeps what this process has)."""
        if PLATFORM_STATE in sections:
            self.platform.load_state(sections[PLATFORM_STATE])
        for name, service in self.services.items():
            if name in sections:
                service.load_state(sections[name])

    def _save(self) -> None:
        """Write the platform's and the started services' states; the other sections of the
        file stay as they are (call under an exclusive ``holding_state``)."""
        if self._file is None:
            return
        states = {name: s.state for name, s in self.services.items()}
        states[PLATFORM_STATE] = self.platform.state
        self._file.write(states)


def _is_grpc(service: Service) -> bool:
    # Checked by attribute so HTTP-only runs never import grpc.
    return bool(getattr(service, "full_name", ""))


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _fault_response(fault: Fault) -> Response | None:
    if fault.status == RESET:
        return None
    error = HttpError(fault.status, f"Injected fault ({fault.phase} processing)")
    return Response.of_json(error.body(), status=fault.status)


__all__ = ["Emulator", "operations"]
