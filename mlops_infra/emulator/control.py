"""The control API (its own port): journal, faults and latency as JSON over HTTP.

For people poking at a running emulator and for tests that drive it from another process.
Requests to it are never journaled, delayed or failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service

if TYPE_CHECKING:
    from mlops_infra.emulator.emulator import Emulator

_FAULT_KEYS = ("rate", "statuses", "seed", "phase", "methods", "services", "resets")


class ControlService(Service):
    """Routes that expose an ``Emulator``'s knobs."""

    name = "control"

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self._emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/journal", self._get_journal),
            Route("DELETE", "/journal", self._clear_journal),
            Route("PUT", "/faults", self._set_faults),
            Route("DELETE", "/faults", self._clear_faults),
            Route("PUT", "/latency", self._set_latency),
            Route("PUT", "/iam-propagation", self._set_iam_propagation),
            Route("GET", "/endpoints", lambda _: dict(self._emulator.endpoints)),
        ]

    def _get_journal(self, request: Request) -> Response:
        return Response.of_json([entry.to_json() for entry in self._emulator.journal])

    def _clear_journal(self, request: Request) -> Response:
        self._emulator.clear_journal()
        return Response.no_content()

    def _set_faults(self, request: Request) -> Response:
        body = _object_body(request)
        unknown = sorted(set(body) - set(_FAULT_KEYS))
        if unknown:
            raise HttpError(400, f"unknown fault settings: {', '.join(unknown)}")
        try:
            self._emulator.set_faults(**body)
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from None
        return Response.no_content()

    def _clear_faults(self, request: Request) -> Response:
        self._emulator.clear_faults()
        return Response.no_content()

    def _set_latency(self, request: Request) -> Response:
        seconds = _object_body(request).get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise HttpError(400, "body must be {\"seconds\": <non-negative number>}")
        self._emulator.set_latency(float(seconds))
        return Response.no_content()

    def _set_iam_propagation(self, request: Request) -> Response:
        seconds = _object_body(request).get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise HttpError(400, "body must be {\"seconds\": <non-negative number>}")
        self._emulator.set_iam_propagation_delay(float(seconds))
        return Response.no_content()


def _object_body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "the body must be a JSON object")
    return body
