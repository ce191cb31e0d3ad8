"""The emulator's building blocks for APIs the client libraries only speak over gRPC.

A ``GrpcService`` is a ``core.Service`` (name, JSON-serialisable ``state``, persistence)
whose API is a table of unary ``Rpc``s instead of HTTP routes. Handlers receive the
deserialised request message and return the response message, or raise ``RpcError``
(a gRPC status code and message). The socket side lives in ``grpc_server.py``.

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

__all__ = ["RPC_METHOD", "GrpcService", "Rpc", "RpcError", "grpc_code", "http_status", "is_read_rpc"]

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
    """One unary method: its name, how to read its request and write its response."""

    name: str
    deserialize: Callable[[bytes], Any]
    serialize: Callable[[Any], bytes]
    handler: Callable[[Any], Any]


class GrpcService(Service):
    """A named gRPC API (``full_name`` like ``google.iam.admin.v1.IAM``) with a state dict."""

    full_name: str = ""

    def routes(self) -> list[Route]:
        return []   # no HTTP surface

    def rpcs(self) -> list[Rpc]:
        raise NotImplementedError

    def rpc_path(self, rpc: str) -> str:
        return f"/{self.full_name}/{rpc}"

    def project_of_rpc(self, rpc: str, request: Any) -> str | None:
        """The project an RPC acts in (for the API-enablement gate); ``None``: no check."""
        return None
