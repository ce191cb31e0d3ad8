"""The emulator's building blocks for APIs the client libraries only speak over gRPC.

A ``GrpcService`` is a ``core.Service`` (name, JSON-serialisable ``state``, persistence)
whose API is a table of unary ``Rpc``s instead of HTTP routes. Handlers receive the
deserialised request message and return the response message, or raise ``RpcError``
(a gRPC status code and message), or answer ``core.Deferred`` (finish later, outside the
state lock: an edit that takes time). One service may serve several gRPC services of one
API (Monitoring's alert policies, channels, uptime checks and metrics): an ``Rpc`` names its
gRPC service when it is not the ``full_name``. The socket side lives in ``grpc_server.py``.

``client_methods(transport)`` reads a GAPIC client's method table from the installed library
(request and response classes of every RPC its gRPC transport calls), so a service's table
is Google's own and cannot drift from the client (research/clients.md, "Emulator building
aid"); ``table_rpcs`` pairs it with the handlers a service implements.

Journal entries of RPCs use ``method="RPC"`` and ``path="/<full service name>/<Rpc>"``;
their ``status`` is the HTTP equivalent of the gRPC code (200, 404, 409, ...), so journal
readers need not know the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from mlops_infra.emulator.core import Route, Service
from mlops_infra.emulator.journal import READ_RPC_PREFIXES, RPC_METHOD

__all__ = ["RPC_METHOD", "ClientMethod", "GrpcService", "Rpc", "RpcError", "client_methods",
           "grpc_code", "http_status", "is_read_rpc", "table_rpcs"]

# gRPC code -> the HTTP status Google documents for it (google.rpc.Code).
_HTTP_OF_CODE = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500, grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# An injected HTTP fault status -> the gRPC code a client would see instead.
_CODE_OF_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL, 501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE, 503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status equivalent to a gRPC code (what the journal records)."""
    return _HTTP_OF_CODE.get(code, 500)


def grpc_code(status: int) -> grpc.StatusCode:
    """The gRPC code standing for an injected HTTP status; a reset (0) is ``UNAVAILABLE``."""
    return _CODE_OF_HTTP.get(status, grpc.StatusCode.UNAVAILABLE)


def is_read_rpc(name: str) -> bool:
    return name.startswith(READ_RPC_PREFIXES)


class RpcError(Exception):
    """An API error answered as a gRPC status; ``details`` are google.rpc.Status details in
    their JSON form (``{"@type": "type.googleapis.com/google.rpc.ErrorInfo", ...}``), sent in
    the ``grpc-status-details-bin`` trailer as Google does."""

    def __init__(self, code: grpc.StatusCode, message: str, *,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.name, "message": self.message, "details": self.details}


_CODE_OF_STATUS_NAME = {code.name: code for code in grpc.StatusCode}


def from_http_error(error: Any) -> RpcError:
    """The gRPC form of an ``HttpError`` (same canonical status, message and details)."""
    code = _CODE_OF_STATUS_NAME.get(error.status, grpc_code(error.code))
    return RpcError(code, error.message, details=list(error.details))


@dataclass(frozen=True)
class Rpc:
    """One unary method: its name, how to read its request and write its response, and the
    gRPC service it belongs to (``""``: the ``GrpcService.full_name``)."""

    name: str
    deserialize: Callable[[bytes], Any]
    serialize: Callable[[Any], bytes]
    handler: Callable[[Any], Any]
    service: str = ""


@dataclass(frozen=True)
class ClientMethod:
    """One RPC as an installed GAPIC client calls it."""

    service: str               # google.monitoring.v3.AlertPolicyService
    name: str                  # CreateAlertPolicy
    request: type
    response: type

    def rpc(self, handler: Callable[[Any], Any]) -> Rpc:
        return Rpc(self.name, _reader(self.request), _writer(self.response), handler,
                   service=self.service)


def client_methods(transport: type) -> dict[str, ClientMethod]:
    """Every unary RPC ``transport`` (a GAPIC ``...GrpcTransport`` class) calls, by RPC name.

    The transport is built on a recording channel and each stub property is touched: the
    stubs name the method path and its (de)serialisers. It relies on the transport's private
    ``_logged_channel``/``_stubs`` (google-api-core GAPIC layout), which
    ``tests/emulator/test_grpc_tables.py`` checks against every installed client.
    """
    recorder = _RecordingChannel()
    instance = transport(channel=recorder)
    instance._logged_channel = recorder
    instance._stubs = {}
    for name, member in vars(transport).items():
        if isinstance(member, property) and not name.startswith("_") and name != "kind":
            try:
                getattr(instance, name)
            except Exception:  # noqa: BLE001,S112 - a property that is not a stub
                continue
    return recorder.methods


class _RecordingChannel(grpc.Channel):
    """A ``grpc.Channel`` that only records the unary methods asked of it."""

    def __init__(self) -> None:
        self.methods: dict[str, ClientMethod] = {}

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None, *args: Any, **kwargs: Any) -> Any:
        service, _, name = method.strip("/").rpartition("/")
        self.methods[name] = ClientMethod(service, name, _owner(request_serializer),
                                          _owner(response_deserializer))
        return None

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return None

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return None

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return None

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        return None

    def unsubscribe(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None


def _owner(function: Any) -> type:
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, type):
        raise TypeError(f"cannot tell the message class of {function!r}")
    return owner


def _reader(cls: type) -> Callable[[bytes], Any]:
    return cls.deserialize if hasattr(cls, "deserialize") else cls.FromString  # type: ignore[attr-defined,no-any-return]


def _writer(cls: type) -> Callable[[Any], bytes]:
    if hasattr(cls, "serialize"):
        return cls.serialize  # type: ignore[attr-defined,no-any-return]
    return lambda message: message.SerializeToString()  # type: ignore[no-any-return]


def table_rpcs(tables: list[dict[str, ClientMethod]],
               handlers: dict[str, Callable[[Any], Any]]) -> list[Rpc]:
    """An ``Rpc`` per handler, typed by the client tables; a handler the clients do not know
    is a bug (``KeyError``)."""
    methods: dict[str, ClientMethod] = {}
    for table in tables:
        methods.update(table)
    missing = sorted(set(handlers) - set(methods))
    if missing:
        raise KeyError(f"no installed client calls {', '.join(missing)}")
    return [methods[name].rpc(handler) for name, handler in handlers.items()]


class GrpcService(Service):
    """A named gRPC API (``full_name`` like ``google.iam.admin.v1.IAM``) with a state dict."""

    full_name: str = ""

    def routes(self) -> list[Route]:
        return []   # no HTTP surface

    def rpcs(self) -> list[Rpc]:
        raise NotImplementedError

    def rpc_path(self, rpc: str, service: str = "") -> str:
        return f"/{service or self.full_name}/{rpc}"

    def project_of_rpc(self, rpc: str, request: Any) -> str | None:
        """The project an RPC acts in (for the API-enablement gate); ``None``: no check."""
        return None
