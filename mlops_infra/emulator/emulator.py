"""The ``Emulator``: starts the service servers and the control server, and owns the
journal, fault injection, latency, one state lock and optional state persistence."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from mlops_infra.emulator import persistence
from mlops_infra.emulator.control import ControlService
from mlops_infra.emulator.core import HttpError, Request, Response, Service
from mlops_infra.emulator.faults import RESET, Fault, FaultInjector
from mlops_infra.emulator.journal import READ_METHODS, Journal, JournalEntry
from mlops_infra.emulator.server import HttpServer
from mlops_infra.emulator.services import DEFAULT_SERVICES, build_service


class Emulator:
    """A running emulator; build it with ``Emulator.start(...)``."""

    def __init__(self, *, services: Iterable[str], state_path: str | Path | None,
                 latency: float) -> None:
        self.services: dict[str, Service] = {name: build_service(name) for name in services}
        for service in self.services.values():
            service.emulator = self   # type: ignore[attr-defined]  # for member_exists etc.
        self.state_path = Path(state_path) if state_path is not None else None
        self._latency = latency
        self._journal = Journal()
        self._faults = FaultInjector()
        # One lock for all state: handlers are short, and it keeps persistence simple.
        self._state_lock = threading.RLock()
        self._servers: dict[str, Any] = {}   # HttpServer or GrpcServer: both have url, stop()
        self._load()

    @classmethod
    def start(cls, services: Iterable[str] | None = DEFAULT_SERVICES,
              state_path: str | Path | None = None, latency: float = 0.0) -> Emulator:
        emulator = cls(services=services or DEFAULT_SERVICES, state_path=state_path,
                       latency=latency)
        emulator._serve()
        return emulator

    def _serve(self) -> None:
        for name, service in self.services.items():
            self._servers[name] = (self._grpc_server_for(service) if _is_grpc(service)
                                   else HttpServer(self._front_for(service)))
        control = ControlService(self)
        self._servers["control"] = HttpServer(control.dispatch)

    @property
    def endpoints(self) -> dict[str, str]:
        return {name: server.url for name, server in self._servers.items()}

    @property
    def journal(self) -> list[JournalEntry]:
        return self._journal.entries()

    def mutating_requests(self, service: str | None = None) -> list[JournalEntry]:
        return [entry for entry in self.journal
                if entry.mutating and (service is None or entry.service == service)]

    def clear_journal(self) -> None:
        self._journal.clear()

    def set_faults(self, rate: float = 0.3, statuses: Iterable[int] = (503, 429), seed: int = 1,
                   phase: str = "random", methods: Iterable[str] | None = None,
                   services: Iterable[str] | None = None, resets: bool = True) -> None:
        self._faults.configure(rate=rate, statuses=statuses, seed=seed, phase=phase,
                               methods=methods, services=services, resets=resets)

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        self._latency = seconds

    def set_operation_duration(self, seconds: float) -> None:
        """How long long-running operations take from now on (process-wide; see operations.py)."""
        from mlops_infra.emulator import operations

        operations.set_operation_duration(seconds)

    def set_iam_propagation_delay(self, seconds: float) -> None:
        """For ``seconds`` after creation a service account "does not exist" for IAM bindings."""
        if "iam" in self.services:
            self.services["iam"].propagation_delay = float(seconds)  # type: ignore[attr-defined]

    def member_exists(self, member: str) -> bool:
        """Whether IAM bindings may name ``member`` (services validating policies call this).

        Without the ``iam`` service every member is taken as existing."""
        iam = self.services.get("iam")
        if iam is None:
            return True
        with self._state_lock:
            return bool(iam.member_exists(member))  # type: ignore[attr-defined]

    def state(self, service: str) -> Any:
        """A deep copy of one service's state (for debugging and tests)."""
        import copy

        with self._state_lock:
            return copy.deepcopy(self.services[service].state)

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request path -------------------------------------------------------------------
    def _grpc_server_for(self, service: Service) -> Any:
        from mlops_infra.emulator.grpc_server import GrpcServer, RpcFront

        return GrpcServer(RpcFront(service, journal=self._journal,  # type: ignore[arg-type]
                                   faults=self._faults, state_lock=self._state_lock,
                                   save=self._save, latency=lambda: self._latency))

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
            ts=time.time(), fault=fault.phase if fault else None))
        return response

    def _process(self, service: Service, request: Request) -> Response:
        with self._state_lock:
            response = service.dispatch(request)
            if request.method not in READ_METHODS:
                self._save()
            return response

    # -- persistence --------------------------------------------------------------------
    def _load(self) -> None:
        if self.state_path is None:
            return
        for name, state in persistence.load_states(self.state_path).items():
            if name in self.services:
                self.services[name].load_state(state)

    def _save(self) -> None:
        if self.state_path is None:
            return
        persistence.save_states(self.state_path,
                                {name: s.state for name, s in self.services.items()})


def _is_grpc(service: Service) -> bool:
    # Checked by attribute so HTTP-only runs never import grpc.
    return bool(getattr(service, "full_name", ""))


def _fault_response(fault: Fault) -> Response | None:
    if fault.status == RESET:
        return None
    error = HttpError(fault.status, f"Injected fault ({fault.phase} processing)")
    return Response.of_json(error.body(), status=fault.status)
