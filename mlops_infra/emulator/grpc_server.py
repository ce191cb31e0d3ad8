"""gRPC plumbing: one insecure gRPC server per ``GrpcService`` on 127.0.0.1, ephemeral port.

``RpcFront`` gives RPCs what ``Emulator._handle`` gives HTTP requests: latency, seeded
faults (an injected 503/429/500 becomes UNAVAILABLE/RESOURCE_EXHAUSTED/INTERNAL; a
"reset" becomes UNAVAILABLE and is journaled with status 0), the journal, the shared
state lock and persistence after mutating RPCs. A handler answering ``core.Deferred`` is
finished after its time, outside the state lock (other RPCs go on meanwhile). A service may
serve several gRPC service names (each ``Rpc`` says which). ``GrpcServer.url`` is
``127.0.0.1:PORT`` (a gRPC target, no scheme): what ``grpc.insecure_channel`` takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import grpc

from mlops_infra.emulator.core import Deferred, HttpError
from mlops_infra.emulator.faults import RESET, Fault, FaultInjector
from mlops_infra.emulator.grpc_core import (
    RPC_METHOD,
    GrpcService,
    Rpc,
    RpcError,
    from_http_error,
    grpc_code,
    http_status,
    is_read_rpc,
)
from mlops_infra.emulator.journal import Journal, JournalEntry

_WORKERS = 16
_MAX_DEFERRAL = 600.0


class RpcFront:
    """Runs one RPC the way the emulator runs every request (latency, faults, journal, lock)."""

    def __init__(self, service: GrpcService, *, journal: Journal, faults: FaultInjector,
                 hold: Callable[..., AbstractContextManager[None]],
                 latency: Callable[[], float],
                 recording: Callable[[], bool] = lambda: False) -> None:
        self.service = service
        self._journal, self._faults, self._hold = journal, faults, hold
        self._latency, self._recording = latency, recording

    def call(self, rpc: Rpc, request: Any, context: grpc.ServicerContext) -> Any:
        delay = self._latency()
        if delay > 0:
            time.sleep(delay)
        fault = self._faults.decide(service=self.service.name, method=RPC_METHOD)
        result: Any = None
        error: RpcError | None = None
        if fault is None or fault.phase == "after":
            result, error = self._process(rpc, request)
        if fault is not None:
            error = _fault_error(fault)
        self._record(rpc, request, result, error, fault)
        if error is not None:
            _abort(context, error)
        return result

    def _process(self, rpc: Rpc, request: Any) -> tuple[Any, RpcError | None]:
        result, error = self._locked(rpc, lambda: self._first(rpc, request))
        while error is None and isinstance(result, Deferred):
            time.sleep(max(0.0, min(result.until - time.time(), _MAX_DEFERRAL)))
            result, error = self._locked(rpc, result.then)
        return result, error

    def _first(self, rpc: Rpc, request: Any) -> Any:
        self._gate(rpc, request)
        return rpc.handler(request)

    def _locked(self, rpc: Rpc, run: Callable[[], Any]) -> tuple[Any, RpcError | None]:
        with self._hold(mutating=not is_read_rpc(rpc.name)):
            try:
                return run(), None
            except RpcError as err:
                return None, err
            except HttpError as err:
                return None, from_http_error(err)
            except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
                return None, RpcError(grpc.StatusCode.INTERNAL,
                                      f"emulator error: {type(exc).__name__}: {exc}")

    def _gate(self, rpc: Rpc, request: Any) -> None:
        emulator = getattr(self.service, "emulator", None)
        if emulator is not None:
            emulator.check_api(self.service, self.service.project_of_rpc(rpc.name, request))

    def _record(self, rpc: Rpc, request: Any, result: Any, error: RpcError | None,
                fault: Fault | None) -> None:
        if fault is not None and fault.status == RESET:
            status = RESET
        else:
            status = http_status(error.code) if error else 200
        bodies: dict[str, Any] = {}
        if self._recording():
            bodies = {"request": _message_json(request),
                      "response": error.to_json() if error else _message_json(result)}
        self._journal.append(JournalEntry(
            service=self.service.name, method=RPC_METHOD,
            path=self.service.rpc_path(rpc.name, rpc.service),
            query={}, status=status, ts=time.time(), fault=fault.phase if fault else None,
            **bodies))


def _message_json(message: Any) -> Any:
    """A protobuf or proto-plus message as its JSON form (``None`` for anything else)."""
    from google.protobuf import json_format
    from google.protobuf.message import Message

    raw = getattr(type(message), "pb", None)
    pb = raw(message) if callable(raw) and not isinstance(message, Message) else message
    return json_format.MessageToDict(pb) if isinstance(pb, Message) else None


def _abort(context: grpc.ServicerContext, error: RpcError) -> None:
    """End the call with ``error``; details go in ``grpc-status-details-bin`` as a Status."""
    if not error.details:
        context.abort(error.code, error.message)
    from google.protobuf import any_pb2, json_format
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401 - registers detail types
    from grpc_status import rpc_status

    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    for detail in error.details:
        status.details.append(json_format.ParseDict(detail, any_pb2.Any()))
    context.abort_with_status(rpc_status.to_status(status))


def _fault_error(fault: Fault) -> RpcError:
    what = "connection reset" if fault.status == RESET else "Injected fault"
    return RpcError(grpc_code(fault.status), f"{what} ({fault.phase} processing)")


class GrpcServer:
    """A running insecure gRPC server for one service; ``url`` is ``127.0.0.1:PORT``."""

    def __init__(self, front: RpcFront) -> None:
        self._server = grpc.server(ThreadPoolExecutor(max_workers=_WORKERS,
                                                      thread_name_prefix="emulator-grpc"))
        service = front.service
        by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for rpc in service.rpcs():
            by_service.setdefault(rpc.service or service.full_name, {})[rpc.name] = \
                _method_handler(front, rpc)
        self._server.add_generic_rpc_handlers(tuple(
            grpc.method_handlers_generic_handler(name, handlers)
            for name, handlers in by_service.items()))
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self._port}"

    def stop(self) -> None:
        self._server.stop(grace=None).wait()


def _method_handler(front: RpcFront, rpc: Rpc) -> grpc.RpcMethodHandler:
    def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
        return front.call(rpc, request, context)

    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=rpc.deserialize, response_serializer=rpc.serialize)
