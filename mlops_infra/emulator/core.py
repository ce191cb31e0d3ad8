"""The emulator's building blocks: a request, a response, an API error and a Service.

A ``Service`` is a name, a route table of ``(HTTP method, path template, handler)`` and a
JSON-serialisable ``state`` dict. Handlers receive a parsed ``Request`` and return a
``Response`` (or a dict, sent as JSON 200) or raise ``HttpError``. The HTTP plumbing lives
in ``server.py``; this module knows nothing about sockets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
}
_DEFAULT_REASONS = {
    400: "invalid", 403: "forbidden", 404: "notFound", 409: "conflict", 412: "conditionNotMet",
    429: "rateLimitExceeded", 500: "backendError", 501: "notImplemented", 503: "backendError",
}


class HttpError(Exception):
    """An API error, rendered in Google's JSON error shape."""

    def __init__(self, code: int, message: str, *, reason: str | None = None,
                 status: str | None = None, domain: str = "global",
                 details: list[dict[str, Any]] | None = None,
                 extended_help: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _DEFAULT_REASONS.get(code, "error")
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.domain = domain
        self.details = details or []          # google.rpc.Status details (ErrorInfo, Help, ...)
        self.extended_help = extended_help

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"reason": self.reason, "message": self.message,
                                "domain": self.domain}
        if self.extended_help:
            item["extendedHelp"] = self.extended_help
        error: dict[str, Any] = {"code": self.code, "message": self.message,
                                 "status": self.status, "errors": [item]}
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass
class Request:
    """One parsed HTTP request as a handler sees it."""

    method: str
    path: str                       # raw (still percent-encoded) path, no query
    query: dict[str, str]           # last value wins
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)   # path parameters, decoded
    base_url: str = ""              # "http://host:port" as the client addressed us

    def json(self) -> Any:
        """The body as JSON; an empty body is ``{}``; bad JSON is a 400."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(400, "Parse Error: the request body is not valid JSON",
                            reason="parseError") from None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass
class Response:
    """What a handler answers: status, headers and a body of bytes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, value: Any, *, status: int = 200) -> Response:
        return cls(status=status, body=json.dumps(value).encode(),
                   headers={"Content-Type": "application/json; charset=UTF-8"})

    @classmethod
    def no_content(cls) -> Response:
        return cls(status=204)


@dataclass(frozen=True)
class Deferred:
    """A handler's answer "ask me again at ``until``": the emulator waits outside its state lock
    (so other requests go on) and then answers what ``then()`` gives (blocking ``wait`` routes)."""

    until: float
    then: Callable[[], Response | dict[str, Any]]


Handler = Callable[[Request], "Response | dict[str, Any] | Deferred"]


@dataclass(frozen=True)
class Route:
    """A method and a path template such as ``/storage/v1/b/{bucket}/o/{object}``."""

    method: str
    template: str
    handler: Handler

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        want, got = self.template.split("/"), path.split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for pattern, segment in zip(want, got):
            if pattern.startswith("{") and "}" in pattern:
                # ``{name}`` or ``{name}:verb`` (a custom method, as in ``keys/{key}:destroy``)
                name, _, verb = pattern[1:].partition("}")
                value = unquote(segment)
                if len(value) <= len(verb) or not value.endswith(verb):
                    return None
                params[name] = value[:len(value) - len(verb)]
            elif pattern != segment:
                return None
        return params


class Service:
    """A named API: a route table and a JSON-serialisable state dict.

    ``api`` is the Google service a project must have enabled to call it (the emulator answers
    403 SERVICE_DISABLED otherwise) and ``project_of`` says which project a request is for;
    ``emulator`` is the owning ``Emulator`` once it adopts the service (``None`` standalone).
    """

    name: str = ""
    api: str = ""
    api_title: str = ""
    emulator: Any = None

    def __init__(self) -> None:
        self.state: dict[str, Any] = self.initial_state()

    def project_of(self, request: Request) -> str | None:
        """The project ``request`` acts in (its path parameters are parsed); ``None``: no check."""
        return None

    def gate(self, request: Request) -> None:
        """403 SERVICE_DISABLED when this API is not usable in the request's project."""
        if self.emulator is not None and self.api:
            self.emulator.check_api(self, self.project_of(request))

    def initial_state(self) -> dict[str, Any]:
        return {}

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @cached_property
    def route_table(self) -> list[Route]:
        return self.routes()

    def load_state(self, state: dict[str, Any]) -> None:
        self.state = state

    def dispatch(self, request: Request) -> Response | Deferred:
        """Find the route, run its handler, turn errors into Google-shaped JSON."""
        return guarded(lambda: self._route(request))

    def _route(self, request: Request) -> Response | dict[str, Any] | Deferred:
        for route in self.route_table:
            params = route.match(request.method, request.path)
            if params is not None:
                request.params = params
                self.gate(request)
                return route.handler(request)
        raise HttpError(404, f"No such API method: {request.method} {request.path}")


def guarded(run: Callable[[], Response | dict[str, Any] | Deferred]) -> Response | Deferred:
    """``run()`` as a Response (a dict is JSON 200); ``HttpError`` and bugs in Google's shape."""
    try:
        value = run()
        return value if isinstance(value, (Response, Deferred)) else Response.of_json(value)
    except HttpError as err:
        return Response.of_json(err.body(), status=err.code)
    except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer HTTP
        bug = HttpError(500, f"emulator error: {type(exc).__name__}: {exc}")
        return Response.of_json(bug.body(), status=500)
