"""The control API (its own port): journal, faults, latency and the realism knobs as JSON over
HTTP.

For people poking at a running emulator and for tests that drive it from another process.
Requests to it are never journaled, delayed or failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service, guarded

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
            Route("PUT", "/journal/bodies", self._record_bodies),
            Route("PUT", "/faults", self._set_faults),
            Route("DELETE", "/faults", self._clear_faults),
            Route("PUT", "/latency", self._seconds(self._emulator.set_latency)),
            Route("GET", "/delays", lambda _: self._emulator.delays.to_json()),
            Route("PUT", "/delays", self._set_delays),
            Route("PUT", "/operation-duration",
                  self._seconds(self._emulator.set_operation_duration)),
            Route("PUT", "/iam-propagation",
                  self._seconds(self._emulator.set_iam_propagation_delay)),
            Route("PUT", "/enabled-apis", self._enable_apis),
            Route("GET", "/workload-pools",
                  lambda _: {"pools": self._emulator.platform.workload_pools()}),
            Route("PUT", "/workload-pools", self._add_workload_pool),
            Route("GET", "/endpoints", lambda _: dict(self._emulator.endpoints)),
        ]

    def answer(self, request: Request) -> Response:
        """What the control server answers (its routes never defer)."""
        response = self.dispatch(request)
        assert isinstance(response, Response)
        return response

    def _get_journal(self, request: Request) -> Response:
        return Response.of_json([entry.to_json() for entry in self._emulator.journal])

    def _clear_journal(self, request: Request) -> Response:
        self._emulator.clear_journal()
        return Response.no_content()

    def _record_bodies(self, request: Request) -> Response:
        on = _object_body(request).get("on")
        if not isinstance(on, bool):
            raise HttpError(400, 'body must be {"on": true|false}')
        self._emulator.record_bodies(on)
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

    def _set_delays(self, request: Request) -> Response:
        try:
            self._emulator.set_delays(**_object_body(request))
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from None
        return Response.of_json(self._emulator.delays.to_json())

    def _enable_apis(self, request: Request) -> Response:
        body = _object_body(request)
        project, apis = body.get("project"), body.get("apis")
        if not isinstance(project, str) or not isinstance(apis, list) or \
                not all(isinstance(a, str) for a in apis):
            raise HttpError(400, 'body must be {"project": "p", "apis": ["compute.googleapis.com"]}')
        self._emulator.enable_apis(project, apis)
        return Response.no_content()

    def _add_workload_pool(self, request: Request) -> Response:
        pool = _object_body(request).get("pool")
        if not isinstance(pool, str):
            raise HttpError(400, 'body must be {"pool": "PROJECT.svc.id.goog"} (or a project id)')
        try:
            added = self._emulator.add_workload_pool(pool)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        return Response.of_json({"pool": added})

    @staticmethod
    def _seconds(setter: Callable[[float], None]) -> Callable[[Request], Response]:
        def route(request: Request) -> Response:
            seconds = _object_body(request).get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise HttpError(400, "body must be {\"seconds\": <non-negative number>}")
            setter(float(seconds))
            return Response.no_content()

        return route


def _object_body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "the body must be a JSON object")
    return body


__all__ = ["ControlService", "guarded"]
